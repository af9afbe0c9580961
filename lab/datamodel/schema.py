"""Parameter definitions of the HNB's data model, loaded from hnb_params.yaml.

The table is data (hnb_params.yaml); this module turns it into typed definitions and holds
the value rules: parsing a wire string as a TR-069 type, the BBF facets (enumeration,
range, size, pattern, list) and the lab's format checks (URL, host, PLMN ID, LAC:RAC).
A value that is not of the type raises `BadType` (CWMP fault 9006), one of the type that
breaks a facet raises `BadValue` (9007).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

TABLE_FILE = Path(__file__).with_name("hnb_params.yaml")
UNKNOWN_TIME = "0001-01-01T00:00:00Z"
INSTANCE = "{i}"

TYPES = ("string", "int", "unsignedInt", "long", "unsignedLong", "boolean", "dateTime",
         "base64", "hexBinary")
XSD_TYPE = {
    "string": "xsd:string", "int": "xsd:int", "unsignedInt": "xsd:unsignedInt",
    "long": "xsd:long", "unsignedLong": "xsd:unsignedLong", "boolean": "xsd:boolean",
    "dateTime": "xsd:dateTime", "base64": "xsd:base64Binary", "hexBinary": "xsd:hexBinary",
}
TYPE_DEFAULT = {"string": "", "int": "0", "unsignedInt": "0", "long": "0", "unsignedLong": "0",
                "boolean": "false", "dateTime": UNKNOWN_TIME, "base64": "", "hexBinary": ""}
INT_BOUNDS = {"int": (-(2**31), 2**31 - 1), "unsignedInt": (0, 2**32 - 1),
              "long": (-(2**63), 2**63 - 1), "unsignedLong": (0, 2**64 - 1)}
ACCESS = ("readOnly", "readWrite", "writeOnceReadOnly")
ACTIVE_NOTIFY = ("normal", "canDeny", "forceEnabled", "forceDefaultEnabled")
FORMATS = ("http_url", "transfer_url", "host", "ip_address", "plmnid", "lacrac")


class SchemaError(ValueError):
    """The parameter table itself is wrong (a bug in hnb_params.yaml)."""


class BadType(ValueError):
    """The value is not of the parameter's type (CWMP 9006)."""


class BadValue(ValueError):
    """The value is of the type but outside what the parameter allows (CWMP 9007)."""


@dataclass(frozen=True)
class ParamDef:
    path: str  # generic, "{i}" for instance numbers: "Device.IPsec.IKEv2SA.{i}.LocalAddress"
    type: str
    access: str = "readOnly"
    default: str = ""
    notify: int = 0
    active_notify: str = "normal"
    forced_inform: bool = False
    hidden: bool = False
    enum: tuple[str, ...] = ()
    ranges: tuple[tuple[int | None, int | None], ...] = ()
    min_length: int | None = None
    max_length: int | None = None
    patterns: tuple[str, ...] = ()
    is_list: bool = False
    list_min_items: int | None = None
    list_max_items: int | None = None
    list_max_length: int | None = None
    format: str | None = None
    data_type: str | None = None

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[1]

    @property
    def object(self) -> str:
        return self.path.rsplit(".", 1)[0] + "."

    @property
    def xsd_type(self) -> str:
        return XSD_TYPE[self.type]

    @property
    def writable(self) -> bool:
        """Writable at all by the ACS (writeOnceReadOnly: until first written)."""
        return self.access != "readOnly"

    def default_for(self, instance: int | None) -> str:
        return self.default.replace(INSTANCE, str(instance)) if instance else self.default


@dataclass(frozen=True)
class ObjectDef:
    path: str  # generic, ends with ".": "Device.IPsec." or "Device.IPsec.IKEv2SA.{i}."
    access: str = "readOnly"
    num_entries: str | None = None  # generic path of the NumberOfEntries parameter
    factory: int = 0
    factory_values: tuple[dict[str, str], ...] = ()
    max_entries: int | None = None
    source: str = ""
    params: tuple[str, ...] = ()  # generic paths, table order

    @property
    def multi(self) -> bool:
        return self.path.endswith("." + INSTANCE + ".")

    @property
    def parent(self) -> str | None:
        """Generic path of the enclosing object ("Device.IPsec." for the IKEv2SA table)."""
        body = self.path[: -len(INSTANCE) - 2] if self.multi else self.path[:-1]
        cut = body.rfind(".")
        return body[: cut + 1] if cut >= 0 else None

    @property
    def table(self) -> str:
        """For a multi-instance object, the generic table path ("...IKEv2SA.")."""
        return self.path[: -len(INSTANCE) - 1] if self.multi else self.path


