"""The HNB's live parameter tree: values, attributes, instances, notifications.

All in memory, persisted as JSON (`save`/`load`, atomic). The CWMP engine calls the
RPC-shaped methods (`get_values`, `names`, `set_values`, `get_attributes`,
`set_attributes`, `add_object`, `delete_object`), which raise `CwmpError` with the TR-069
fault code; the device's own code calls the internal ones (`set_internal`,
`add_instance`, `delete_instance`, `get`), which bypass writability and record value-change
notifications, and raise `DataModelError` on misuse.

Rules kept here (TR-069 Amendment 2, A.3.2):
- SetParameterValues is all or nothing: every parameter is checked first, each failure is
  reported (9005 unknown, 9008 not writable, 9006 wrong type, 9007 bad value) under a
  9003; ParameterKey changes only when the call succeeds.
- A change made by the ACS never notifies; a change made by the device (`set_internal`)
  does, by the parameter's notification attribute: 2 (active) -> the device must open a
  session with "4 VALUE CHANGE" now (`on_active_change` is called), 1 (passive) -> the
  value rides in the next Inform. Inform senders list `pending_notifications()` and, once
  the InformResponse arrived, `clear_notifications(those names)`.
- activeNotify canDeny: a request for active notification on such a parameter is refused
  with 9009 (on a partial path those parameters are skipped); forceEnabled: the attribute
  stays 2 whatever is asked.
- Hidden parameters (passwords) read as "" through the RPCs; `get` returns the real value.
- AddObject/DeleteObject on a table the device maintains (FaultMgmt, IKEv2SA, ...) is
  9001 (request denied); beyond the table's max_entries, 9004.
- Instance numbers are never reused within a table until a factory reset.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from lab.cwmp import rpc
from lab.cwmp.faults import CwmpError
from lab.datamodel.schema import (
    INSTANCE,
    BadType,
    BadValue,
    ObjectDef,
    ParamDef,
    Schema,
    check,
    check_declared,
    default_schema,
    generic_path,
)

STATE_FORMAT = "hnblab-datamodel"
STATE_VERSION = 1
PARAMETER_KEY = "Device.ManagementServer.ParameterKey"
PARAMETER_KEY_MAX = 32  # cwmp ParameterKeyType


class DataModelError(ValueError):
    """The device's own code misused the model, or a saved state file is unreadable."""


