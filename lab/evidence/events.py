"""The event record: one JSON object per line in `<run>/events/<node>.jsonl`.

Every node (DNS, SeGW, HMS, HNB-GW, HNB) writes the same record, so the flow matcher and
the ladder diagram read one shape:

    time     float, seconds since the epoch (UTC), when the node saw or did the thing
    node     str, the node that wrote the record (topology node name)
    kind     str, dotted "<area>.<what>", e.g. "dns.query", "cwmp.rx", "ike.up", "node.ready"
    peer     str | None, the other end (node name when known, else an address)
    summary  str, one line a person reads ("Inform 0 BOOTSTRAP,1 BOOT")
    fields   dict, machine-readable details; messages carry "dir": "in" | "out" and
             "msg" (the message name, e.g. "Inform", "SetParameterValuesResponse")

Writers append and flush a whole line at a time, so a reader sees complete records even
while the node runs; readers skip a torn last line instead of failing.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, is_dataclass
from io import FileIO
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
MEMORY = 10_000


@dataclass(frozen=True)
class Event:
    time: float
    node: str
    kind: str
    peer: str | None
    summary: str
    fields: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        # not dataclasses.asdict: its deep copy of `fields` cost more than the HMS's CWMP
        # work per event; _plain turns a dataclass in the fields into a dict as asdict did
        return _ENCODER.encode({"time": self.time, "node": self.node, "kind": self.kind,
                                "peer": self.peer, "summary": self.summary,
                                "fields": self.fields})

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Event:
        return cls(
            time=float(d["time"]),
            node=str(d["node"]),
            kind=str(d["kind"]),
            peer=d.get("peer"),
            summary=str(d.get("summary", "")),
            fields=dict(d.get("fields") or {}),
        )


def _plain(o: Any) -> Any:
    if is_dataclass(o) and not isinstance(o, type):
        return asdict(o)
    return str(o)


# what json.dumps(..., separators=(",", ":"), default=_plain) builds on every call, once
_ENCODER = json.JSONEncoder(separators=(",", ":"), default=_plain)


class EventLog:
    """Appends events of one node to a JSON-lines file (when `path` is given) and keeps
    the most recent MEMORY of them in `memory` (in-process tests read it; bounded, so a
    long-running node does not grow). Thread-safe; also mirrors each event to logging.

    The file stays open (append mode, one unbuffered write per event, so the line is in
    the file when emit returns): opening it per event cost more than the CWMP work in the
    HMS's hot path. O_APPEND keeps lines whole when a second process (an operator control
    command) appends to the same file."""

    def __init__(self, node: str, path: Path | str | None = None) -> None:
        self.node = node
        self.path = Path(path) if path else None
        self._lock = threading.Lock()
        self.memory: deque[Event] = deque(maxlen=MEMORY)
        self._fh: FileIO | None = None
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # raw, not a text file: one write(2) per line and no buffer to flush
            self._fh = self.path.open("ab", buffering=0)

    def emit(self, kind: str, summary: str, peer: str | None = None, **fields: Any) -> Event:
        ev = Event(time=time.time(), node=self.node, kind=kind, peer=peer, summary=summary,
                   fields=fields)
        line = (ev.to_json() + "\n").encode("utf-8")
        with self._lock:
            self.memory.append(ev)
            if self._fh is not None:
                written = self._fh.write(line)
                while written is not None and written < len(line):  # a short write: rare
                    line = line[written:]
                    written = self._fh.write(line)
        log.info("%s %s%s", kind, summary, f" <-> {peer}" if peer else "")
        return ev

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None


def read_events(paths: Iterable[Path | str]) -> list[Event]:
    """All events of the given files, ordered by time. A malformed line is skipped with a
    warning that names the file and line (a node killed mid-write leaves a torn line)."""
    out: list[Event] = []
    for p in paths:
        out.extend(_read_one(Path(p)))
    out.sort(key=lambda e: e.time)
    return out


def _read_one(path: Path) -> Iterator[Event]:
    if not path.exists():
        return
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield Event.from_dict(json.loads(line))
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("%s:%d: skipped malformed event line (%s)", path, n, exc)


def read_run_events(run_dir: Path | str) -> list[Event]:
    return read_events(sorted((Path(run_dir) / "events").glob("*.jsonl")))


class EventTail:
    """The events a run's nodes write from now on, read incrementally: each poll parses
    only the lines added since the last one, so waiting on a lab that has run for hours
    costs what its new events cost, not its whole history. A line still being written
    is left for the next poll."""

    def __init__(self, run_dir: Path | str) -> None:
        self.dir = Path(run_dir) / "events"
        self.events: list[Event] = []
        self._pos: dict[Path, int] = {p: _line_start(p) for p in self._files()}

    def _files(self) -> list[Path]:
        return sorted(self.dir.glob("*.jsonl"))

    def poll(self) -> list[Event]:
        """The new events (also appended to `events`, which stays in time order)."""
        new: list[Event] = []
        for path in self._files():
            pos = self._pos.get(path, 0)
            try:
                with path.open("rb") as f:
                    f.seek(pos)
                    chunk = f.read()
            except OSError:
                continue
            end = chunk.rfind(b"\n") + 1  # whole lines only
            for n, line in enumerate(chunk[:end].splitlines()):
                if not line.strip():
                    continue
                try:
                    new.append(Event.from_dict(json.loads(line)))
                except (ValueError, KeyError, TypeError) as exc:
                    log.warning("%s: skipped malformed event line %d after byte %d (%s)",
                                path, n + 1, pos, exc)
            self._pos[path] = pos + end
        if new:
            new.sort(key=lambda e: e.time)
            self.events.extend(new)
            if self.events and len(self.events) > len(new) and \
                    self.events[-len(new) - 1].time > new[0].time:
                self.events.sort(key=lambda e: e.time)
        return new


def _line_start(path: Path) -> int:
    """The end of the last whole line of a file (a line being written is read later)."""
    with path.open("rb") as f:
        data = f.read()
    return data.rfind(b"\n") + 1
