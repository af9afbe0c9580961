"""The HMS's embedded store: SQLite in WAL mode, one connection per process.

Tables: devices, tasks (per-device queue), alarms_current + alarm_history, files (CM
offered, PM received), audit (every event the HMS emits), refused (unknown devices the
ACS turned away, the REFUSED_KEEP most recently seen: a refused device is not a device,
so spoofed Informs cannot grow the devices table), schema_version. Calls are short
and synchronous; one lock serialises them because the FTP server thread writes too.
Everything the HMS knows lives here, so a restart loses no device, task or alarm; a task
that was `sent` in a session the restart killed goes back to `queued` (see `open`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1

TASK_KINDS = ("SPV", "GPV", "SPA", "GPA", "AddObject", "DeleteObject", "Download", "Upload",
              "Reboot", "FactoryReset")
TASK_STATES = ("queued", "sent", "done", "failed")
DEVICE_STATES = ("new", "registered", "deprovisioned")
REFUSED_KEEP = 1000  # refused unknown devices remembered; the least recently seen go first

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS devices (
    id TEXT PRIMARY KEY,              -- "<OUI>-<SerialNumber>"
    oui TEXT NOT NULL,
    manufacturer TEXT NOT NULL DEFAULT '',
    product_class TEXT NOT NULL DEFAULT '',
    serial TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'new' CHECK (state IN ('new','registered','deprovisioned')),
    allowed INTEGER NOT NULL DEFAULT 1,
    first_seen REAL NOT NULL,
    last_inform REAL,
    last_events TEXT NOT NULL DEFAULT '[]',
    ip TEXT NOT NULL DEFAULT '',
    inner_ip TEXT NOT NULL DEFAULT '',
    cr_url TEXT NOT NULL DEFAULT '',
    cr_username TEXT NOT NULL DEFAULT '',
    cr_password TEXT NOT NULL DEFAULT '',
    location TEXT NOT NULL DEFAULT '{}',
    assigned TEXT NOT NULL DEFAULT '{}',
    params TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS tasks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device TEXT NOT NULL REFERENCES devices(id),
    kind TEXT NOT NULL,
    args TEXT NOT NULL DEFAULT '{}',
    purpose TEXT NOT NULL DEFAULT 'operator',
    state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued','sent','done','failed')),
    awaiting_transfer INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    result TEXT NOT NULL DEFAULT '{}',
    created REAL NOT NULL,
    sent REAL,
    finished REAL
);
CREATE INDEX IF NOT EXISTS tasks_device_state ON tasks(device, state, id);
CREATE TABLE IF NOT EXISTS alarms_current (
    device TEXT NOT NULL,
    alarm_id TEXT NOT NULL,
    data TEXT NOT NULL,
    raised REAL NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (device, alarm_id)
);
CREATE TABLE IF NOT EXISTS alarm_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device TEXT NOT NULL,
    alarm_id TEXT NOT NULL,
    notification_type TEXT NOT NULL,
    event_time TEXT NOT NULL,
    data TEXT NOT NULL,
    received REAL NOT NULL,
    UNIQUE (device, alarm_id, notification_type, event_time)
);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('cm','pm')),
    name TEXT NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    transport TEXT NOT NULL,
    device TEXT,
    user TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS refused (
    id TEXT PRIMARY KEY,              -- "<OUI>-<SerialNumber>" of a device not in devices
    oui TEXT NOT NULL,
    serial TEXT NOT NULL,
    manufacturer TEXT NOT NULL DEFAULT '',
    product_class TEXT NOT NULL DEFAULT '',
    ip TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    count INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS refused_last_seen ON refused(last_seen);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,
    kind TEXT NOT NULL,
    device TEXT,
    summary TEXT NOT NULL,
    fields TEXT NOT NULL DEFAULT '{}'
);
"""


@dataclass
class Device:
    id: str
    oui: str
    serial: str
    manufacturer: str = ""
    product_class: str = ""
    state: str = "new"
    allowed: bool = True
    first_seen: float = 0.0
    last_inform: float | None = None
    last_events: list[str] = field(default_factory=list)
    ip: str = ""
    inner_ip: str = ""
    cr_url: str = ""
    cr_username: str = ""
    cr_password: str = ""
    location: dict[str, Any] = field(default_factory=dict)
    assigned: dict[str, Any] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)

    def to_json(self, with_params: bool = True) -> dict[str, Any]:
        d = asdict(self)
        d.pop("cr_password")  # never leaves the HMS
        if not with_params:
            d.pop("params")
        return d