@dataclass(frozen=True)
class Schema:
    objects: dict[str, ObjectDef]
    params: dict[str, ParamDef]
    inform_always: tuple[str, ...] = ()
    inform_when_set: tuple[str, ...] = ()
    # tree position of each generic path (objects, tables, params): the output order
    order: dict[str, int] = field(default_factory=dict)
    children: dict[str, tuple[str, ...]] = field(default_factory=dict)  # object -> child objects

    def param(self, generic: str) -> ParamDef | None:
        return self.params.get(generic)


def generic_path(path: str) -> str:
    """Replace instance numbers by "{i}": "A.1.B.2.C" -> "A.{i}.B.{i}.C"."""
    return ".".join(INSTANCE if seg.isdigit() else seg for seg in path.split("."))


# ---- loading the table -----------------------------------------------------------------

_OBJECT_KEYS = {"access", "num_entries", "factory", "factory_values", "max_entries", "source",
                "params"}
_PARAM_KEYS = {"type", "data_type", "access", "list", "enum", "ranges", "min_length",
               "max_length", "pattern", "hidden", "active_notify", "forced_inform", "format",
               "default", "notify"}


def _param_def(path: str, raw: Any) -> ParamDef:
    if not isinstance(raw, dict):
        raise SchemaError(f"{path}: definition must be a mapping")
    unknown = set(raw) - _PARAM_KEYS
    if unknown:
        raise SchemaError(f"{path}: unknown keys {sorted(unknown)}")
    typ = raw.get("type")
    if typ not in TYPES:
        raise SchemaError(f"{path}: type {typ!r} is not one of {TYPES}")
    lst = raw.get("list", False)
    if lst not in (False, True) and not isinstance(lst, dict):
        raise SchemaError(f"{path}: list must be true or a mapping")
    lst_opts = lst if isinstance(lst, dict) else {}
    if set(lst_opts) - {"min_items", "max_items", "max_length"}:
        raise SchemaError(f"{path}: unknown list keys {sorted(lst_opts)}")
    pdef = ParamDef(
        path=path,
        type=typ,
        access=raw.get("access", "readOnly"),
        default=str(raw.get("default", TYPE_DEFAULT[typ])),
        notify=int(raw.get("notify", 0)),
        active_notify=raw.get("active_notify", "normal"),
        forced_inform=bool(raw.get("forced_inform", False)),
        hidden=bool(raw.get("hidden", False)),
        enum=tuple(str(e) for e in raw.get("enum", ())),
        ranges=tuple((r[0], r[1]) for r in raw.get("ranges", ())),
        min_length=raw.get("min_length"),
        max_length=raw.get("max_length"),
        patterns=tuple(raw.get("pattern", ())),
        is_list=bool(lst),
        list_min_items=lst_opts.get("min_items"),
        list_max_items=lst_opts.get("max_items"),
        list_max_length=lst_opts.get("max_length"),
        format=raw.get("format"),
        data_type=raw.get("data_type"),
    )
    if pdef.access not in ACCESS:
        raise SchemaError(f"{path}: access {pdef.access!r} is not one of {ACCESS}")
    if pdef.active_notify not in ACTIVE_NOTIFY:
        raise SchemaError(f"{path}: active_notify {pdef.active_notify!r} unknown")
    if pdef.notify not in (0, 1, 2):
        raise SchemaError(f"{path}: notify must be 0, 1 or 2")
    if pdef.active_notify in ("forceEnabled", "forceDefaultEnabled") and pdef.notify != 2:
        raise SchemaError(f"{path}: {pdef.active_notify} needs notify: 2")
    if pdef.active_notify == "canDeny" and pdef.notify == 2:
        raise SchemaError(f"{path}: canDeny cannot default to active notification")
    if pdef.format is not None and pdef.format not in FORMATS:
        raise SchemaError(f"{path}: format {pdef.format!r} is not one of {FORMATS}")
    try:
        check(pdef, pdef.default_for(1))
    except (BadType, BadValue) as e:
        raise SchemaError(f"{path}: default {pdef.default!r} is invalid: {e}") from None
    return pdef