class DataModel:
    """The parameter tree of one HNB. Build it with `factory()` or `load()`."""

    def __init__(self, schema: Schema | None = None,
                 overrides: Mapping[str, str] | None = None) -> None:
        self.schema = schema or default_schema()
        self.on_active_change: Callable[[str], None] | None = None
        self._overrides: dict[str, str] = dict(overrides or {})
        self._getters: dict[str, Callable[[], str]] = {}
        self._reset_state()

    # ---- construction -----------------------------------------------------------------

    @classmethod
    def factory(cls, overrides: Mapping[str, str] | None = None,
                schema: Schema | None = None) -> DataModel:
        """A factory-fresh tree. `overrides` are this device's factory settings (serial
        number, initial ManagementServer.URL, SecGWServer1, ...): concrete parameter paths;
        they are the values a FactoryReset comes back to."""
        model = cls(schema, overrides)
        model._build_factory()
        return model

    def factory_reset(self) -> None:
        """Back to factory values (the overrides included); attributes, instances,
        pending notifications and ParameterKey are reset too. Bound getters stay."""
        self._reset_state()
        self._build_factory()

    def _reset_state(self) -> None:
        self._values: dict[str, str] = {}
        self._attrs: dict[str, int] = {}
        self._access: dict[str, list[str]] = {}
        self._objects: dict[str, str] = {}  # concrete object path -> "object" | "instance"
        self._tables: dict[str, list[int]] = {}  # concrete table path -> instance numbers
        self._next: dict[str, int] = {}  # concrete table path -> next instance number
        self._pending: dict[str, int] = {}  # leaf -> 1 passive / 2 active
        self._written: set[str] = set()  # writeOnceReadOnly leaves already written
        self._order_cache: list[str] | None = None

    def _build_factory(self) -> None:
        self._make_object("Device.", "Device.", None, factory=True)
        for name, value in self._overrides.items():
            pdef = self._leaf(name)
            if pdef is None:
                raise DataModelError(f"factory setting {name}: no such parameter")
            try:
                self._values[name] = check(pdef, value)
            except (BadType, BadValue) as e:
                raise DataModelError(f"factory setting {name}={value!r}: {e}") from None

    def _make_object(self, path: str, gen: str, instance: int | None, factory: bool) -> None:
        odef = self.schema.objects[gen]
        self._objects[path] = "instance" if odef.multi else "object"
        self._order_cache = None
        for ppath in odef.params:
            pdef = self.schema.params[ppath]
            leaf = path + pdef.name
            self._values[leaf] = pdef.default_for(instance)
            self._attrs[leaf] = pdef.notify
        for child in self.schema.children.get(gen, ()):
            cdef = self.schema.objects[child]
            rel = child[len(gen):]
            if not cdef.multi:
                self._make_object(path + rel, child, instance, factory)
                continue
            table = path + rel[: -len(INSTANCE) - 1]
            self._tables[table] = []
            self._next[table] = 1
            if factory:
                for k in range(cdef.factory):
                    n = self._new_instance(table, cdef, factory=True)
                    values = cdef.factory_values[k] if k < len(cdef.factory_values) else {}
                    for pname, v in values.items():
                        self._values[f"{table}{n}.{pname}"] = check(
                            self.schema.params[cdef.path + pname], v)
            self._values[self._num_entries_path(table, cdef)] = str(len(self._tables[table]))

    def _new_instance(self, table: str, cdef: ObjectDef, factory: bool = False) -> int:
        n = self._next[table]
        self._next[table] = n + 1
        self._make_object(f"{table}{n}.", cdef.path, n, factory)
        self._tables[table].append(n)
        return n

    @staticmethod
    def _num_entries_path(table: str, cdef: ObjectDef) -> str:
        parent = table[: table[:-1].rfind(".") + 1]
        assert cdef.num_entries is not None
        return parent + cdef.num_entries.rsplit(".", 1)[1]

    # ---- lookups ------------------------------------------------------------------------

    def _leaf(self, name: str) -> ParamDef | None:
        if name not in self._values:
            return None
        return self.schema.params[generic_path(name)]

    def _table_def(self, table: str) -> ObjectDef:
        return self.schema.objects[generic_path(table) + INSTANCE + "."]

    def _order_key(self, path: str) -> tuple[int, ...]:
        order = self.schema.order
        segs = path.split(".")
        key: list[int] = []
        gen: list[str] = []
        for i, seg in enumerate(segs):
            if not seg:
                break
            if seg.isdigit():
                gen.append(INSTANCE)
                key.append(int(seg))
                continue
            gen.append(seg)
            g = ".".join(gen) + ("" if i == len(segs) - 1 else ".")
            key.append(order.get(g, 1 << 30))
        return tuple(key)

    def _all_nodes(self) -> list[str]:
        """Every object, table and leaf, in tree order (cached until the shape changes)."""
        if self._order_cache is None:
            nodes = [*self._objects, *self._tables, *self._values]
            self._order_cache = sorted(nodes, key=self._order_key)
        return self._order_cache

    def _is_object(self, path: str) -> bool:
        return path in self._objects or path in self._tables

    def _expand(self, name: str) -> list[str]:
        """A full parameter name, or every leaf below a partial path (GPV/GPA semantics)."""
        if name == "":
            name = "Device."
        if name.endswith("."):
            if not self._is_object(name):
                raise CwmpError(9005, f"{name}: no such object")
            return [n for n in self._all_nodes() if n.startswith(name) and n in self._values]
        if name not in self._values:
            raise CwmpError(9005, f"{name}: no such parameter")
        return [name]

    def _writable(self, path: str) -> bool:
        if path in self._values:
            pdef = self.schema.params[generic_path(path)]
            if pdef.access == "writeOnceReadOnly":
                return path not in self._written
            return pdef.access == "readWrite"
        if path in self._tables:
            return self._table_def(path).access == "readWrite"
        if self._objects.get(path) == "instance":
            return self.schema.objects[generic_path(path)].access == "readWrite"
        return False

    def _read(self, name: str) -> str:
        getter = self._getters.get(name)
        return getter() if getter is not None else self._values[name]

    def _pv(self, name: str) -> rpc.ParameterValue:
        pdef = self.schema.params[generic_path(name)]
        value = "" if pdef.hidden else self._read(name)
        return rpc.ParameterValue(name, value, pdef.xsd_type)

    def exists(self, name: str) -> bool:
        return name in self._values or self._is_object(name)

    def get(self, name: str) -> str:
        """The raw value of a parameter (hidden ones included): for the device's own use."""
        if name not in self._values:
            raise DataModelError(f"{name}: no such parameter")
        return self._read(name)

    def param_def(self, name: str) -> ParamDef:
        pdef = self._leaf(name)
        if pdef is None:
            raise DataModelError(f"{name}: no such parameter")
        return pdef

    def instances(self, table: str) -> list[int]:
        """Instance numbers of a table ("Device.FaultMgmt.CurrentAlarm."), ascending."""
        if table not in self._tables:
            raise DataModelError(f"{table}: no such multi-instance table")
        return sorted(self._tables[table])

    def values(self, prefix: str = "Device.", *, writable_only: bool = False,
               include_hidden: bool = True) -> dict[str, str]:
        """Raw values of the leaves under `prefix`, in tree order (CM export, debugging)."""
        out: dict[str, str] = {}
        for name in self._all_nodes():
            if name not in self._values or not name.startswith(prefix):
                continue
            pdef = self.schema.params[generic_path(name)]
            if writable_only and not pdef.writable:
                continue
            if pdef.hidden and not include_hidden:
                continue
            out[name] = self._read(name)
        return out

    def bind(self, name: str, getter: Callable[[], str]) -> None:
        """Compute a read-only parameter on each read (UpTime). Not persisted."""
        if name not in self._values:
            raise DataModelError(f"{name}: no such parameter")
        self._getters[name] = getter

    def device_id(self) -> rpc.DeviceId:
        return rpc.DeviceId(
            manufacturer=self.get("Device.DeviceInfo.Manufacturer"),
            oui=self.get("Device.DeviceInfo.ManufacturerOUI"),
            product_class=self.get("Device.DeviceInfo.ProductClass"),
            serial_number=self.get("Device.DeviceInfo.SerialNumber"),
        )

    # ---- RPCs: read -------------------------------------------------------------------

    def get_values(self, names: list[str]) -> list[rpc.ParameterValue]:
        """GetParameterValues: partial paths ("....") expand to every leaf below."""
        out: list[rpc.ParameterValue] = []
        for name in names:
            out.extend(self._pv(n) for n in self._expand(name))
        return out

    def names(self, path: str, next_level: bool) -> list[rpc.ParameterInfo]:
        """GetParameterNames. Objects are listed with a trailing dot; a table is writable
        when AddObject works on it, an instance when DeleteObject does."""
        if path == "" and next_level:
            return [rpc.ParameterInfo("Device.", False)]
        if path == "":
            path = "Device."
        if not path.endswith("."):
            if path not in self._values:
                raise CwmpError(9005, f"{path}: no such parameter")
            if next_level:
                raise CwmpError(9003, f"{path} is a parameter: NextLevel must be false")
            return [rpc.ParameterInfo(path, self._writable(path))]
        if not self._is_object(path):
            raise CwmpError(9005, f"{path}: no such object")
        out = []
        for node in self._all_nodes():
            if not node.startswith(path):
                continue
            rest = node[len(path):]
            if next_level and (not rest or "." in rest.rstrip(".")):
                continue
            out.append(rpc.ParameterInfo(node, self._writable(node)))
        return out

    def get_attributes(self, names: list[str]) -> list[rpc.ParameterAttribute]:
        out: list[rpc.ParameterAttribute] = []
        for name in names:
            for n in self._expand(name):
                out.append(rpc.ParameterAttribute(n, self._notification(n),
                                                  list(self._access.get(n, []))))
        return out

    def _notification(self, name: str) -> int:
        pdef = self.schema.params[generic_path(name)]
        return 2 if pdef.active_notify == "forceEnabled" else self._attrs[name]

    # ---- RPCs: write ------------------------------------------------------------------

    def set_values(self, params: list[rpc.ParameterValue],
                   parameter_key: str | None = None) -> list[str]:
        """SetParameterValues, all or nothing. Returns the names whose value changed.

        `parameter_key` None leaves ParameterKey alone (a CM file applied after a
        Download); a string becomes the new ParameterKey when every value is accepted.
        """
        faults: list[rpc.SetParameterValuesFault] = []
        staged: dict[str, str] = {}
        duplicates: list[str] = []
        for pv in params:
            name = pv.name
            if name in staged or any(f.name == name for f in faults):
                duplicates.append(name)
                continue
            pdef = self._leaf(name)
            if pdef is None:
                what = "is an object, not a parameter" if self._is_object(name) else \
                    "no such parameter"
                faults.append(rpc.SetParameterValuesFault(name, 9005, f"{name}: {what}"))
                continue
            if not self._writable(name):
                faults.append(rpc.SetParameterValuesFault(
                    name, 9008, f"{name} is not writable ({pdef.access})"))
                continue
            try:
                staged[name] = check_declared(pdef, pv.type or "", pv.value)
            except BadType as e:
                faults.append(rpc.SetParameterValuesFault(name, 9006, f"{name}: {e}"))
            except BadValue as e:
                faults.append(rpc.SetParameterValuesFault(name, 9007, f"{name}: {e}"))
        if duplicates:
            raise CwmpError(9003, f"Invalid arguments: {', '.join(sorted(set(duplicates)))} "
                                  "given more than once", spv_faults=faults)
        if faults:
            raise CwmpError(9003, "Invalid arguments", spv_faults=faults)
        self._check_parameter_key(parameter_key)
        changed = []
        for name, value in staged.items():
            if self.schema.params[generic_path(name)].access == "writeOnceReadOnly":
                self._written.add(name)
            if self._values[name] != value:
                self._values[name] = value
                changed.append(name)
        self._set_parameter_key(parameter_key)
        return changed

    @staticmethod
    def _check_parameter_key(key: str | None) -> None:
        if key is not None and len(key) > PARAMETER_KEY_MAX:
            raise CwmpError(9003, f"ParameterKey longer than {PARAMETER_KEY_MAX} characters")

    def _set_parameter_key(self, key: str | None) -> None:
        if key is not None:
            self._values[PARAMETER_KEY] = key

    def set_attributes(self, params: list[rpc.SetParameterAttribute]) -> None:
        """SetParameterAttributes, all or nothing (9005 unknown name, 9009 active
        notification refused, 9003 bad notification value or access list)."""
        staged: list[tuple[str, int | None, list[str] | None]] = []
        for spa in params:
            partial = spa.name == "" or spa.name.endswith(".")
            leaves = self._expand(spa.name)
            if spa.notification_change and spa.notification not in (0, 1, 2):
                raise CwmpError(9003, f"{spa.name}: notification {spa.notification} "
                                      "is not 0, 1 or 2")
            if spa.access_list_change and any(a != "Subscriber" for a in spa.access_list):
                raise CwmpError(9003, f"{spa.name}: the only access list entry is Subscriber")
            for leaf in leaves:
                pdef = self.schema.params[generic_path(leaf)]
                notification: int | None = None
                if spa.notification_change:
                    notification = spa.notification
                    if notification == 2 and pdef.active_notify == "canDeny":
                        if not partial:
                            raise CwmpError(9009, f"{leaf}: active notification refused")
                        notification = None  # skipped within a partial path
                    if pdef.active_notify == "forceEnabled":
                        notification = None  # always active
                access = list(spa.access_list) if spa.access_list_change else None
                staged.append((leaf, notification, access))
        for leaf, notification, access in staged:
            if notification is not None:
                self._attrs[leaf] = notification
            if access is not None:
                if access:
                    self._access[leaf] = access
                else:
                    self._access.pop(leaf, None)

    def add_object(self, path: str, parameter_key: str | None = None) -> int:
        """AddObject on a table path ("Device.FAP.PerfMgmt.Config."): the new instance."""
        if path not in self._tables:
            what = "is an instance, not a table" if self._objects.get(path) == "instance" \
                else "no such multi-instance object"
            raise CwmpError(9005, f"{path}: {what}")
        cdef = self._table_def(path)
        if cdef.access != "readWrite":
            raise CwmpError(9001, f"{path}: instances are created by the device only")
        self._check_room(path, cdef)
        self._check_parameter_key(parameter_key)
        n = self._new_instance(path, cdef)
        self._values[self._num_entries_path(path, cdef)] = str(len(self._tables[path]))
        self._set_parameter_key(parameter_key)
        return n

    def delete_object(self, path: str, parameter_key: str | None = None) -> None:
        """DeleteObject on an instance path ("Device.FAP.PerfMgmt.Config.2.")."""
        if self._objects.get(path) != "instance":
            raise CwmpError(9005, f"{path}: no such object instance")
        table = path[: path[:-1].rfind(".") + 1]
        cdef = self._table_def(table)
        if cdef.access != "readWrite":
            raise CwmpError(9001, f"{path}: instances are deleted by the device only")
        self._check_parameter_key(parameter_key)
        self._remove_instance(path, table)
        self._values[self._num_entries_path(table, cdef)] = str(len(self._tables[table]))
        self._set_parameter_key(parameter_key)

    @staticmethod
    def _room_left(count: int, cdef: ObjectDef) -> bool:
        return cdef.max_entries is None or count < cdef.max_entries

    def _check_room(self, table: str, cdef: ObjectDef) -> None:
        if not self._room_left(len(self._tables[table]), cdef):
            raise CwmpError(9004, f"{table}: at most {cdef.max_entries} instances")

    def _remove_instance(self, path: str, table: str) -> None:
        for store in (self._values, self._attrs, self._access, self._pending, self._getters,
                      self._objects, self._tables, self._next):
            for key in [k for k in store if k.startswith(path)]:
                del store[key]
        self._written = {k for k in self._written if not k.startswith(path)}
        self._tables[table].remove(int(path[len(table):-1]))
        self._order_cache = None

    # ---- the device's own changes ---------------------------------------------------

    def set_internal(self, name: str, value: str) -> bool:
        """A change made by the device itself: bypasses writability, records a pending
        notification by the parameter's attribute. Returns whether the value changed."""
        pdef = self._leaf(name)
        if pdef is None:
            raise DataModelError(f"{name}: no such parameter")
        try:
            value = check(pdef, value)
        except (BadType, BadValue) as e:
            raise DataModelError(f"{name}={value!r}: {e}") from None
        if self._values[name] == value:
            return False
        self._values[name] = value
        level = self._notification(name)
        if level:
            self._pending[name] = max(level, self._pending.get(name, 0))
            if level == 2 and self.on_active_change is not None:
                self.on_active_change(name)
        return True

    def add_instance(self, table: str, values: Mapping[str, str] | None = None) -> int:
        """The device creates an instance (an alarm, an SA, a REM cell); `values` are
        relative to it ("EventTime", "BCCH.PLMNID") and notify like `set_internal`."""
        if table not in self._tables:
            raise DataModelError(f"{table}: no such multi-instance table")
        cdef = self._table_def(table)
        if not self._room_left(len(self._tables[table]), cdef):
            raise DataModelError(f"{table}: full ({cdef.max_entries} instances); "
                                 "delete one first")
        for rel in values or {}:
            if generic_path(cdef.path + rel) not in self.schema.params:
                raise DataModelError(f"{table}{{i}}.{rel}: no such parameter")
        n = self._new_instance(table, cdef)
        self.set_internal(self._num_entries_path(table, cdef), str(len(self._tables[table])))
        for rel, value in (values or {}).items():
            self.set_internal(f"{table}{n}.{rel}", value)
        return n

    def delete_instance(self, path: str) -> None:
        """The device removes an instance ("Device.FaultMgmt.CurrentAlarm.3.")."""
        if self._objects.get(path) != "instance":
            raise DataModelError(f"{path}: no such object instance")
        table = path[: path[:-1].rfind(".") + 1]
        self._remove_instance(path, table)
        self.set_internal(self._num_entries_path(table, self._table_def(table)),
                          str(len(self._tables[table])))

    def pending_notifications(self) -> tuple[list[str], list[str]]:
        """(active, passive): names changed by the device since the last clear."""
        ordered = sorted(self._pending, key=self._order_key)
        return ([n for n in ordered if self._pending[n] == 2],
                [n for n in ordered if self._pending[n] == 1])

    def clear_notifications(self, names: Iterable[str] | None = None) -> None:
        """Forget delivered notifications (all of them when `names` is None)."""
        if names is None:
            self._pending.clear()
        else:
            for n in names:
                self._pending.pop(n, None)

    def inform_parameters(self, include_pending: bool = True) -> list[rpc.ParameterValue]:
        """The Inform ParameterList: every forcedInform parameter (DeviceInfo
        HardwareVersion/SoftwareVersion/ProvisioningCode, ManagementServer ParameterKey/
        ConnectionRequestURL, RootDataModelVersion, FAPControl OpState/RFTxStatus ...), the
        WAN IP, the location the initial HMS needs (GPS fix, REM macro cells) when set,
        then the parameters with a pending notification."""
        names: list[str] = []
        for n in self._all_nodes():
            if n in self._values and self.schema.params[generic_path(n)].forced_inform:
                names.append(n)
        for pattern in self.schema.inform_always:
            names.extend(self._matching(pattern))
        for pattern in self.schema.inform_when_set:
            for n in self._matching(pattern):
                pdef = self.schema.params[generic_path(n)]
                if self._read(n) != pdef.default:
                    names.append(n)
        if include_pending:
            active, passive = self.pending_notifications()
            names.extend(active + passive)
        return [self._pv(n) for n in dict.fromkeys(names)]

    def _matching(self, pattern: str) -> list[str]:
        rx = re.compile(re.escape(pattern).replace(re.escape(INSTANCE), r"[0-9]+"))
        return [n for n in self._all_nodes() if n in self._values and rx.fullmatch(n)]

    # ---- persistence ----------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        defaults = {n: self.schema.params[generic_path(n)].notify for n in self._attrs}
        return {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "factory_overrides": self._overrides,
            "values": self.values(),
            "tables": {t: sorted(v) for t, v in self._tables.items()},
            "next_instance": self._next,
            "notification": {n: a for n, a in self._attrs.items() if a != defaults[n]},
            "access_lists": self._access,
            "pending": self._pending,
            "written_once": sorted(self._written),
        }

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the state as JSON atomically (temp file in the same directory, fsync,
        rename): a crash leaves the old file or the new one, never half of one."""
        target = Path(path)
        data = json.dumps(self.to_state(), indent=1, sort_keys=False).encode()
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike[str], schema: Schema | None = None) -> DataModel:
        """Read a state written by `save`. Liberal across software versions: parameters
        the table no longer defines are dropped, new ones get their defaults, values the
        table now refuses fall back to the default."""
        try:
            state = json.loads(Path(path).read_bytes())
        except (OSError, ValueError) as e:
            raise DataModelError(f"{path}: unreadable data-model state: {e}") from None
        return cls.from_state(state, schema, source=str(path))

    @classmethod
    def from_state(cls, state: Any, schema: Schema | None = None,
                   source: str = "state") -> DataModel:
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise DataModelError(f"{source}: not a {STATE_FORMAT} file")
        if state.get("version") != STATE_VERSION:
            raise DataModelError(f"{source}: version {state.get('version')!r} unsupported")
        try:
            overrides = {str(k): str(v) for k, v in state.get("factory_overrides", {}).items()}
            model = cls(schema, overrides)
            model._make_object("Device.", "Device.", None, factory=False)
            tables = state.get("tables", {})
            # parents first: a nested table is only there once its parent instance is
            for table in sorted(tables, key=lambda t: t.count(".")):
                if table not in model._tables:
                    continue
                cdef = model._table_def(table)
                for n in sorted(int(i) for i in tables[table]):
                    model._next[table] = n
                    model._new_instance(table, cdef)
                model._values[model._num_entries_path(table, cdef)] = \
                    str(len(model._tables[table]))
            for table, n in state.get("next_instance", {}).items():
                if table in model._next:
                    model._next[table] = max(model._next[table], int(n))
            for name, value in state.get("values", {}).items():
                pdef = model._leaf(name)
                if pdef is None or name.endswith("NumberOfEntries"):
                    continue
                with contextlib.suppress(BadType, BadValue):  # else keep the default
                    model._values[name] = check(pdef, str(value))
            for name, level in state.get("notification", {}).items():
                if name in model._attrs and int(level) in (0, 1, 2):
                    model._attrs[name] = int(level)
            for name, acl in state.get("access_lists", {}).items():
                if name in model._values:
                    model._access[name] = [str(a) for a in acl]
            for name, level in state.get("pending", {}).items():
                if name in model._values and int(level) in (1, 2):
                    model._pending[name] = int(level)
            model._written = {n for n in state.get("written_once", []) if n in model._values}
        except (AttributeError, KeyError, TypeError, ValueError) as e:
            raise DataModelError(f"{source}: malformed data-model state: {e}") from None
        return model
