"""Location verification (TS 32.583 4.2.1.1, 5.1 step 5): where the HNB says it is, and
which policy rule serves that place.

Location comes from the Inform's parameters:
  GPS   Device.FAP.GPS.LockedLatitude / LockedLongitude (xsd:int, micro-degrees; a value
        with a decimal point is taken as plain degrees, for sloppy devices)
  cells Device.Services.FAPService.{i}.REM.UMTS.WCDMA.Cell.{j}.BCCH.PLMNID / LAC / CellID
        (the macro cells the HNB's radio environment scan heard)
A rule matches when every criterion it names holds: plmn/lac/cell (each a value or a
list of values) are met by one scanned cell together; lat/lon [min, max] boxes by the GPS
fix. "*" matches anything, including an HNB that reports no location.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lab.nodes.hms.settings import PolicyRule

_CELL = re.compile(
    r"Device\.Services\.FAPService\.\d+\.REM\.UMTS\.WCDMA\.Cell\.(\d+)\.BCCH\.(PLMNID|LAC|CellID)")
LAT = "Device.FAP.GPS.LockedLatitude"
LON = "Device.FAP.GPS.LockedLongitude"


@dataclass
class Location:
    lat: float | None = None
    lon: float | None = None
    cells: list[dict[str, str]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.lat is None and not self.cells

    def to_json(self) -> dict[str, Any]:
        return {"lat": self.lat, "lon": self.lon, "cells": self.cells}

    def describe(self) -> str:
        parts = []
        if self.lat is not None:
            parts.append(f"GPS {self.lat:.6f},{self.lon:.6f}")
        parts += [f"cell PLMN {c.get('plmn', '?')} LAC {c.get('lac', '?')} "
                  f"CI {c.get('cell', '?')}" for c in self.cells]
        return "; ".join(parts) or "no location parameters"


def _degrees(text: str) -> float | None:
    text = text.strip()
    try:
        return int(text) / 1e6
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return None


def location_from(params: Iterable[tuple[str, str]]) -> Location:
    loc = Location()
    cells: dict[str, dict[str, str]] = {}
    key = {"PLMNID": "plmn", "LAC": "lac", "CellID": "cell"}
    lat = lon = None
    for name, value in params:
        if name == LAT:
            lat = _degrees(value)
        elif name == LON:
            lon = _degrees(value)
        elif m := _CELL.fullmatch(name):
            cells.setdefault(m.group(1), {})[key[m.group(2)]] = value.strip()
    if lat is not None and lon is not None and not (lat == 0 and lon == 0):
        loc.lat, loc.lon = lat, lon
    loc.cells = [cells[k] for k in sorted(cells, key=int) if cells[k]]
    return loc


def _one_of(want: Any, have: str | None) -> bool:
    if have is None:
        return False
    wants = want if isinstance(want, list) else [want]
    return any(str(w).strip() == have for w in wants)


def matches(rule: PolicyRule, loc: Location) -> bool:
    m = rule.match
    if m == "*":
        return True
    assert isinstance(m, dict)
    if "lat" in m:
        if loc.lat is None or loc.lon is None:
            return False
        if not (m["lat"][0] <= loc.lat <= m["lat"][1] and m["lon"][0] <= loc.lon <= m["lon"][1]):
            return False
    cell_keys = [k for k in ("plmn", "lac", "cell") if k in m]
    if cell_keys:
        return any(all(_one_of(m[k], c.get(k)) for k in cell_keys) for c in loc.cells)
    return True


def choose(rules: list[PolicyRule], loc: Location) -> PolicyRule | None:
    """The first rule that matches, or None."""
    return next((r for r in rules if matches(r, loc)), None)
