"""The data-model paths the HMS writes, with their xsi:type (Magma-style parameter table).

Types are from TR-181 2.17 (Device.ManagementServer, Device.IPsec, Device.FaultMgmt),
TR-196 Issue 2 (Device.Services.FAPService) and TR-262 (Device.FAP.PerfMgmt, Device.FAP.GPS).
A path not in the table gets its type from the JSON value the operator gave (bool ->
xsd:boolean, int -> xsd:unsignedInt / xsd:int) or is a string.
"""

from __future__ import annotations

import re
from typing import Any

from lab.cwmp import rpc

FAP = "Device.Services.FAPService.1"
GATEWAY = f"{FAP}.FAPControl.UMTS.Gateway"

SECGW_SERVER1 = f"{GATEWAY}.SecGWServer1"
FAPGW_SERVER1 = f"{GATEWAY}.FAPGWServer1"
FAPGW_PORT = f"{GATEWAY}.FAPGWPort"
MGMT_URL = "Device.ManagementServer.URL"
CR_URL = "Device.ManagementServer.ConnectionRequestURL"
CR_USERNAME = "Device.ManagementServer.ConnectionRequestUsername"
CR_PASSWORD = "Device.ManagementServer.ConnectionRequestPassword"
# IPsec usage indicator: no public text pins it (notes/protocol.md); we use TR-181's
# Device.IPsec.Enable ("IPsec in use"), overridable in settings (provisioning.ipsec_param).
IPSEC_INDICATOR = "Device.IPsec.Enable"
PM_TABLE = "Device.FAP.PerfMgmt.Config."  # a table: AddObject makes the instance
SUPPORTED_ALARM = "Device.FaultMgmt.SupportedAlarm."

_I = r"\d+"
_TABLE: list[tuple[str, str]] = [
    (r"Device\.ManagementServer\.(URL|Username|Password|ConnectionRequestUsername|"
     r"ConnectionRequestPassword|ParameterKey)", "xsd:string"),
    (r"Device\.ManagementServer\.PeriodicInformEnable", "xsd:boolean"),
    (r"Device\.ManagementServer\.PeriodicInformInterval", "xsd:unsignedInt"),
    (r"Device\.ManagementServer\.PeriodicInformTime", "xsd:dateTime"),
    (r"Device\.IPsec\.Enable", "xsd:boolean"),
    (rf"Device\.Services\.FAPService\.{_I}\.FAPControl\.UMTS\.Gateway\.(SecGWServer[123]|"
     r"FAPGWServer[123])", "xsd:string"),
    (rf"Device\.Services\.FAPService\.{_I}\.FAPControl\.UMTS\.Gateway\.FAPGWPort",
     "xsd:unsignedInt"),
    (rf"Device\.Services\.FAPService\.{_I}\.FAPControl\.UMTS\.(AdminState|RFTxStatus)",
     "xsd:boolean"),
    (rf"Device\.Services\.FAPService\.{_I}\.CellConfig\.UMTS\.CN\.(PLMNID|LACRAC)", "xsd:string"),
    (rf"Device\.Services\.FAPService\.{_I}\.CellConfig\.UMTS\.CN\.SAC", "xsd:unsignedInt"),
    (rf"Device\.Services\.FAPService\.{_I}\.CellConfig\.UMTS\.RAN\.(CellID|RNCID)",
     "xsd:unsignedInt"),
    (rf"Device\.Services\.FAPService\.{_I}\.CellConfig\.UMTS\.RAN\.HNBIDRealm", "xsd:string"),
    (rf"Device\.Services\.FAPService\.{_I}\.AccessMgmt\.UMTS\.AccessMode", "xsd:string"),
    (rf"Device\.Services\.FAPService\.{_I}\.AccessMgmt\.UMTS\.CSGID", "xsd:unsignedInt"),
    (rf"Device\.FaultMgmt\.SupportedAlarm\.{_I}\.ReportingMechanism", "xsd:string"),
    (rf"Device\.FAP\.PerfMgmt\.Config\.{_I}\.Enable", "xsd:boolean"),
    (rf"Device\.FAP\.PerfMgmt\.Config\.{_I}\.(Alias|URL|Username|Password)", "xsd:string"),
    (rf"Device\.FAP\.PerfMgmt\.Config\.{_I}\.PeriodicUploadInterval", "xsd:unsignedInt"),
    (rf"Device\.FAP\.PerfMgmt\.Config\.{_I}\.PeriodicUploadTime", "xsd:dateTime"),
    (r".*\.Enable", "xsd:boolean"),
    (r".*NumberOfEntries", "xsd:unsignedInt"),
]
_COMPILED = [(re.compile(p), t) for p, t in _TABLE]


def known_type(name: str) -> str | None:
    for pat, t in _COMPILED:
        if pat.fullmatch(name):
            return t
    return None


def to_wire(value: Any, type_: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if type_ == "xsd:boolean" and isinstance(value, str):
        v = value.strip().lower()
        if v in ("1", "true"):
            return "true"
        if v in ("0", "false"):
            return "false"
        raise ValueError(f"{value!r} is not a boolean")
    return str(value)


def param_value(name: str, value: Any, type_: str | None = None) -> rpc.ParameterValue:
    """A ParameterValue with the right xsi:type (explicit, from the table, or from the
    JSON type of `value`). Raises ValueError naming the parameter when the value does not
    fit."""
    if not isinstance(name, str) or not name or name.endswith("."):
        raise ValueError(f"parameter name {name!r} must be a full parameter path")
    if isinstance(value, dict | list) or value is None:
        raise ValueError(f"{name}: value must be a string, number or boolean, got {value!r}")
    t = type_ or known_type(name)
    if t is None:
        if isinstance(value, bool):
            t = "xsd:boolean"
        elif isinstance(value, int):
            t = "xsd:unsignedInt" if value >= 0 else "xsd:int"
        else:
            t = "xsd:string"
    try:
        text = to_wire(value, t)
        if t in ("xsd:unsignedInt", "xsd:int", "xsd:unsignedLong", "xsd:long"):
            n = int(text)
            if t.startswith("xsd:unsigned") and n < 0:
                raise ValueError(f"{n} is negative")
    except ValueError as exc:
        raise ValueError(f"{name}: {exc} (type {t})") from None
    return rpc.ParameterValue(name=name, value=text, type=t)


def parameter_list(spec: Any, where: str = "parameters") -> list[rpc.ParameterValue]:
    """Parameter values from settings/API JSON: {path: value}, {path: {"value", "type"}} or
    [{"name", "value", "type"?}]."""
    out: list[rpc.ParameterValue] = []
    if isinstance(spec, dict):
        items = [(k, v) for k, v in spec.items()]
    elif isinstance(spec, list):
        items = []
        for i, e in enumerate(spec):
            if not isinstance(e, dict) or "name" not in e or "value" not in e:
                raise ValueError(f"{where}[{i}]: expected an object with name and value")
            items.append((e["name"], {"value": e["value"], "type": e.get("type")}))
    else:
        raise ValueError(f"{where}: expected an object {{path: value}} or a list")
    for name, v in items:
        if isinstance(v, dict):
            if "value" not in v:
                raise ValueError(f"{where}.{name}: object form needs a 'value'")
            out.append(param_value(name, v["value"], v.get("type")))
        else:
            out.append(param_value(name, v))
    return out
