"""The parameter table (lab/datamodel/hnb_params.yaml) against the Broadband Forum XML.

The full XML files name objects in two ways: tr-181 (Device:2.17) spells full paths
("Device.IPsec.IKEv2SA.{i}."); tr-196 (FAPService:2.1, isService="true") spells them from
the service root ("FAPService.{i}.CellConfig.") with model-level parameters
("FAPServiceNumberOfEntries") that live in the object mounting the service:
Device.Services. Named data types (URL, IPAddress, Alias, ...) are resolved through their
base chain to a primitive type and its facets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from lab.datamodel.schema import default_schema

BBF = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "bbf"
PRIMITIVES = {"string", "int", "unsignedInt", "long", "unsignedLong", "boolean", "dateTime",
              "base64", "hexBinary", "decimal"}
# Tables TR-181 defines readWrite that this device implements readOnly (documented in
# hnb_params.yaml). Parameter access is never narrowed.
NARROWED_OBJECTS = {"Device.IP.Interface.{i}.", "Device.IP.Interface.{i}.IPv4Address.{i}."}


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname


class _Facets:
    def __init__(self) -> None:
        self.type: str | None = None
        self.data_type: str | None = None
        self.enum: list[str] = []
        self.ranges: list[tuple[int | None, int | None]] = []
        self.min_length: int | None = None
        self.max_length: int | None = None
        self.patterns: list[str] = []
        self.list: dict[str, int] | None = None
        self.factory_default: str | None = None

    def absorb(self, el: etree._Element) -> None:
        for s in el:
            tag = _local(s)
            if tag == "enumeration":
                self.enum.append(s.get("value"))
            elif tag == "range":
                lo, hi = s.get("minInclusive"), s.get("maxInclusive")
                self.ranges.append((None if lo is None else int(lo),
                                    None if hi is None else int(hi)))
            elif tag == "size":
                if s.get("minLength") is not None:
                    self.min_length = int(s.get("minLength"))
                if s.get("maxLength") is not None:
                    self.max_length = int(s.get("maxLength"))
            elif tag == "pattern":
                self.patterns.append(s.get("value"))


def _resolve_data_type(types: dict[str, etree._Element], name: str, f: _Facets) -> None:
    d = types[name]
    if d.get("base"):
        _resolve_data_type(types, d.get("base"), f)
    for c in d:
        tag = _local(c)
        if tag in PRIMITIVES:
            f.type = tag
            f.absorb(c)
        elif tag in ("size", "pattern", "range", "enumeration"):
            f.absorb([c])


def _param(types: dict[str, etree._Element], p: etree._Element) -> dict[str, Any]:
    syntax = p.find("{*}syntax")
    f = _Facets()
    for c in syntax:
        tag = _local(c)
        if tag == "default":
            if c.get("type") == "factory":
                f.factory_default = c.get("value")
        elif tag == "list":
            f.list = {k: int(v) for k, v in c.attrib.items() if v.isdigit()}
            for s in c:
                if _local(s) == "size" and s.get("maxLength"):
                    f.list["maxLength"] = int(s.get("maxLength"))
        elif tag == "dataType":
            f.data_type = c.get("ref") or c.get("base")
            _resolve_data_type(types, f.data_type, f)
            f.absorb(c)
        elif tag in PRIMITIVES:
            f.type = tag
            f.absorb(c)
    return {
        "kind": "param", "facets": f, "access": p.get("access"),
        "active_notify": p.get("activeNotify", "normal"),
        "forced_inform": p.get("forcedInform") == "true",
        "hidden": syntax.get("hidden") == "true",
    }


@pytest.fixture(scope="module")
def bbf() -> dict[str, dict[str, Any]]:
    """{full path: definition} from tr-181 and tr-196."""
    assert BBF.is_dir(), f"BBF reference models not found at {BBF}"
    docs = [("tr-181-2-17-0-cwmp-full.xml", "Device."),
            ("tr-196-2-1-2-cwmp-full.xml", "Device.Services.")]
    roots = [(etree.parse(str(BBF / name)).getroot(), prefix) for name, prefix in docs]
    types: dict[str, etree._Element] = {}
    for root, _ in roots:
        types.update({d.get("name"): d for d in root.findall("{*}dataType")})
    out: dict[str, dict[str, Any]] = {}
    for root, prefix in roots:
        for model in root.iter("{*}model"):
            for p in model.findall("{*}parameter"):  # service-level, e.g. FAPServiceNumberOfEntries
                out[prefix + p.get("name")] = _param(types, p)
            for obj in model.findall("{*}object"):
                name = obj.get("name")
                full = name if name.startswith("Device.") else prefix + name
                out[full] = {"kind": "object", "access": obj.get("access"),
                             "max": obj.get("maxEntries"),
                             "num_entries": obj.get("numEntriesParameter")}
                for p in obj.findall("{*}parameter"):
                    out[full + p.get("name")] = _param(types, p)
    return out


SCHEMA = default_schema()


@pytest.mark.parametrize("path", list(SCHEMA.params))
def test_parameter_matches_bbf(bbf: dict[str, dict[str, Any]], path: str) -> None:
    mine = SCHEMA.params[path]
    ref = bbf.get(path)
    assert ref is not None and ref["kind"] == "param", f"{path} is not in the BBF models"
    f: _Facets = ref["facets"]
    assert mine.type == f.type, "type"
    assert mine.access == ref["access"], "access (writability)"
    assert mine.data_type == f.data_type, "named data type"
    assert list(mine.enum) == f.enum, "enumeration"
    assert [tuple(r) for r in mine.ranges] == f.ranges, "ranges"
    assert mine.min_length == f.min_length, "minLength"
    assert mine.max_length == f.max_length, "maxLength"
    assert list(mine.patterns) == f.patterns, "patterns"
    assert mine.hidden == ref["hidden"], "hidden"
    assert mine.active_notify == ref["active_notify"], "activeNotify"
    assert mine.forced_inform == ref["forced_inform"], "forcedInform"
    assert mine.is_list == (f.list is not None), "list"
    if f.list is not None:
        assert mine.list_min_items == f.list.get("minItems")
        assert mine.list_max_items == f.list.get("maxItems")
        assert mine.list_max_length == f.list.get("maxLength")
    if f.factory_default is not None:
        assert mine.default == f.factory_default, "factory default"


@pytest.mark.parametrize("path", list(SCHEMA.objects))
def test_object_matches_bbf(bbf: dict[str, dict[str, Any]], path: str) -> None:
    mine = SCHEMA.objects[path]
    ref = bbf.get(path)
    assert ref is not None and ref["kind"] == "object", f"{path} is not in the BBF models"
    if path in NARROWED_OBJECTS:
        assert (ref["access"], mine.access) == ("readWrite", "readOnly")
    else:
        assert mine.access == ref["access"], "access"
    assert mine.multi == (ref["max"] != "1"), "multi-instance"
    if mine.multi:
        assert mine.num_entries == mine.parent + ref["num_entries"]
        if ref["max"] != "unbounded" and mine.max_entries is not None:
            assert mine.max_entries <= int(ref["max"])


def test_every_forced_inform_parameter_of_an_implemented_object_is_there(
        bbf: dict[str, dict[str, Any]]) -> None:
    missing = []
    for path, ref in bbf.items():
        if ref["kind"] != "param" or not ref["forced_inform"]:
            continue
        obj = path.rsplit(".", 1)[0] + "."
        if obj in SCHEMA.objects and path not in SCHEMA.params:
            missing.append(path)
    assert missing == []


def test_the_paths_protocol_md_names_are_defined() -> None:
    fap = "Device.Services.FAPService.{i}."
    wanted = [
        "Device.DeviceInfo.Manufacturer", "Device.DeviceInfo.ManufacturerOUI",
        "Device.DeviceInfo.ProductClass", "Device.DeviceInfo.SerialNumber",
        "Device.DeviceInfo.HardwareVersion", "Device.DeviceInfo.SoftwareVersion",
        "Device.DeviceInfo.UpTime", "Device.ManagementServer.URL",
        "Device.ManagementServer.PeriodicInformEnable",
        "Device.ManagementServer.PeriodicInformInterval",
        "Device.ManagementServer.PeriodicInformTime",
        "Device.ManagementServer.ConnectionRequestURL",
        "Device.ManagementServer.ConnectionRequestUsername",
        "Device.ManagementServer.ConnectionRequestPassword",
        "Device.ManagementServer.ParameterKey", "Device.IPsec.Enable",
        "Device.IPsec.IKEv2SA.{i}.LocalAddress",
        *(f"{fap}FAPControl.UMTS.Gateway.{n}" for n in (
            "SecGWServer1", "SecGWServer2", "SecGWServer3", "FAPGWServer1", "FAPGWServer2",
            "FAPGWServer3", "FAPGWPort")),
        f"{fap}CellConfig.UMTS.CN.PLMNID", f"{fap}CellConfig.UMTS.CN.LACRAC",
        f"{fap}CellConfig.UMTS.CN.SAC", f"{fap}CellConfig.UMTS.RAN.CellID",
        f"{fap}CellConfig.UMTS.RAN.RNCID", f"{fap}CellConfig.UMTS.RAN.HNBIDRealm",
        f"{fap}AccessMgmt.UMTS.AccessMode", f"{fap}AccessMgmt.UMTS.CSGID",
        f"{fap}REM.UMTS.WCDMA.Cell.{{i}}.BCCH.PLMNID",
        f"{fap}REM.UMTS.WCDMA.Cell.{{i}}.BCCH.LAC",
        f"{fap}REM.UMTS.WCDMA.Cell.{{i}}.BCCH.CellID",
        "Device.FAP.GPS.LockedLatitude", "Device.FAP.GPS.LockedLongitude",
        *(f"Device.FaultMgmt.SupportedAlarm.{{i}}.{n}" for n in (
            "EventType", "ProbableCause", "SpecificProblem", "PerceivedSeverity",
            "ReportingMechanism")),
        *(f"Device.FaultMgmt.{t}.{{i}}.{n}"
          for t in ("HistoryEvent", "ExpeditedEvent", "QueuedEvent")
          for n in ("AlarmIdentifier", "EventTime", "NotificationType",
                    "ManagedObjectInstance", "AdditionalText", "AdditionalInformation")),
        *(f"Device.FaultMgmt.{t}NumberOfEntries" for t in (
            "SupportedAlarm", "CurrentAlarm", "HistoryEvent", "ExpeditedEvent", "QueuedEvent")),
        *(f"Device.FAP.PerfMgmt.Config.{{i}}.{n}" for n in (
            "Enable", "Alias", "URL", "Username", "Password", "PeriodicUploadInterval",
            "PeriodicUploadTime")),
    ]
    assert [p for p in wanted if p not in SCHEMA.params] == []


def test_tunnel_usage_indicator_is_not_in_device2(bbf: dict[str, dict[str, Any]]) -> None:
    # Why Device.IPsec.Enable is the IPsec usage indicator: TR-262's FAP.Tunnel object
    # (UseForCWMP) exists only as a TR-262 component; Device:2.17 has no Device.FAP.Tunnel.
    tr262 = etree.parse(str(BBF / "tr-262-1-0-0.xml")).getroot()
    tunnel = [o for o in tr262.iter("{*}object") if o.get("name") == "FAP.Tunnel."]
    assert tunnel and any(p.get("name") == "UseForCWMP" for p in tunnel[0].findall("{*}parameter"))
    assert "Device.FAP.Tunnel." not in bbf
    assert bbf["Device.IPsec.Enable"]["access"] == "readWrite"
