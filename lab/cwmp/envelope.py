"""CWMP SOAP envelopes <-> `lab.cwmp.rpc` dataclasses.

One table (`_MESSAGES`) says, per message type, which child elements it has, in schema
order, and what kind of value each holds; a handful of kinds (string, int, boolean,
dateTime, struct, SOAP array, ...) know how to write and read themselves. Faults are the
one hand-written shape (SOAP-ENV:Fault with detail/cwmp:Fault).

decode (liberal): any of the three CWMP namespaces, any prefixes, children qualified or
not, any xsi:type on a Value (kept as received, e.g. the nano3G's "xsd:signedInt"),
whitespace, SOAP-ENC:arrayType present or absent, optional children missing. A child is
mandatory when its dataclass field has no default. Every error is a CwmpError whose code
is `fault_base` + offset (fault_base 8000 on the ACS side, 9000 on the CPE side):
    +3 invalid arguments: empty/malformed/oversized XML, DTD or entity (bomb, XXE), not a
       SOAP envelope, unknown namespace, missing mandatory child, bad number/boolean
    +0 method not supported: a Body element in a CWMP namespace we have no type for
The message names what was wrong and where (element path such as
"Body/SetParameterValues/ParameterList/ParameterValueStruct[2]/Name"); the error carries
the request's cwmp:ID and namespace when they could be read, so the fault can echo them.

encode (strict): output validates against cwmp-1-N.xsd of the chosen namespace. What the
caller gives that no namespace accepts (a bad OUI, a 40-char CommandKey, "abc" typed
xsd:int, an unknown fault code, ...) raises ValueError naming the field. What only a newer
namespace accepts is adapted for an older one:
  - event codes the namespace does not know are left out of the Inform (an ACS of that
    version could not act on them anyway),
  - fault codes fall back to their generic parent: 9014-9020 -> 9010 (download failure)
    where 9010 is valid, anything else -> 9002 / 8002 (internal error); FaultString is kept.
File types and notification values have no older equivalent: ValueError.
Value types: "xsd:signedInt" is written as xsd:int, "xsd:base64" as xsd:base64Binary, an
unknown type as xsd:string; the value must fit its type.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lxml import etree

from lab.cwmp import rpc, xmlsafe
from lab.cwmp.faults import (
    ACS_FAULT_BASE,
    CPE_FAULT_BASE,
    INTERNAL_ERROR,
    INVALID_ARGUMENTS,
    METHOD_NOT_SUPPORTED,
    CwmpError,
    fault_string,
)

NAMESPACES = ("urn:dslforum-org:cwmp-1-0", "urn:dslforum-org:cwmp-1-1", "urn:dslforum-org:cwmp-1-2")
NS_1_0, NS_1_1, NS_1_2 = NAMESPACES
# The 3GPP HNB baseline is TR-069 Amendment 2 = CWMP 1.1. CWMP 1.3/1.4 reuse cwmp-1-2.
DEFAULT_NS = NS_1_1

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP_ENC = "http://schemas.xmlsoap.org/soap/encoding/"
XSD = "http://www.w3.org/2001/XMLSchema"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
_XSD_OLD = "http://www.w3.org/1999/XMLSchema"  # some old stacks still bind xsd to this


@dataclass
class Envelope:
    body: rpc.Rpc | None  # None: an envelope with an empty Body
    ns: str
    id: str | None = None
    hold_requests: bool | None = None


class _Bad(Exception):
    """A decode problem at `path`; turned into a CwmpError at the top."""

    def __init__(self, path: str, what: str, offset: int = INVALID_ARGUMENTS) -> None:
        super().__init__(f"{path}: {what}")
        self.offset = offset


# ---- per-namespace rules (from cwmp-1-0/1-1/1-2.xsd) ------------------------------------

Spans = tuple[tuple[int, int], ...]


def _in(code: int, spans: Spans) -> bool:
    return any(lo <= code <= hi for lo, hi in spans)


_FAULT_CODES: dict[str, Spans] = {
    NS_1_0: ((8000, 8005), (8800, 8899), (9000, 9013), (9800, 9899)),
    NS_1_1: ((8000, 8899), (9000, 9899)),
    NS_1_2: ((8000, 8899), (9000, 9899)),
}
_SPV_FAULT_CODES: dict[str, Spans] = {**_FAULT_CODES, NS_1_2: ((9000, 9899),)}
_TRANSFER_FAULT_CODES: dict[str, Spans] = {
    NS_1_0: ((0, 0), (9001, 9002), (9010, 9012)),
    NS_1_1: ((0, 0), (9001, 9002), (9010, 9012), (9014, 9899)),
    NS_1_2: ((0, 0), (9001, 9002), (9010, 9012), (9014, 9020), (9033, 9899)),
}
_NOTIFICATION: dict[str, Spans] = {NS_1_0: ((0, 2),), NS_1_1: ((0, 2),), NS_1_2: ((0, 6),)}

_EVENT_1_0 = (
    "0 BOOTSTRAP", "1 BOOT", "2 PERIODIC", "3 SCHEDULED", "4 VALUE CHANGE", "5 KICKED",
    "6 CONNECTION REQUEST", "7 TRANSFER COMPLETE", "8 DIAGNOSTICS COMPLETE",
    "9 REQUEST DOWNLOAD", "M Reboot", "M ScheduleInform", "M Download", "M Upload",
    r"M X_\S+", r"X [0-9A-F]{6} .*",
)
_EVENT_CODES: dict[str, tuple[str, ...]] = {
    NS_1_0: _EVENT_1_0,
    NS_1_1: (*_EVENT_1_0, r"\d+( \S+)+", r"M \S+"),
    NS_1_2: (r"\d+( \S+)+", r"M \S+", r"M X_\S+", r"X [0-9A-F]{6} .+", r"X \S+ .+"),
}
_VENDOR_OLD = r"X [0-9A-F]{6} .*"
_VENDOR_NEW = (r"X [0-9A-F]{6} .+", r"X \S+ .+")
_DOWNLOAD_TYPES: dict[str, tuple[str, ...]] = {
    NS_1_0: ("1 Firmware Upgrade Image", "2 Web Content", "3 Vendor Configuration File",
             _VENDOR_OLD),
    NS_1_2: (r"[1-9]\d*( \S+)+", *_VENDOR_NEW),
}
_DOWNLOAD_TYPES[NS_1_1] = _DOWNLOAD_TYPES[NS_1_0]
_UPLOAD_TYPES: dict[str, tuple[str, ...]] = {
    NS_1_0: ("1 Vendor Configuration File", "2 Vendor Log File", _VENDOR_OLD),
    NS_1_2: (r"[1-9]\d*( \S+)+", r"[1-9]\d*( \S+)+ [1-9]\d*", *_VENDOR_NEW),
}
_UPLOAD_TYPES[NS_1_1] = _UPLOAD_TYPES[NS_1_0]


def _matches(text: str, patterns: Sequence[str]) -> bool:
    return any(re.fullmatch(p, text) for p in patterns)


# ---- value kinds ------------------------------------------------------------------------


def _local(el: etree._Element) -> str:
    return _local_name(el.tag)


def _local_name(tag: str) -> str:
    # "{namespace}local" or "local"; slicing, not etree.QName: the decoder asks per child
    return tag[tag.rfind("}") + 1:]


def _elements(el: etree._Element) -> list[etree._Element]:
    return [c for c in el if isinstance(c.tag, str)]


def _child(el: etree._Element, name: str) -> etree._Element | None:
    # Children are unqualified in the schemas; some stacks qualify them: match by local name.
    for c in el:
        if isinstance(c.tag, str) and _local_name(c.tag) == name:
            return c
    return None


def _children(el: etree._Element) -> dict[str, etree._Element]:
    """The element children by local name, the first of each name (as `_child` finds it):
    one pass over the children for a whole struct instead of one per field."""
    out: dict[str, etree._Element] = {}
    for c in el:
        tag = c.tag
        if isinstance(tag, str):
            out.setdefault(tag[tag.rfind("}") + 1:], c)
    return out


class _Kind:
    """How one kind of child element is written (`put`) and read (`get`)."""

    def put(self, parent: etree._Element, tag: str, value: Any, ns: str, path: str) -> None:
        raise NotImplementedError

    def get(self, el: etree._Element, path: str) -> Any:
        raise NotImplementedError


class _Scalar(_Kind):
    def put(self, parent: etree._Element, tag: str, value: Any, ns: str, path: str) -> None:
        _set_text(etree.SubElement(parent, tag), self.to_text(value, ns, path), path)

    def get(self, el: etree._Element, path: str) -> Any:
        return self.from_text(el.text or "", path)

    def to_text(self, value: Any, ns: str, path: str) -> str:
        raise NotImplementedError

    def from_text(self, text: str, path: str) -> Any:
        raise NotImplementedError


def _set_text(el: etree._Element, text: str, path: str) -> None:
    try:
        el.text = text
    except ValueError as e:  # control characters and the like: not representable in XML
        raise ValueError(f"{path}: {e}") from None


class _Str(_Scalar):
    def __init__(
        self,
        max_len: int | None = None,
        patterns: Sequence[str] | dict[str, tuple[str, ...]] | None = None,
        *,
        strip: bool = True,
        what: str = "",
    ) -> None:
        self.max_len, self.patterns, self.strip, self.what = max_len, patterns, strip, what

    def to_text(self, value: Any, ns: str, path: str) -> str:
        if not isinstance(value, str):
            raise ValueError(f"{path}: expected str, got {type(value).__name__} {value!r}")
        if self.max_len is not None and len(value) > self.max_len:
            raise ValueError(f"{path}: {len(value)} characters, more than {self.max_len}")
        patterns = self.patterns[ns] if isinstance(self.patterns, dict) else self.patterns
        if patterns is not None and not _matches(value, patterns):
            raise ValueError(f"{path}: {value!r} is not a valid {self.what or 'value'} "
                             f"in {ns}")
        return value

    def from_text(self, text: str, path: str) -> str:
        return text.strip() if self.strip else text


class _Int(_Scalar):
    def __init__(self, lo: int = 0, hi: int = 2**32 - 1,
                 allowed: dict[str, Spans] | None = None) -> None:
        self.lo, self.hi, self.allowed = lo, hi, allowed

    def to_text(self, value: Any, ns: str, path: str) -> str:
        if not isinstance(value, int):
            raise ValueError(f"{path}: expected int, got {type(value).__name__} {value!r}")
        value = int(value)
        if not self.lo <= value <= self.hi:
            raise ValueError(f"{path}: {value} is outside {self.lo}..{self.hi}")
        if self.allowed is not None and not _in(value, self.allowed[ns]):
            raise ValueError(f"{path}: {value} is not allowed in {ns}")
        return str(value)

    def from_text(self, text: str, path: str) -> int:
        try:
            return int(text.strip())
        except ValueError:
            raise _Bad(path, f"{text.strip()!r} is not an integer") from None


class _Bool(_Scalar):
    def to_text(self, value: Any, ns: str, path: str) -> str:
        if not isinstance(value, bool):
            raise ValueError(f"{path}: expected bool, got {type(value).__name__} {value!r}")
        return "true" if value else "false"

    def from_text(self, text: str, path: str) -> bool:
        t = text.strip().lower()
        if t in ("1", "true"):
            return True
        if t in ("0", "false"):
            return False
        raise _Bad(path, f"{text.strip()!r} is not a boolean")


_DATETIME = re.compile(
    r"-?(\d{4,})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-](\d\d):(\d\d))?")


def _datetime_ok(text: str) -> bool:
    m = _DATETIME.fullmatch(text.strip())
    if not m:
        return False
    month, day, hour, minute, sec = (int(m.group(i)) for i in range(2, 7))
    tz_ok = m.group(9) is None or (int(m.group(9)) <= 14 and int(m.group(10)) <= 59)
    return (1 <= month <= 12 and 1 <= day <= 31 and minute <= 59 and sec <= 59 and tz_ok
            and (hour <= 23 or (hour == 24 and minute == sec == 0)))


class _Time(_Scalar):
    def to_text(self, value: Any, ns: str, path: str) -> str:
        if not isinstance(value, str) or not _datetime_ok(value):
            raise ValueError(f"{path}: {value!r} is not an xsd:dateTime")
        return value

    def from_text(self, text: str, path: str) -> str:
        return text.strip()  # kept as received: liberal in what we accept


@dataclass(frozen=True)
class _F:
    """One child element: dataclass attribute, element name, kind. `required` overrides
    the default rule (mandatory when the dataclass field has no default)."""

    attr: str
    tag: str
    kind: _Kind
    required: bool | None = None


def _required(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}


class _Struct(_Kind):
    """A sequence of child elements mapped onto a dataclass (a message is one too).

    A `_Group` field nests some of the dataclass's own attributes one level deeper
    (TransferComplete's FaultStruct)."""

    def __init__(self, cls: type, fields: Sequence[_F | _Group]) -> None:
        self.cls, self.fields, self.required = cls, tuple(fields), _required(cls)

    def put(self, parent: etree._Element, tag: str, value: Any, ns: str, path: str) -> None:
        if not isinstance(value, self.cls):
            raise ValueError(f"{path}: expected {self.cls.__name__}, got {type(value).__name__}")
        self.put_fields(etree.SubElement(parent, tag), value, ns, path)

    def put_fields(self, el: etree._Element, obj: Any, ns: str, path: str) -> None:
        for f in self.fields:
            if isinstance(f, _Group):
                sub = etree.SubElement(el, f.tag)
                for g in f.fields:
                    g.kind.put(sub, g.tag, getattr(obj, g.attr), ns, f"{path}/{f.tag}/{g.tag}")
            else:
                f.kind.put(el, f.tag, getattr(obj, f.attr), ns, f"{path}/{f.tag}")

    def get(self, el: etree._Element, path: str) -> Any:
        values: dict[str, Any] = {}
        kids = _children(el)
        for f in self.fields:
            if isinstance(f, _Group):
                sub = kids.get(f.tag)
                sub_kids = None if sub is None else _children(sub)
                for g in f.fields:
                    self._get_one(sub_kids, g, values, f"{path}/{f.tag}")
            else:
                self._get_one(kids, f, values, path)
        return self.cls(**values)

    def _get_one(self, kids: dict[str, etree._Element] | None, f: _F, values: dict[str, Any],
                 path: str) -> None:
        child = None if kids is None else kids.get(f.tag)
        if child is not None:
            values[f.attr] = f.kind.get(child, f"{path}/{f.tag}")
        elif f.required or (f.required is None and f.attr in self.required):
            raise _Bad(path, f"missing mandatory element {f.tag}")


@dataclass(frozen=True)
class _Group:
    tag: str
    fields: tuple[_F, ...]


class _Array(_Kind):
    """A SOAP-encoded array: SOAP-ENC:arrayType="<item_type>[N]" and N item elements."""

    def __init__(self, item_tag: str, item: _Kind, item_type: str,
                 min_items: int = 0, max_items: int | None = None) -> None:
        self.item_tag, self.item, self.item_type = item_tag, item, item_type
        self.min_items, self.max_items = min_items, max_items

    def put(self, parent: etree._Element, tag: str, value: Any, ns: str, path: str) -> None:
        if isinstance(value, str | bytes) or not isinstance(value, Sequence):
            raise ValueError(f"{path}: expected a list, got {type(value).__name__}")
        items = list(value)
        if len(items) < self.min_items:
            raise ValueError(f"{path}: needs at least {self.min_items} {self.item_tag}")
        if self.max_items is not None and len(items) > self.max_items:
            raise ValueError(f"{path}: {len(items)} items, at most {self.max_items} allowed")
        el = etree.SubElement(parent, tag, {f"{{{SOAP_ENC}}}arrayType":
                                            f"{self.item_type}[{len(items)}]"})
        for i, item in enumerate(items, 1):
            self.item.put(el, self.item_tag, item, ns, f"{path}/{self.item_tag}[{i}]")

    def get(self, el: etree._Element, path: str) -> list[Any]:
        # Every element child is an item whatever its name: arrayType is advisory.
        return [self.item.get(c, f"{path}/{_local(c)}[{i}]")
                for i, c in enumerate(_elements(el), 1)]


# ParameterValueStruct: Value carries xsi:type. Known types are checked lexically.
_TYPE_ALIASES = {"signedInt": "int", "base64": "base64Binary", "unsignedint": "unsignedInt",
                 "bool": "boolean", "datetime": "dateTime"}


def _int_check(lo: int, hi: int) -> Callable[[str], bool]:
    def ok(text: str) -> bool:
        t = text.strip()
        return bool(re.fullmatch(r"[+-]?\d+", t)) and lo <= int(t) <= hi
    return ok


def _base64_ok(text: str) -> bool:
    compact = re.sub(r"\s+", "", text)
    try:
        base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


_VALUE_CHECKS: dict[str, Callable[[str], bool]] = {
    "string": lambda text: True,
    "int": _int_check(-(2**31), 2**31 - 1),
    "unsignedInt": _int_check(0, 2**32 - 1),
    "long": _int_check(-(2**63), 2**63 - 1),
    "unsignedLong": _int_check(0, 2**64 - 1),
    "boolean": lambda text: text.strip() in ("0", "1", "true", "false"),
    "dateTime": _datetime_ok,
    "base64Binary": _base64_ok,
    "hexBinary": lambda text: bool(re.fullmatch(r"([0-9a-fA-F]{2})*", text.strip())),
    "decimal": lambda text: bool(re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", text.strip())),
}


def wire_type(type_: str) -> str:
    """The xsi:type we send for a ParameterValue.type (normalised, always a valid XSD type)."""
    local = type_.rsplit(":", 1)[-1]
    local = _TYPE_ALIASES.get(local, local)
    return f"xsd:{local}" if local in _VALUE_CHECKS else "xsd:string"


class _ParameterValueStruct(_Kind):
    name = _Str(256)

    def put(self, parent: etree._Element, tag: str, value: Any, ns: str, path: str) -> None:
        if not isinstance(value, rpc.ParameterValue):
            raise ValueError(f"{path}: expected ParameterValue, got {type(value).__name__}")
        el = etree.SubElement(parent, tag)
        self.name.put(el, "Name", value.name, ns, f"{path}/Name")
        xtype = wire_type(value.type)
        if not isinstance(value.value, str) or not _VALUE_CHECKS[xtype[4:]](value.value):
            raise ValueError(f"{path}/Value: {value.value!r} is not a valid {xtype} "
                             f"(parameter {value.name})")
        v = etree.SubElement(el, "Value", {f"{{{XSI}}}type": xtype})
        _set_text(v, value.value, f"{path}/Value")

    def get(self, el: etree._Element, path: str) -> rpc.ParameterValue:
        name, value = _child(el, "Name"), _child(el, "Value")
        if name is None:
            raise _Bad(path, "missing mandatory element Name")
        if value is None:
            raise _Bad(path, f"missing mandatory element Value (parameter {name.text})")
        return rpc.ParameterValue(name=(name.text or "").strip(), value=value.text or "",
                                  type=_read_type(value))


def _read_type(value: etree._Element) -> str:
    raw = None
    for key, v in value.attrib.items():  # xsi:type, whatever prefix/namespace it came with
        if _local_name(key) == "type":
            raw = v.strip()
            break
    if not raw:
        return "xsd:string"
    prefix, _, local = raw.rpartition(":")
    if not prefix or value.nsmap.get(prefix) in (XSD, _XSD_OLD, None):
        return f"xsd:{local}"  # unprefixed or unbound: read as an XSD type
    return raw


# ---- the table ----------------------------------------------------------------------------

_UINT = _Int()
_STATUS = _Int(0, 1)
_BOOL = _Bool()
_TIME = _Time()
_KEY = _Str(32, strip=False)  # CommandKey, ParameterKey: opaque
_NAME = _Str(256)
_URL = _Str(256)
_SECRET = _Str(256, strip=False)
_NAMES = _Array("string", _NAME, "xsd:string", min_items=1)
_ACCESS_LIST = _Array("string", _Str(64, ("Subscriber",), what="AccessList entry"),
                      "xsd:string")
_NOTIFY = _Int(0, 6, _NOTIFICATION)
_PVS_LIST = _Array("ParameterValueStruct", _ParameterValueStruct(), "cwmp:ParameterValueStruct")

_DEVICE_ID = _Struct(rpc.DeviceId, [
    _F("manufacturer", "Manufacturer", _Str(64)),
    _F("oui", "OUI", _Str(6, (r"[0-9A-F]{6}",), what="OUI")),
    _F("product_class", "ProductClass", _Str(64)),
    _F("serial_number", "SerialNumber", _Str(64)),
])
_EVENT = _Struct(rpc.EventStruct, [
    _F("code", "EventCode", _Str(64, _EVENT_CODES, what="EventCode")),
    _F("command_key", "CommandKey", _KEY),
])
_PARAM_INFO = _Struct(rpc.ParameterInfo, [
    _F("name", "Name", _NAME),
    _F("writable", "Writable", _BOOL),
])
_PARAM_ATTR = _Struct(rpc.ParameterAttribute, [
    _F("name", "Name", _NAME),
    _F("notification", "Notification", _NOTIFY),
    _F("access_list", "AccessList", _ACCESS_LIST),
])
_SET_PARAM_ATTR = _Struct(rpc.SetParameterAttribute, [
    _F("name", "Name", _NAME),
    _F("notification_change", "NotificationChange", _BOOL),
    _F("notification", "Notification", _NOTIFY),
    _F("access_list_change", "AccessListChange", _BOOL),
    _F("access_list", "AccessList", _ACCESS_LIST),
])
_TRANSFER_RESULT = [_F("status", "Status", _STATUS), _F("start_time", "StartTime", _TIME),
                    _F("complete_time", "CompleteTime", _TIME)]

_MESSAGES: dict[type, _Struct] = {s.cls: s for s in (
    _Struct(rpc.Inform, [
        _F("device_id", "DeviceId", _DEVICE_ID),
        _F("events", "Event", _Array("EventStruct", _EVENT, "cwmp:EventStruct", max_items=64)),
        _F("max_envelopes", "MaxEnvelopes", _UINT),
        _F("current_time", "CurrentTime", _TIME),
        _F("retry_count", "RetryCount", _UINT),
        _F("parameters", "ParameterList", _PVS_LIST),
    ]),
    _Struct(rpc.InformResponse, [_F("max_envelopes", "MaxEnvelopes", _UINT)]),
    _Struct(rpc.TransferComplete, [
        _F("command_key", "CommandKey", _KEY),
        _Group("FaultStruct", (
            # Required although the dataclass defaults it to 0: absent must not read as success.
            _F("fault_code", "FaultCode", _Int(0, 9899, _TRANSFER_FAULT_CODES), required=True),
            _F("fault_string", "FaultString", _Str(256, strip=False)),
        )),
        _F("start_time", "StartTime", _TIME),
        _F("complete_time", "CompleteTime", _TIME),
    ]),
    _Struct(rpc.TransferCompleteResponse, []),
    _Struct(rpc.GetRPCMethods, []),
    _Struct(rpc.GetRPCMethodsResponse, [
        _F("methods", "MethodList", _Array("string", _Str(64), "xsd:string", min_items=1)),
    ]),
    _Struct(rpc.GetParameterNames, [
        _F("parameter_path", "ParameterPath", _NAME),
        _F("next_level", "NextLevel", _BOOL),
    ]),
    _Struct(rpc.GetParameterNamesResponse, [
        _F("parameters", "ParameterList",
           _Array("ParameterInfoStruct", _PARAM_INFO, "cwmp:ParameterInfoStruct")),
    ]),
    _Struct(rpc.GetParameterValues, [_F("names", "ParameterNames", _NAMES)]),
    _Struct(rpc.GetParameterValuesResponse, [_F("parameters", "ParameterList", _PVS_LIST)]),
    _Struct(rpc.SetParameterValues, [
        _F("parameters", "ParameterList", _PVS_LIST),
        _F("parameter_key", "ParameterKey", _KEY),
    ]),
    _Struct(rpc.SetParameterValuesResponse, [_F("status", "Status", _STATUS)]),
    _Struct(rpc.GetParameterAttributes, [_F("names", "ParameterNames", _NAMES)]),
    _Struct(rpc.GetParameterAttributesResponse, [
        _F("parameters", "ParameterList",
           _Array("ParameterAttributeStruct", _PARAM_ATTR, "cwmp:ParameterAttributeStruct")),
    ]),
    _Struct(rpc.SetParameterAttributes, [
        _F("parameters", "ParameterList",
           _Array("SetParameterAttributesStruct", _SET_PARAM_ATTR,
                  "cwmp:SetParameterAttributesStruct", min_items=1)),
    ]),
    _Struct(rpc.SetParameterAttributesResponse, []),
    _Struct(rpc.AddObject, [
        _F("object_name", "ObjectName", _Str(256, (r".*\.",), what="object name")),
        _F("parameter_key", "ParameterKey", _KEY),
    ]),
    _Struct(rpc.AddObjectResponse, [
        _F("instance_number", "InstanceNumber", _Int(1)),
        _F("status", "Status", _STATUS),
    ]),
    _Struct(rpc.DeleteObject, [
        _F("object_name", "ObjectName", _Str(256, (r".*\.",), what="object name")),
        _F("parameter_key", "ParameterKey", _KEY),
    ]),
    _Struct(rpc.DeleteObjectResponse, [_F("status", "Status", _STATUS)]),
    _Struct(rpc.Download, [
        _F("command_key", "CommandKey", _KEY),
        _F("file_type", "FileType", _Str(64, _DOWNLOAD_TYPES, what="Download FileType")),
        _F("url", "URL", _URL),
        _F("username", "Username", _SECRET),
        _F("password", "Password", _SECRET),
        _F("file_size", "FileSize", _UINT),
        _F("target_file_name", "TargetFileName", _Str(256)),
        _F("delay_seconds", "DelaySeconds", _UINT),
        _F("success_url", "SuccessURL", _URL),
        _F("failure_url", "FailureURL", _URL),
    ]),
    _Struct(rpc.DownloadResponse, _TRANSFER_RESULT),
    _Struct(rpc.Upload, [
        _F("command_key", "CommandKey", _KEY),
        _F("file_type", "FileType", _Str(64, _UPLOAD_TYPES, what="Upload FileType")),
        _F("url", "URL", _URL),
        _F("username", "Username", _SECRET),
        _F("password", "Password", _SECRET),
        _F("delay_seconds", "DelaySeconds", _UINT),
    ]),
    _Struct(rpc.UploadResponse, _TRANSFER_RESULT),
    _Struct(rpc.Reboot, [_F("command_key", "CommandKey", _KEY)]),
    _Struct(rpc.RebootResponse, []),
    _Struct(rpc.FactoryReset, []),
    _Struct(rpc.FactoryResetResponse, []),
    _Struct(rpc.ScheduleInform, [
        _F("delay_seconds", "DelaySeconds", _UINT),
        _F("command_key", "CommandKey", _KEY),
    ]),
    _Struct(rpc.ScheduleInformResponse, []),
)}
assert set(_MESSAGES) == set(rpc.MESSAGE_TYPES.values()), "codec table out of step with rpc"


# ---- namespace adaptation (encode side) -------------------------------------------------


def _fallback_code(code: int, allowed: Spans, newest: Spans) -> int:
    """A code only a newer namespace knows -> its generic parent in `allowed`."""
    if _in(code, allowed) or not _in(code, newest):
        return code  # valid as is, or valid nowhere (the kind's check then names it)
    if 9014 <= code <= 9020 and _in(9010, allowed):
        return 9010
    return (CPE_FAULT_BASE if code >= CPE_FAULT_BASE else ACS_FAULT_BASE) + INTERNAL_ERROR


def _adapt(body: Any, ns: str) -> Any:
    if isinstance(body, rpc.Inform):
        keep = [e for e in body.events
                if _matches(e.code, _EVENT_CODES[ns]) or not _matches(e.code, _EVENT_CODES[NS_1_2])]
        return dataclasses.replace(body, events=keep)
    if isinstance(body, rpc.TransferComplete):
        code = _fallback_code(body.fault_code, _TRANSFER_FAULT_CODES[ns],
                              _TRANSFER_FAULT_CODES[NS_1_2])
        return dataclasses.replace(body, fault_code=code)
    return body


_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'

# ---- encode -------------------------------------------------------------------------------


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def encode(
    body: rpc.Rpc | None,
    *,
    ns: str = DEFAULT_NS,
    id: str | None = None,
    hold_requests: bool | None = None,
) -> bytes:
    """One SOAP envelope (UTF-8 bytes) carrying `body` (None: an empty Body)."""
    if ns not in NAMESPACES:
        raise ValueError(f"unknown CWMP namespace {ns!r}; use one of {', '.join(NAMESPACES)}")
    root = etree.Element(_q(SOAP_ENV, "Envelope"), nsmap={
        "SOAP-ENV": SOAP_ENV, "SOAP-ENC": SOAP_ENC, "xsd": XSD, "xsi": XSI, "cwmp": ns})
    if id is not None or hold_requests is not None:
        header = etree.SubElement(root, _q(SOAP_ENV, "Header"))
        must = {_q(SOAP_ENV, "mustUnderstand"): "1"}
        if id is not None:
            _set_text(etree.SubElement(header, _q(ns, "ID"), must), id, "Header/ID")
        if hold_requests is not None:
            etree.SubElement(header, _q(ns, "HoldRequests"), must).text = (
                "true" if hold_requests else "false")
    body_el = etree.SubElement(root, _q(SOAP_ENV, "Body"))
    if isinstance(body, rpc.Fault):
        _encode_fault(body_el, body, ns)
    elif body is not None:
        spec = _MESSAGES.get(type(body))
        if spec is None:
            raise TypeError(f"not a CWMP message: {type(body).__name__}")
        name = type(body).__name__
        spec.put_fields(etree.SubElement(body_el, _q(ns, name)), _adapt(body, ns), ns, name)
    return _DECLARATION + etree.tostring(root, encoding="UTF-8")


def _encode_fault(body_el: etree._Element, fault: rpc.Fault, ns: str) -> None:
    code = _fallback_code(fault.code, _FAULT_CODES[ns], _FAULT_CODES[NS_1_2])
    if not _in(code, _FAULT_CODES[ns]):
        raise ValueError(f"Fault/FaultCode: {fault.code} is not a CWMP fault code")
    soap = etree.SubElement(body_el, _q(SOAP_ENV, "Fault"))
    etree.SubElement(soap, "faultcode").text = fault.faultcode
    etree.SubElement(soap, "faultstring").text = "CWMP fault"
    cf = etree.SubElement(etree.SubElement(soap, "detail"), _q(ns, "Fault"))
    etree.SubElement(cf, "FaultCode").text = str(code)
    _set_text(etree.SubElement(cf, "FaultString"), fault.string, "Fault/FaultString")
    for i, spv in enumerate(fault.spv_faults, 1):
        path = f"Fault/SetParameterValuesFault[{i}]"
        spv_code = _fallback_code(spv.code, _SPV_FAULT_CODES[ns], _SPV_FAULT_CODES[NS_1_2])
        if not _in(spv_code, _SPV_FAULT_CODES[ns]):
            raise ValueError(f"{path}/FaultCode: {spv.code} is not a CPE fault code")
        el = etree.SubElement(cf, "SetParameterValuesFault")
        _set_text(etree.SubElement(el, "ParameterName"), spv.name, f"{path}/ParameterName")
        etree.SubElement(el, "FaultCode").text = str(spv_code)
        _set_text(etree.SubElement(el, "FaultString"), spv.string, f"{path}/FaultString")


# ---- decode -------------------------------------------------------------------------------


def decode(data: bytes, *, max_size: int = xmlsafe.DEFAULT_MAX_SIZE,
           fault_base: int = ACS_FAULT_BASE) -> Envelope:
    """Parse one SOAP envelope. Raises CwmpError (code fault_base + 3 or + 0, see above)."""
    try:
        root = xmlsafe.parse(data, max_size=max_size)
    except xmlsafe.XmlError as e:
        raise CwmpError(fault_base + INVALID_ARGUMENTS, str(e)) from None
    id_: str | None = None
    ns: str | None = None
    try:
        if etree.QName(root).namespace != SOAP_ENV or _local(root) != "Envelope":
            raise _Bad("/", f"root element is {root.tag}, not a SOAP 1.1 Envelope")
        header = _child(root, "Header")
        hold = None
        if header is not None:
            id_el, hold_el = _child(header, "ID"), _child(header, "HoldRequests")
            if id_el is not None:
                id_ = (id_el.text or "").strip()
                if etree.QName(id_el).namespace in NAMESPACES:
                    ns = etree.QName(id_el).namespace
            if hold_el is not None:
                hold = _BOOL.get(hold_el, "Header/HoldRequests")
        body_el = _child(root, "Body")
        if body_el is None:
            raise _Bad("Envelope", "missing mandatory element Body")
        items = _elements(body_el)
        if not items:
            return Envelope(body=None, ns=ns or DEFAULT_NS, id=id_, hold_requests=hold)
        if len(items) > 1:
            raise _Bad("Body", f"{len(items)} elements ({', '.join(_local(i) for i in items)});"
                       " one RPC per envelope")
        el = items[0]
        el_ns, name = etree.QName(el).namespace, _local(el)
        if el_ns == SOAP_ENV and name == "Fault":
            body, fault_ns = _decode_fault(el, fault_base)
            ns = fault_ns or ns
        elif el_ns not in NAMESPACES:
            raise _Bad(f"Body/{name}", f"unknown namespace {el_ns!r} "
                       f"(known: {', '.join(NAMESPACES)})")
        else:
            ns = el_ns
            cls = rpc.MESSAGE_TYPES.get(name)
            if cls is None:
                raise CwmpError(fault_base + METHOD_NOT_SUPPORTED,
                                f"method not supported: {name}", id=id_, ns=ns)
            body = _MESSAGES[cls].get(el, f"Body/{name}")
    except _Bad as e:
        raise CwmpError(fault_base + e.offset, str(e), id=id_, ns=ns) from None
    return Envelope(body=body, ns=ns or DEFAULT_NS, id=id_, hold_requests=hold)


def _decode_fault(el: etree._Element, fault_base: int) -> tuple[rpc.Fault, str | None]:
    detail = _child(el, "detail")
    cf = None if detail is None else _child(detail, "Fault")
    if cf is None:
        # Not a CWMP fault; keep what it says as an internal error of the peer's side.
        peer_base = CPE_FAULT_BASE if fault_base == ACS_FAULT_BASE else ACS_FAULT_BASE
        text = (_child_text(el, "faultstring") or "SOAP fault without CWMP detail").strip()
        return rpc.Fault(code=peer_base + INTERNAL_ERROR, string=text), None
    path = "Body/Fault/detail/Fault"
    code = _fault_code(cf, path)
    spv = []
    for i, s in enumerate((c for c in _elements(cf) if _local(c) == "SetParameterValuesFault"), 1):
        spath = f"{path}/SetParameterValuesFault[{i}]"
        name = _child(s, "ParameterName")
        if name is None:
            raise _Bad(spath, "missing mandatory element ParameterName")
        scode = _fault_code(s, spath)
        spv.append(rpc.SetParameterValuesFault(
            name=(name.text or "").strip(), code=scode,
            string=_child_text(s, "FaultString", fault_string(scode))))
    fault = rpc.Fault(code=code, string=_child_text(cf, "FaultString", fault_string(code)),
                      spv_faults=spv)
    ns = etree.QName(cf).namespace
    return fault, ns if ns in NAMESPACES else None


def _fault_code(el: etree._Element, path: str) -> int:
    c = _child(el, "FaultCode")
    if c is None:
        raise _Bad(path, "missing mandatory element FaultCode")
    return _UINT.get(c, f"{path}/FaultCode")


def _child_text(el: etree._Element, name: str, default: str = "") -> str:
    c = _child(el, name)
    return default if c is None else (c.text or "")


# ---- names and one-line summaries -----------------------------------------------------------


def msg_name(body: rpc.Rpc | None) -> str:
    """The message name ("Inform", "Fault", ...); "empty" for an empty Body / empty POST."""
    return "empty" if body is None else type(body).__name__


def _n(count: int, what: str) -> str:
    return f"{count} {what}{'' if count == 1 else 's'}"


def _names(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else _n(len(names), "param")


def _transfer(b: rpc.TransferComplete) -> str:
    result = "ok" if b.fault_code == 0 else f"fault {b.fault_code} {b.fault_string}".rstrip()
    return f"{result} key={b.command_key}" if b.command_key else result


_SUMMARIES: dict[type, Callable[[Any], str]] = {
    rpc.Inform: lambda b: ",".join(b.event_codes()),
    rpc.TransferComplete: _transfer,
    rpc.GetRPCMethodsResponse: lambda b: _n(len(b.methods), "method"),
    rpc.GetParameterNames: lambda b: f"{b.parameter_path or '(root)'}"
                                     f"{' next-level' if b.next_level else ''}",
    rpc.GetParameterNamesResponse: lambda b: _n(len(b.parameters), "param"),
    rpc.GetParameterValues: lambda b: _names(b.names),
    rpc.GetParameterValuesResponse: lambda b: _n(len(b.parameters), "param"),
    rpc.SetParameterValues: lambda b: _n(len(b.parameters), "param"),
    rpc.SetParameterValuesResponse: lambda b: f"status {b.status}",
    rpc.GetParameterAttributes: lambda b: _names(b.names),
    rpc.GetParameterAttributesResponse: lambda b: _n(len(b.parameters), "param"),
    rpc.SetParameterAttributes: lambda b: _n(len(b.parameters), "param"),
    rpc.AddObject: lambda b: b.object_name,
    rpc.AddObjectResponse: lambda b: f"instance {b.instance_number} status {b.status}",
    rpc.DeleteObject: lambda b: b.object_name,
    rpc.DeleteObjectResponse: lambda b: f"status {b.status}",
    rpc.Download: lambda b: f"{b.file_type} {b.url}",
    rpc.DownloadResponse: lambda b: f"status {b.status}",
    rpc.Upload: lambda b: f"{b.file_type} {b.url}",
    rpc.UploadResponse: lambda b: f"status {b.status}",
    rpc.Reboot: lambda b: b.command_key,
    rpc.ScheduleInform: lambda b: f"in {b.delay_seconds}s",
    rpc.Fault: lambda b: f"{b.code} {b.string}" + (
        f" ({_n(len(b.spv_faults), 'parameter fault')})" if b.spv_faults else ""),
}


def summary(body: rpc.Rpc | None) -> str:
    """One line for an event record, e.g. "Inform 0 BOOTSTRAP,1 BOOT",
    "SetParameterValues 3 params", "Fault 9005 Invalid parameter name"."""
    detail = _SUMMARIES.get(type(body), lambda b: "")(body)
    return f"{msg_name(body)} {detail}".rstrip()