def load_schema(path: Path = TABLE_FILE) -> Schema:
    """Read and check the parameter table (raises SchemaError naming the bad entry)."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise SchemaError(f"{path}: {e}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("objects"), dict):
        raise SchemaError(f"{path}: expected a mapping with 'objects'")
    objects: dict[str, ObjectDef] = {}
    params: dict[str, ParamDef] = {}
    order: dict[str, int] = {}
    children: dict[str, list[str]] = {}
    for opath, raw in doc["objects"].items():
        where = f"{path.name}: object {opath}"
        if not isinstance(raw, dict) or set(raw) - _OBJECT_KEYS:
            raise SchemaError(f"{where}: must be a mapping with keys from {sorted(_OBJECT_KEYS)}")
        if not opath.startswith("Device.") or not opath.endswith("."):
            raise SchemaError(f"{where}: object paths start with 'Device.' and end with '.'")
        raw_params = raw.get("params") or {}
        pdefs = [_param_def(opath + name, p) for name, p in raw_params.items()]
        factory_values = tuple(
            {str(k): str(v) for k, v in fv.items()} for fv in raw.get("factory_values", ())
        )
        odef = ObjectDef(
            path=opath,
            access=raw.get("access", "readOnly"),
            num_entries=raw.get("num_entries"),
            factory=int(raw.get("factory", len(factory_values))),
            factory_values=factory_values,
            max_entries=raw.get("max_entries"),
            source=raw.get("source", ""),
            params=tuple(p.path for p in pdefs),
        )
        if odef.access not in ("readOnly", "readWrite"):
            raise SchemaError(f"{where}: access must be readOnly or readWrite")
        parent = odef.parent
        if opath != "Device." and parent not in objects:
            raise SchemaError(f"{where}: its parent {parent} must come before it")
        if odef.multi:
            ne = odef.num_entries
            if not ne or ne.rsplit(".", 1)[0] + "." != parent or ne not in params:
                raise SchemaError(f"{where}: num_entries must name a parameter of {parent} "
                                  "defined before it")
            if odef.max_entries is not None and odef.factory > odef.max_entries:
                raise SchemaError(f"{where}: factory instances exceed max_entries")
            for fv in factory_values:
                for k in fv:
                    if opath + k not in {p.path for p in pdefs}:
                        raise SchemaError(f"{where}: factory_values name unknown parameter {k}")
            if len(factory_values) > odef.factory:
                raise SchemaError(f"{where}: more factory_values than factory instances")
        elif odef.factory or factory_values or odef.num_entries or odef.max_entries:
            raise SchemaError(f"{where}: instance settings on a single-instance object")
        objects[opath] = odef
        order[opath] = len(order)
        if odef.multi:
            order[odef.table] = order[opath]
        if parent is not None:
            children.setdefault(parent, []).append(opath)
        for p in pdefs:
            params[p.path] = p
            order[p.path] = len(order)
    for odef in objects.values():
        for fv in odef.factory_values:
            for k, v in fv.items():
                try:
                    check(params[odef.path + k], v)
                except (BadType, BadValue) as e:
                    raise SchemaError(f"{odef.path}{k}: factory value {v!r}: {e}") from None
    inform = doc.get("inform") or {}
    schema = Schema(
        objects=objects,
        params=params,
        inform_always=tuple(inform.get("always", ())),
        inform_when_set=tuple(inform.get("when_set", ())),
        order=order,
        children={k: tuple(v) for k, v in children.items()},
    )
    for name in schema.inform_always + schema.inform_when_set:
        if generic_path(name) not in params:
            raise SchemaError(f"{path.name}: inform entry {name} is not a defined parameter")
    return schema


@cache
def default_schema() -> Schema:
    """The HNB table, loaded once per process."""
    return load_schema()


# ---- values ----------------------------------------------------------------------------

_INT = re.compile(r"[+-]?[0-9]+")
_DATETIME = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?")
_HEX = re.compile(r"([0-9A-Fa-f]{2})*")
_PLMNID = re.compile(r"[0-9]{5,6}")
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_LACRAC_PART = re.compile(r"([0-9]+)(?:\.\.([0-9]+))?")


def parse_typed(typ: str, raw: str) -> str:
    """Check `raw` is a `typ` value and return its canonical wire form (raises BadType)."""
    if typ == "string":
        return raw
    text = raw.strip()
    if typ in INT_BOUNDS:
        if not _INT.fullmatch(text) or (typ.startswith("unsigned") and text.startswith("-")):
            raise BadType(f"{raw!r} is not an {typ}")
        n = int(text)
        lo, hi = INT_BOUNDS[typ]
        if not lo <= n <= hi:
            raise BadValue(f"{n} is outside the {typ} range {lo}..{hi}")
        return str(n)
    if typ == "boolean":
        low = text.lower()
        if low in ("true", "1"):
            return "true"
        if low in ("false", "0"):
            return "false"
        raise BadType(f"{raw!r} is not a boolean (true, false, 1 or 0)")
    if typ == "dateTime":
        m = _DATETIME.fullmatch(text)
        if not m:
            raise BadType(f"{raw!r} is not a dateTime (YYYY-MM-DDThh:mm:ss[Z])")
        if text != UNKNOWN_TIME:
            try:
                datetime(*(int(g) for g in m.groups()[:6]))
            except ValueError as e:
                raise BadValue(f"{raw!r}: {e}") from None
        return text
    if typ == "base64":
        try:
            base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise BadType(f"{raw!r} is not base64") from None
        return text
    if typ == "hexBinary":
        if not _HEX.fullmatch(text):
            raise BadType(f"{raw!r} is not hexBinary")
        return text
    raise BadType(f"unknown type {typ}")


def _check_item(pdef: ParamDef, item: str) -> str:
    value = parse_typed(pdef.type, item)
    if pdef.enum and value not in pdef.enum:
        raise BadValue(f"{value!r} is not one of {list(pdef.enum)}")
    if pdef.ranges and pdef.type in INT_BOUNDS:
        n = int(value)
        if not any((lo is None or n >= lo) and (hi is None or n <= hi) for lo, hi in pdef.ranges):
            shown = ", ".join(f"{'' if lo is None else lo}..{'' if hi is None else hi}"
                              for lo, hi in pdef.ranges)
            raise BadValue(f"{n} is outside the allowed range {shown}")
    if pdef.type in ("string", "base64", "hexBinary"):
        if pdef.max_length is not None and len(value) > pdef.max_length:
            raise BadValue(f"longer than {pdef.max_length} characters ({len(value)})")
        if pdef.min_length is not None and len(value) < pdef.min_length:
            raise BadValue(f"shorter than {pdef.min_length} characters ({len(value)})")
    if pdef.patterns and not any(re.fullmatch(p, value) for p in pdef.patterns):
        raise BadValue(f"{value!r} does not match the pattern {' | '.join(pdef.patterns)!r}")
    if pdef.format and value:
        _check_format(pdef.format, value)
    return value


def check(pdef: ParamDef, raw: str) -> str:
    """Validate a wire value for `pdef`; return the canonical form to store.

    Raises BadType when the value is not of the parameter's type, BadValue when it breaks
    an enumeration, range, size, pattern or format.
    """
    if not isinstance(raw, str):
        raise BadType(f"expected a string, got {type(raw).__name__}")
    if not pdef.is_list:
        return _check_item(pdef, raw)
    items = [i.strip() for i in raw.split(",")] if raw.strip() else []
    if pdef.list_min_items is not None and len(items) < pdef.list_min_items:
        raise BadValue(f"needs at least {pdef.list_min_items} items")
    if pdef.list_max_items is not None and len(items) > pdef.list_max_items:
        raise BadValue(f"allows at most {pdef.list_max_items} items")
    canon = ",".join(_check_item(pdef, i) for i in items)
    if pdef.list_max_length is not None and len(canon) > pdef.list_max_length:
        raise BadValue(f"list longer than {pdef.list_max_length} characters")
    return canon


def _check_format(fmt: str, value: str) -> None:
    if fmt in ("http_url", "transfer_url"):
        schemes = (("http", "https") if fmt == "http_url"
                   else ("http", "https", "ftp", "ftps", "sftp"))
        try:
            parts = urlsplit(value)
            port_ok = parts.port is None or 0 < parts.port < 65536
        except ValueError as e:
            raise BadValue(f"{value!r} is not a URL: {e}") from None
        if parts.scheme.lower() not in schemes or not parts.hostname or not port_ok:
            raise BadValue(f"{value!r} is not a {'/'.join(schemes)} URL with a host")
    elif fmt == "host":
        if not is_host(value):
            raise BadValue(f"{value!r} is neither a host name nor an IP address")
    elif fmt == "ip_address":
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise BadValue(f"{value!r} is not an IP address") from None
    elif fmt == "plmnid":
        if not _PLMNID.fullmatch(value):
            raise BadValue(f"{value!r} is not a PLMN ID (MCC+MNC: 5 or 6 digits)")
    elif fmt == "lacrac":
        for item in value.split(","):
            _check_lacrac(item)


def _check_lacrac(item: str) -> None:
    # "<LAC or LACrange>:<RAC or RACrange>", a range being "<start>..<end>" (TR-196 LACRAC)
    parts = item.split(":")
    if len(parts) != 2:
        raise BadValue(f"{item!r} is not LAC:RAC")
    for part, hi, what in ((parts[0], 65535, "LAC"), (parts[1], 255, "RAC")):
        m = _LACRAC_PART.fullmatch(part)
        if not m:
            raise BadValue(f"{item!r}: {what} {part!r} is not a number or range")
        lo_v = int(m.group(1))
        hi_v = int(m.group(2)) if m.group(2) is not None else lo_v
        if not lo_v <= hi_v <= hi:
            raise BadValue(f"{item!r}: {what} {part!r} outside 0..{hi} or reversed")


def is_host(value: str) -> bool:
    """A DNS host name (RFC 1123) or an IPv4/IPv6 literal."""
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        pass
    name = value[:-1] if value.endswith(".") else value
    if not name or len(name) > 253:
        return False
    labels = name.split(".")
    if labels[-1].isdigit():  # "10.0.0.300" is a bad address, not a host name
        return False
    return all(_HOST_LABEL.fullmatch(label) for label in labels)


# xsi:type local names a peer may declare, and the family each belongs to.
_DECLARED_FAMILY = {
    "string": "string", "anySimpleType": "string", "": "string",
    "int": "integer", "unsignedInt": "integer", "long": "integer", "unsignedLong": "integer",
    "signedInt": "integer", "integer": "integer", "short": "integer", "unsignedShort": "integer",
    "byte": "integer", "unsignedByte": "integer",
    "boolean": "boolean", "dateTime": "dateTime",
    "base64": "base64", "base64Binary": "base64", "hexBinary": "hexBinary",
}
_TYPE_FAMILY = {"string": "string", "int": "integer", "unsignedInt": "integer",
                "long": "integer", "unsignedLong": "integer", "boolean": "boolean",
                "dateTime": "dateTime", "base64": "base64", "hexBinary": "hexBinary"}


def check_declared(pdef: ParamDef, declared: str, raw: str) -> str:
    """Validate a value a peer sent with xsi:type `declared` (SetParameterValues, CM file).

    Liberal: a value declared as string (or undeclared) is accepted for any parameter type
    when it parses as that type; a declared type of another family is a type error
    (BadType), whatever the value.
    """
    local = declared.rsplit(":", 1)[-1].strip()
    family = _DECLARED_FAMILY.get(local)
    if family is None:
        raise BadType(f"unknown type {declared!r}")
    mine = _TYPE_FAMILY[pdef.type]
    if family == mine or family == "string":
        try:
            return check(pdef, raw)
        except BadType as e:
            if family == mine:  # right type, unreadable value: a bad value
                raise BadValue(str(e)) from None
            raise BadType(f"{e} (parameter type {pdef.type})") from None
    raise BadType(f"declared {declared}, parameter type is {pdef.type}")