@dataclass
class Task:
    id: int
    device: str
    kind: str
    args: dict[str, Any]
    purpose: str
    state: str
    awaiting_transfer: bool
    attempts: int
    result: dict[str, Any]
    created: float
    sent: float | None
    finished: float | None

    @property
    def command_key(self) -> str:
        # Download/Upload/Reboot carry it, TransferComplete echoes it back.
        return f"hms-task-{self.id}"

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        if self.kind in ("Download", "Upload"):
            d["args"] = {k: ("***" if k == "password" else v) for k, v in self.args.items()}
        return d


def task_id_from_command_key(key: str) -> int | None:
    if key.startswith("hms-task-") and key[9:].isdigit():
        return int(key[9:])
    return None


@dataclass
class FileRecord:
    id: int
    kind: str
    name: str
    path: str
    size: int
    sha256: str
    transport: str
    device: str | None
    user: str
    created: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


_JSON_COLS = {"last_events", "location", "assigned", "params", "args", "result", "data", "fields"}
_DEVICE_SETTABLE = frozenset(Device.__dataclass_fields__) - {"id", "first_seen"}
# json.dumps(fields, default=str) without building an encoder per event
_AUDIT_JSON = json.JSONEncoder(default=str)


def _row(r: sqlite3.Row) -> dict[str, Any]:
    d = dict(r)
    for k in _JSON_COLS & d.keys():
        d[k] = json.loads(d[k])
    return d


