"""What a run shows: its events, and the messages they record, sender and receiver resolved.

A message is recorded by its sender (dir "out"), its receiver (dir "in") or both: the HNB
writes "cwmp.tx Inform" and the HMS "cwmp.rx Inform" for the one Inform on the wire. Both
records become one Message when they name the same message between the same two nodes in
the same direction within PAIR_WINDOW_S, and agree on the keys both carry (cwmp_id, qname,
identity, status). A message's time is its receiver's record when there is one: a sender
may log before the message can leave (the HNB logs its Inform, then resolves the HMS name
while connecting), so the arrival is what orders it among the other steps.

Annotations the matcher uses: an HMS request carries the purpose of the task that sent it
("assign", "provision", "alarm-config", ...; from the hms.task.sent event just before, in
the same CWMP session); a response or Fault names its `request` and inherits its purpose
and parameter `names` (same cwmp:ID, the other direction).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lab.evidence.events import Event
from lab.evidence.peers import PeerResolver
from lab.topology import Topology

PAIR_WINDOW_S = 3.0
TASK_WINDOW_S = 2.0
KEY_FIELDS = ("cwmp_id", "qname", "identity", "status")
# What a response takes over from its request: the task's purpose, the parameter names.
INHERITED = ("purpose", "task", "names")
# Records with dir/msg that are not a message of their own on the wire.
NOT_MESSAGES = {"ike.child_up", "ike.child_down"}


@dataclass
class Message:
    index: int
    time: float                # the receiver's record, else the only one
    name: str                  # "Inform", "DNSQuery", "IKE_AUTH", "HNBRegisterRequest", ...
    src: str | None            # sending node (None: not resolvable)
    dst: str | None
    records: list[Event]
    fields: dict[str, Any] = field(default_factory=dict)  # sender's, then receiver's, + notes

    @property
    def delivered(self) -> bool:
        """The receiver recorded it (a sender's record alone may be a message that never
        left: the HNB logs its Inform before it connects)."""
        return any(r.fields.get("dir") == "in" for r in self.records)

    @property
    def area(self) -> str:
        return self.records[0].kind.split(".", 1)[0]

    @property
    def summary(self) -> str:
        for r in self.records:  # the sender's summary reads best
            if r.fields.get("dir") == "out":
                return r.summary
        return self.records[0].summary

    @property
    def src_label(self) -> str:
        return self.src or _raw_end(self.records, "out")

    @property
    def dst_label(self) -> str:
        return self.dst or _raw_end(self.records, "in")


def _raw_end(records: list[Event], d: str) -> str:
    for r in records:
        if r.fields.get("dir") != d:
            return str(r.peer or "?")
    return "?"


class Observation:
    """A run's events, resolver and messages. Build once, match many flows against it."""

    def __init__(self, events: Iterable[Event], topology: Topology | None = None,
                 resolver: PeerResolver | None = None) -> None:
        self.events: list[Event] = sorted(events, key=lambda e: e.time)
        self.topology = topology
        self.resolver = resolver or PeerResolver(topology, self.events)
        self.messages: list[Message] = []
        self.message_of: dict[int, Message] = {}  # id(event) -> its message
        self.other: dict[int, str | None] = {}    # id(event) -> resolved other end
        for e in self.events:
            self.other[id(e)] = self.resolver.other_end(e)
        self._build_messages()
        self._annotate_purposes()

    def other_end(self, e: Event) -> str | None:
        if id(e) in self.other:
            return self.other[id(e)]
        return self.resolver.other_end(e)

    def message(self, e: Event) -> Message | None:
        return self.message_of.get(id(e))

    # ---- pairing -------------------------------------------------------------------------------

    def _build_messages(self) -> None:
        open_: list[Message] = []  # messages with one record, still pairable
        for e in self.events:
            d, name = e.fields.get("dir"), e.fields.get("msg")
            if d not in ("in", "out") or not name or e.kind in NOT_MESSAGES:
                continue
            other = self.other[id(e)]
            src, dst = (e.node, other) if d == "out" else (other, e.node)
            open_ = [m for m in open_ if e.time - m.records[0].time <= PAIR_WINDOW_S]
            mate = next((m for m in open_ if self._pairs(m, e, str(name), src, dst, d)), None)
            if mate is not None:
                mate.records.append(e)
                mate.fields = _merge(mate.records)
                if d == "in":
                    mate.time = e.time
                open_.remove(mate)
                self.message_of[id(e)] = mate
                continue
            m = Message(len(self.messages), e.time, str(name), src, dst, [e], dict(e.fields))
            self.messages.append(m)
            self.message_of[id(e)] = m
            open_.append(m)

    @staticmethod
    def _pairs(m: Message, e: Event, name: str, src: str | None, dst: str | None,
               d: str) -> bool:
        first = m.records[0]
        if m.name != name or first.node == e.node or first.fields.get("dir") == d:
            return False
        if src is None or dst is None or (m.src, m.dst) != (src, dst):
            return False
        for k in KEY_FIELDS:
            a, b = first.fields.get(k), e.fields.get(k)
            if a is not None and b is not None and str(a) != str(b):
                return False
        return True

    # ---- annotations --------------------------------------------------------------------------

    def _annotate_purposes(self) -> None:
        sent = [e for e in self.events if e.kind == "hms.task.sent"]
        by_id: dict[tuple[str | None, str | None, str], Message] = {}
        for m in self.messages:
            if m.area != "cwmp":
                continue
            out = next((r for r in m.records if r.fields.get("dir") == "out"), None)
            if out is not None and out.kind == "cwmp.tx" and out.node == m.src:
                task = _task_before(sent, out)
                if task is not None:
                    for k in ("purpose", "task", "task_kind"):
                        m.fields[k] = task.fields.get(k)
            cid = m.fields.get("cwmp_id")
            if cid is None:
                continue
            req = by_id.get((m.dst, m.src, str(cid)))
            if req is not None and "request" not in req.fields:
                m.fields["request"] = req.name  # a response (or Fault) names its request
                for k in INHERITED:
                    if req.fields.get(k) is not None and m.fields.get(k) is None:
                        m.fields[k] = req.fields[k]
            by_id[(m.src, m.dst, str(cid))] = m


def _task_before(sent: list[Event], out: Event) -> Event | None:
    best = None
    for t in sent:
        if t.time > out.time:
            break
        if (t.node == out.node and out.time - t.time <= TASK_WINDOW_S
                and t.fields.get("session") == out.fields.get("session")
                and t.fields.get("task_kind") and _kind_matches(t, out)):
            best = t
    return best


_TASK_MSG = {"SPV": "SetParameterValues", "GPV": "GetParameterValues",
             "SPA": "SetParameterAttributes", "GPA": "GetParameterAttributes",
             "GPN": "GetParameterNames"}


def _kind_matches(task: Event, out: Event) -> bool:
    kind = str(task.fields.get("task_kind"))
    return _TASK_MSG.get(kind, kind) == out.fields.get("msg")


def _merge(records: list[Event]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for r in sorted(records, key=lambda r: r.fields.get("dir") != "out"):
        for k, v in r.fields.items():
            if out.get(k) is None:
                out[k] = v
    return out
