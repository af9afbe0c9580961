"""What every node process shares: its config, logging, its event log, the ready signal.

A node runs as `python -m lab.nodes.<role> --config FILE`; FILE is JSON written by the
runtime into the run directory (bind-mounted at the same path inside the container):

    {"node": "hms-initial", "role": "hms", "lab": "intranet", "run_dir": "/run/hnblab",
     "events": "/run/hnblab/events/hms-initial.jsonl", "addresses": {"mno": "10.0.0.10"},
     "settings": {...role settings from the topology...}, "topology": {...resolved facts...}}

A node never knows it is in a lab: it only reads this file. In-process tests build the same
dict by hand.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.evidence.events import EventLog


@dataclass
class NodeConfig:
    node: str
    role: str
    run_dir: Path
    events_path: Path | None
    addresses: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NodeConfig:
        missing = [k for k in ("node", "role") if k not in d]
        if missing:
            raise ValueError(f"node config: missing field(s) {', '.join(missing)}")
        run_dir = Path(d.get("run_dir", "."))
        ev = d.get("events")
        return cls(node=d["node"], role=d["role"], run_dir=run_dir,
                   events_path=Path(ev) if ev else None,
                   addresses=dict(d.get("addresses") or {}),
                   settings=dict(d.get("settings") or {}), raw=d)

    def events(self) -> EventLog:
        return EventLog(self.node, self.events_path)


def load_config(argv: list[str] | None = None) -> NodeConfig:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True, help="node config JSON")
    args = ap.parse_args(argv)
    path = Path(args.config)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        sys.exit(f"{path}: cannot read node config: {exc}")
    try:
        return NodeConfig.from_dict(data)
    except ValueError as exc:
        sys.exit(f"{path}: {exc}")


class SecondCachedFormatter(logging.Formatter):
    """logging.Formatter's very lines, the date and time of %(asctime)s formatted once per
    second instead of once per line (a node logs every message it sees or sends: the HMS
    six lines per CWMP session)."""

    _cache: tuple[int, str] = (-1, "")  # (second, its strftime), replaced whole: threads

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt:
            return super().formatTime(record, datefmt)
        second, stamp = self._cache
        if int(record.created) != second:
            stamp = time.strftime(self.default_time_format, self.converter(record.created))
            self._cache = (int(record.created), stamp)
        return self.default_msec_format % (stamp, record.msecs)


def setup_logging(node: str, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(SecondCachedFormatter(
        f"%(asctime)s {node} %(name)s %(levelname)s %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])
    # the format prints no caller, thread or process: skip looking them up per line
    # (the logging HOWTO's "Optimization")
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False


def signal_ready(events: EventLog, **fields: Any) -> None:
    """The runtime waits for this event in the node's events file."""
    events.emit("node.ready", "ready", **fields)