class Store:
    """One SQLite database. Open with `Store.open(path)`; close with `close()`."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self._lock = threading.RLock()
        # audit rows not written yet: they go in with the next transaction, or at the end
        # of the event-loop turn that made them (one commit, not one each); audit_log
        # writes them before it reads
        self._pending_audit: list[tuple[float, str, str | None, str, str]] = []

    @classmethod
    def open(cls, path: Path | str) -> Store:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a process crash (the case the lab has); only an OS
        # crash may lose the last transactions.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        store = cls(conn, path)
        store._migrate()
        store._recover_after_restart()
        return store

    def close(self) -> None:
        with self._lock:
            self.flush_audit()
            self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                pending = self._pending_audit
                if pending:
                    self._conn.executemany(
                        "INSERT INTO audit (time, kind, device, summary, fields) "
                        "VALUES (?,?,?,?,?)", pending)
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            if pending:
                del pending[:]

    def _q(self, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with self._lock:
            return [_row(r) for r in self._conn.execute(sql, args).fetchall()]

    def _migrate(self) -> None:
        with self._tx() as c:
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    c.execute(stmt)
            row = c.execute("SELECT version FROM schema_version").fetchone()
            if row is None:
                c.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
            elif row[0] > SCHEMA_VERSION:
                raise RuntimeError(f"{self.path}: store schema version {row[0]} is newer than "
                                   f"this HMS ({SCHEMA_VERSION})")

    def schema_version(self) -> int:
        return int(self._q("SELECT version FROM schema_version")[0]["version"])

    def _recover_after_restart(self) -> None:
        # A session does not survive a restart: a request that was on the wire gets sent
        # again in the device's next session. Downloads/Uploads the CPE already accepted
        # stay `sent`: their TransferComplete will still come.
        with self._tx() as c:
            c.execute("UPDATE tasks SET state='queued' WHERE state='sent' AND awaiting_transfer=0")

    # ---- devices -------------------------------------------------------------------

    def get_device(self, device_id: str) -> Device | None:
        with self._lock:
            return self._device(self._conn, device_id)

    def has_device(self, device_id: str) -> bool:
        with self._lock:
            return self._conn.execute("SELECT 1 FROM devices WHERE id=?",
                                      (device_id,)).fetchone() is not None

    def list_devices(self) -> list[Device]:
        return [Device(**{**r, "allowed": bool(r["allowed"])})
                for r in self._q("SELECT * FROM devices ORDER BY id")]

    def upsert_device(self, device_id: str, *, oui: str, serial: str,
                      merge_params: dict[str, str] | None = None, **fields: Any) -> Device:
        """Create the device if new, then set `fields` (JSON columns given as objects) and
        merge `merge_params` into its parameter snapshot (after a `params` in `fields`), all
        in one transaction (an Inform's whole write)."""
        self._check_fields(fields)
        with self._tx() as c:
            row = c.execute("SELECT params FROM devices WHERE id=?", (device_id,)).fetchone()
            if row is None:
                c.execute("INSERT INTO devices (id, oui, serial, first_seen) VALUES (?,?,?,?)",
                          (device_id, oui, serial, time.time()))
                c.execute("DELETE FROM refused WHERE id=?", (device_id,))  # known now
                old_params = "{}"
            else:
                old_params = row[0]
            if "params" in fields:
                if merge_params:
                    fields = {**fields, "params": {**fields["params"], **merge_params}}
            elif merge_params:
                snap = json.loads(old_params)
                merged = {**snap, **merge_params}
                if merged != snap:  # the usual periodic Inform changes no value
                    fields = {**fields, "params": merged}
            self._set_fields(c, device_id, fields)
            dev = self._device(c, device_id)
        assert dev is not None
        return dev

    def update_device(self, device_id: str, **fields: Any) -> Device:
        self._check_fields(fields)
        with self._tx() as c:
            self._set_fields(c, device_id, fields)
            dev = self._device(c, device_id)
        if dev is None:
            raise KeyError(device_id)
        return dev

    def merge_params(self, device_id: str, params: dict[str, str]) -> None:
        """Merge values into the device's parameter snapshot (no write when none changed)."""
        with self._tx() as c:
            row = c.execute("SELECT params FROM devices WHERE id=?", (device_id,)).fetchone()
            if row is None:
                return
            snap = json.loads(row[0])
            merged = {**snap, **params}
            if merged != snap:
                c.execute("UPDATE devices SET params=? WHERE id=?",
                          (json.dumps(merged), device_id))

    @staticmethod
    def _device(c: sqlite3.Connection, device_id: str) -> Device | None:
        row = c.execute("SELECT * FROM devices WHERE id=?", (device_id,)).fetchone()
        return Device(**{**_row(row), "allowed": bool(row["allowed"])}) if row else None

    @staticmethod
    def _check_fields(fields: dict[str, Any]) -> None:
        bad = set(fields) - _DEVICE_SETTABLE
        if bad:
            raise ValueError(f"unknown device field(s): {', '.join(sorted(bad))}")
        if "state" in fields and fields["state"] not in DEVICE_STATES:
            raise ValueError(f"device state {fields['state']!r} not one of {DEVICE_STATES}")

    @staticmethod
    def _set_fields(c: sqlite3.Connection, device_id: str, fields: dict[str, Any]) -> None:
        """One UPDATE for all `fields` (names checked by _check_fields)."""
        if not fields:
            return
        values = []
        for k, v in fields.items():
            if k in _JSON_COLS:
                v = json.dumps(v)
            elif k == "allowed":
                v = int(bool(v))
            values.append(v)
        cols = ", ".join(f"{k}=?" for k in fields)  # k: a checked column name
        c.execute(f"UPDATE devices SET {cols} WHERE id=?", (*values, device_id))

    # ---- refused unknown devices -----------------------------------------------------

    def record_refused(self, device_id: str, *, oui: str, serial: str, reason: str,
                       manufacturer: str = "", product_class: str = "",
                       ip: str = "") -> dict[str, Any]:
        """Note that an unknown device was refused (its count and last time, latest
        reason and address); keeps the REFUSED_KEEP most recently seen. Returns the row."""
        now = time.time()
        with self._tx() as c:
            c.execute(
                "INSERT INTO refused (id, oui, serial, manufacturer, product_class, ip, reason, "
                "first_seen, last_seen) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE "
                "SET manufacturer=excluded.manufacturer, product_class=excluded.product_class, "
                "ip=excluded.ip, reason=excluded.reason, last_seen=excluded.last_seen, "
                "count=count+1",
                (device_id, oui, serial, manufacturer, product_class, ip, reason, now, now))
            c.execute("DELETE FROM refused WHERE id NOT IN (SELECT id FROM refused ORDER BY "
                      "last_seen DESC, rowid DESC LIMIT ?)", (REFUSED_KEEP,))
            # just written, the most recently seen: the prune above keeps it
            return _row(c.execute("SELECT * FROM refused WHERE id=?", (device_id,)).fetchone())

    def list_refused(self) -> list[dict[str, Any]]:
        """The refused unknown devices, most recently seen first."""
        return self._q("SELECT * FROM refused ORDER BY last_seen DESC, rowid DESC")

    def admit_refused(self, device_id: str) -> Device | None:
        """The operator admits a refused unknown device: it becomes a device (allowed,
        state new) and leaves the refused list. None when no such device was refused."""
        with self._tx() as c:
            row = c.execute("SELECT * FROM refused WHERE id=?", (device_id,)).fetchone()
            if row is None:
                return None
            c.execute("INSERT OR IGNORE INTO devices (id, oui, serial, manufacturer, "
                      "product_class, ip, allowed, first_seen) VALUES (?,?,?,?,?,?,1,?)",
                      (device_id, row["oui"], row["serial"], row["manufacturer"],
                       row["product_class"], row["ip"], row["first_seen"]))
            c.execute("DELETE FROM refused WHERE id=?", (device_id,))
        return self.get_device(device_id)

    # ---- tasks ---------------------------------------------------------------------

    def add_task(self, device_id: str, kind: str, args: dict[str, Any] | None = None,
                 purpose: str = "operator") -> Task:
        if kind not in TASK_KINDS:
            raise ValueError(f"task kind {kind!r} not one of {', '.join(TASK_KINDS)}")
        with self._tx() as c:
            cur = c.execute(
                "INSERT INTO tasks (device, kind, args, purpose, created) VALUES (?,?,?,?,?)",
                (device_id, kind, json.dumps(args or {}), purpose, time.time()))
            task_id = cur.lastrowid
        task = self.get_task(int(task_id or 0))
        assert task is not None
        return task

    def get_task(self, task_id: int) -> Task | None:
        rows = self._q("SELECT * FROM tasks WHERE id=?", (task_id,))
        return self._task(rows[0]) if rows else None

    @staticmethod
    def _task(r: dict[str, Any]) -> Task:
        return Task(**{**r, "awaiting_transfer": bool(r["awaiting_transfer"])})

    def list_tasks(self, device_id: str | None = None, state: str | None = None) -> list[Task]:
        sql, args = "SELECT * FROM tasks WHERE 1=1", []
        if device_id is not None:
            sql += " AND device=?"
            args.append(device_id)
        if state is not None:
            sql += " AND state=?"
            args.append(state)
        return [self._task(r) for r in self._q(sql + " ORDER BY id", tuple(args))]

    def next_task(self, device_id: str) -> Task | None:
        rows = self._q("SELECT * FROM tasks WHERE device=? AND state='queued' ORDER BY id LIMIT 1",
                       (device_id,))
        return self._task(rows[0]) if rows else None

    def pending_purposes(self, device_id: str) -> set[str]:
        """Purposes of tasks not finished yet (to avoid queueing the same plan twice)."""
        rows = self._q("SELECT DISTINCT purpose FROM tasks WHERE device=? AND state IN "
                       "('queued','sent')", (device_id,))
        return {r["purpose"] for r in rows}

    def mark_sent(self, task_id: int) -> None:
        with self._tx() as c:
            c.execute("UPDATE tasks SET state='sent', sent=?, attempts=attempts+1 WHERE id=?",
                      (time.time(), task_id))

    def await_transfer(self, task_id: int, result: dict[str, Any]) -> None:
        with self._tx() as c:
            c.execute("UPDATE tasks SET awaiting_transfer=1, result=? WHERE id=?",
                      (json.dumps(result), task_id))

    def requeue(self, task_id: int) -> None:
        with self._tx() as c:
            c.execute("UPDATE tasks SET state='queued' WHERE id=? AND state='sent'", (task_id,))

    def finish_task(self, task_id: int, ok: bool, result: dict[str, Any]) -> Task:
        with self._tx() as c:
            c.execute("UPDATE tasks SET state=?, result=?, finished=?, awaiting_transfer=0 "
                      "WHERE id=?", ("done" if ok else "failed", json.dumps(result),
                                     time.time(), task_id))
        task = self.get_task(task_id)
        assert task is not None
        return task

    # ---- alarms --------------------------------------------------------------------

    def apply_alarm(self, device_id: str, alarm_id: str, notification_type: str,
                    event_time: str, data: dict[str, str]) -> bool:
        """Record one alarm notification; False when it was already recorded (the same
        event re-sent in a later Inform)."""
        now = time.time()
        with self._tx() as c:
            cur = c.execute(
                "INSERT OR IGNORE INTO alarm_history (device, alarm_id, notification_type, "
                "event_time, data, received) VALUES (?,?,?,?,?,?)",
                (device_id, alarm_id, notification_type, event_time, json.dumps(data), now))
            if cur.rowcount == 0:
                return False
            if notification_type == "ClearedAlarm":
                c.execute("DELETE FROM alarms_current WHERE device=? AND alarm_id=?",
                          (device_id, alarm_id))
            else:
                c.execute(
                    "INSERT INTO alarms_current (device, alarm_id, data, raised, updated) "
                    "VALUES (?,?,?,?,?) ON CONFLICT(device, alarm_id) DO UPDATE SET "
                    "data=excluded.data, updated=excluded.updated",
                    (device_id, alarm_id, json.dumps(data), now, now))
        return True

    def current_alarms(self, device_id: str | None = None) -> list[dict[str, Any]]:
        if device_id is None:
            return self._q("SELECT * FROM alarms_current ORDER BY device, alarm_id")
        return self._q("SELECT * FROM alarms_current WHERE device=? ORDER BY alarm_id",
                       (device_id,))

    def alarm_history(self, device_id: str | None = None) -> list[dict[str, Any]]:
        if device_id is None:
            return self._q("SELECT * FROM alarm_history ORDER BY id")
        return self._q("SELECT * FROM alarm_history WHERE device=? ORDER BY id", (device_id,))

    # ---- files ---------------------------------------------------------------------

    def add_file(self, *, kind: str, name: str, path: str, size: int, sha256: str,
                 transport: str, device: str | None = None, user: str = "") -> FileRecord:
        with self._tx() as c:
            cur = c.execute(
                "INSERT INTO files (kind, name, path, size, sha256, transport, device, user, "
                "created) VALUES (?,?,?,?,?,?,?,?,?)",
                (kind, name, path, size, sha256, transport, device, user, time.time()))
            file_id = cur.lastrowid
        return FileRecord(**self._q("SELECT * FROM files WHERE id=?", (file_id,))[0])

    def list_files(self, kind: str | None = None) -> list[FileRecord]:
        if kind is None:
            return [FileRecord(**r) for r in self._q("SELECT * FROM files ORDER BY id")]
        return [FileRecord(**r) for r in self._q("SELECT * FROM files WHERE kind=? ORDER BY id",
                                                 (kind,))]

    # ---- audit ---------------------------------------------------------------------

    def audit(self, t: float, kind: str, device: str | None, summary: str,
              fields: dict[str, Any]) -> None:
        """Record an event. In an event loop the row is written at the end of the loop's
        turn (with the rows of the same turn, or sooner with another write); from any
        other thread at once."""
        row = (t, kind, device, summary, _AUDIT_JSON.encode(fields))
        with self._lock:
            self._pending_audit.append(row)
            first = len(self._pending_audit) == 1
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush_audit()
            return
        if first:
            loop.call_soon(self._flush_audit_soon)

    def flush_audit(self) -> None:
        """Write the audit rows not written yet (a no-op when there are none)."""
        with self._lock:
            if self._pending_audit:
                with self._tx():
                    pass

    def _flush_audit_soon(self) -> None:
        with contextlib.suppress(sqlite3.ProgrammingError):  # closed meanwhile: close()
            self.flush_audit()                                 # flushed what it had

    def audit_log(self, device_id: str | None = None,
                  kind_prefix: str = "") -> list[dict[str, Any]]:
        self.flush_audit()
        sql, args = "SELECT * FROM audit WHERE kind LIKE ?", [kind_prefix + "%"]
        if device_id is not None:
            sql += " AND device=?"
            args.append(device_id)
        return self._q(sql + " ORDER BY id", tuple(args))
