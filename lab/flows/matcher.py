"""Match a run against a flow: a verdict per step, in the spec's order.

For each step, in order:
  - its `when` facts do not hold                -> skipped (the step's `unless`, or the facts)
  - its proof is seen at or after the cursor    -> passed, with the evidence and its time
  - its `fail` predicate is seen instead        -> failed, with that evidence
  - its proof is seen only before the cursor    -> failed, "out of order"
  - nothing                                     -> missing (mandatory) / skipped (optional)
A mandatory step whose `when` facts are not known (a fact is None) is looked for all the
same: seen, it passes; not seen, it is missing, its reason naming the unknown facts (an
unknown fact must not quietly excuse a step).
The cursor starts at `start` and moves to the time of each passed mandatory step that
anchors, so a step is looked for only after its predecessor. Optional steps do not move
it: "may" steps are not order anchors.

Evidence for `p | q` is the earliest alternative; for `sides(p, q)` also the other sides'
records within ALSO_S of it (the same fact as the other element recorded it). For `p & q`
it is the earliest moment T by which every part has been seen, with each part's latest
sighting up to T (so "Inform & hms.alarm" picks the Inform the alarm arrived in).

Unexpected, listed in the result when no step uses them as evidence:
  - events in the window between bound nodes that say something went wrong (a CWMP
    Fault, an IKE authentication failure, a refused registration, ...: UNEXPECTED);
  - CWMP requests the bound HMSs sent the HNB in the window that no step claims (an
    unrequested SetParameterValues, a second Download, a read-back GetParameterValues),
    informational.
They do not change the verdict; missing or failed mandatory steps do.

Wire proofs (a step's `wire`), when `match` is given the scenario's captures
(lab.evidence.wire.WireFacts), are checked for each step that passed on its events: over
the step's window (from when it was looked for, less WIRE_BEFORE_S, to when it was seen,
plus WIRE_AFTER_S; an `absent` proof over the flow's whole window: a name looked up in
the clear at any time was not looked up through the tunnel). Each is proven,
contradicted (the step fails: the events say it happened, the wire says otherwise), or
unchecked (no capture of that kind of network, unreadable, or not caught up with the
step: the step passes on its events, with a note). Without captures nothing is checked.

A negative scenario's expected failure (lab.flows.model.Expect) is checked over the
results by `check_expect`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lab.evidence.events import Event
from lab.evidence.peers import PeerResolver
from lab.evidence.wire import WireFacts, clock
from lab.flows.binding import check_binding, facts
from lab.flows.model import (
    AllOf,
    AnyOf,
    ClearTcp,
    DnsSeen,
    EspSeen,
    Ev,
    Expect,
    Flow,
    IkeSeen,
    M,
    Not,
    OneOf,
    Pred,
    Prefix,
    Step,
    TlsSeen,
    Wire,
    field_ok,
)
from lab.flows.observed import Message, Observation
from lab.topology import Topology

ALSO_S = 1.0
PASSED, FAILED, SKIPPED, MISSING = "passed", "failed", "skipped", "missing"
PROVEN, CONTRADICTED, UNCHECKED = "proven", "contradicted", "unchecked"
# A step's packets may precede the record it was looked for from (a receiver logs after
# the packet) and follow the record that proves it (a sender logs before it sends).
WIRE_BEFORE_S, WIRE_AFTER_S = 0.25, 0.5


@dataclass
class WireCheck:
    """One wire proof of a step, as the captures judged it."""
    proof: Wire
    status: str                     # proven | contradicted | unchecked
    evidence: str                   # "pcap internet.pcap: 14 ESP-in-UDP packets ..."
    time: float | None = None       # the first and last packet it stands on
    end: float | None = None

    def to_json(self, t0: float) -> dict[str, Any]:
        return {"proof": self.proof.text(), "status": self.status, "evidence": self.evidence,
                "time": self.time, "end": self.end,
                "offset_s": None if self.time is None else round(self.time - t0, 3)}


@dataclass
class Hit:
    time: float
    events: list[Event]
    messages: list[Message] = field(default_factory=list)


@dataclass
class StepVerdict:
    step: Step
    status: str                     # passed | failed | skipped | missing
    reason: str = ""
    time: float | None = None       # when the evidence says it happened
    events: list[Event] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    wire: list[WireCheck] = field(default_factory=list)

    @property
    def mandatory(self) -> bool:
        return self.step.req == M and self.status != SKIPPED

    @property
    def bad(self) -> bool:
        return self.status in (FAILED, MISSING) and self.step.req == M

    def to_json(self, t0: float) -> dict[str, Any]:
        s = self.step
        return {"id": s.id, "text": s.text, "from": s.frm, "to": s.to, "message": s.message,
                "requirement": s.requirement, "status": self.status, "reason": self.reason,
                "time": self.time, "offset_s": None if self.time is None
                else round(self.time - t0, 3),
                "evidence": [_ev_json(e) for e in self.events],
                "messages": [m.index for m in self.messages],
                "wire": [c.to_json(t0) for c in self.wire]}


@dataclass
class Unexpected:
    time: float
    why: str
    events: list[Event]
    message: Message | None = None
    info: bool = False     # worth knowing, nothing went wrong (an HMS RPC no step claims)

    @property
    def summary(self) -> str:
        e = self.events[0]
        return f"{e.node} {e.kind}: {self.message.summary if self.message else e.summary}"

    def to_json(self, t0: float) -> dict[str, Any]:
        return {"time": self.time, "offset_s": round(self.time - t0, 3), "why": self.why,
                "summary": self.summary, "events": [_ev_json(e) for e in self.events],
                "info": self.info,
                "message": self.message.index if self.message else None}


@dataclass
class FlowResult:
    flow: Flow
    binding: dict[str, str]
    facts: dict[str, bool | None]
    start: float
    end: float | None
    steps: list[StepVerdict]
    unexpected: list[Unexpected]

    @property
    def passed(self) -> bool:
        return not any(v.bad for v in self.steps)

    @property
    def verdict(self) -> str:
        return "pass" if self.passed else "fail"

    @property
    def problems(self) -> list[StepVerdict]:
        """The mandatory steps that failed or are missing, in order (what a negative
        scenario expects to find)."""
        return [v for v in self.steps if v.bad]

    def counts(self) -> dict[str, int]:
        out = {PASSED: 0, FAILED: 0, SKIPPED: 0, MISSING: 0}
        for v in self.steps:
            out[v.status] += 1
        return out

    def to_json(self) -> dict[str, Any]:
        return {"flow": self.flow.id, "title": self.flow.title, "clause": self.flow.clause,
                "verdict": self.verdict, "start": self.start, "end": self.end,
                "binding": self.binding, "facts": self.facts, "counts": self.counts(),
                "steps": [v.to_json(self.start) for v in self.steps],
                "unexpected": [u.to_json(self.start) for u in self.unexpected]}


def _ev_json(e: Event) -> dict[str, Any]:
    return {"time": e.time, "node": e.node, "kind": e.kind, "peer": e.peer,
            "summary": e.summary}


# ---- matching ------------------------------------------------------------------------------

class _Ctx:
    """Binding + resolver + observation, and the predicate search over them."""

    def __init__(self, obs: Observation, binding: Mapping[str, str], start: float,
                 end: float | None) -> None:
        self.obs = obs
        self.binding = binding
        self.resolver: PeerResolver = obs.resolver
        self.start, self.end = start, end

    def _in_window(self, t: float, since: float) -> bool:
        return t >= since and (self.end is None or t <= self.end)

    def hits(self, p: Pred, since: float) -> list[Hit]:
        """Every sighting of `p` at or after `since`, earliest first."""
        if isinstance(p, AnyOf):
            out = [h for part in p.parts for h in self.hits(part, since)]
            return sorted(out, key=lambda h: h.time)
        if isinstance(p, AllOf):
            h = self._all(p, since)
            return [h] if h else []
        if isinstance(p, Ev):
            return [Hit(e.time, [e]) for e in self.obs.events
                    if self._in_window(e.time, since) and self._ev_ok(p, e)]
        assert hasattr(p, "frm")
        return [Hit(m.time, list(m.records), [m]) for m in self.obs.messages
                if self._in_window(m.time, since) and self._msg_ok(p, m)]

    def _ev_ok(self, p: Ev, e: Event) -> bool:
        if not p.kind_ok(e.kind) or e.node != self.binding.get(p.at):
            return False
        if p.peer is not None and self.obs.other_end(e) != self.binding.get(p.peer):
            return False
        return field_ok(e.fields, p.where, self, e.time)

    def _msg_ok(self, p: Any, m: Message) -> bool:
        return (m.name == p.name and m.src is not None and (m.delivered or not p.delivered)
                and m.src == self.binding.get(p.frm) and m.dst == self.binding.get(p.to)
                and field_ok(m.fields, p.where, self, m.time))

    def _all(self, p: AllOf, since: float) -> Hit | None:
        per_part = [self.hits(part, since) for part in p.parts]
        if any(not hs for hs in per_part):
            return None
        t = max(hs[0].time for hs in per_part)
        chosen = [self._with_sides(part, hs, max((h for h in hs if h.time <= t),
                                                 key=lambda h: h.time))
                  for part, hs in zip(p.parts, per_part, strict=True)]
        return Hit(t, _uniq([e for h in chosen for e in h.events]),
                   _uniq([m for h in chosen for m in h.messages]))

    def first(self, p: Pred, since: float, exclude: set[int] | None = None) -> Hit | None:
        """The earliest sighting at or after `since` (none of whose events is in
        `exclude`, ids of events other steps already stand on)."""
        hs = self.hits(p, since)
        if exclude:
            hs = [h for h in hs if not any(id(e) in exclude for e in h.events)]
        return self._with_sides(p, hs, hs[0]) if hs else None

    def last(self, p: Pred, since: float, until: float) -> Hit | None:
        hs = [h for h in self.hits(p, since) if h.time <= until]
        return self._with_sides(p, hs, hs[-1]) if hs else None

    @staticmethod
    def _with_sides(p: Pred, hs: list[Hit], best: Hit) -> Hit:
        """For sides(...): add the other elements' records of the same fact."""
        if not (isinstance(p, AnyOf) and p.same_fact):
            return best
        out = best
        for h in hs:
            if h is not best and abs(h.time - best.time) <= ALSO_S:
                out = Hit(out.time, _uniq(out.events + h.events),
                          _uniq(out.messages + h.messages))
        return out


def _uniq(items: list[Any]) -> list[Any]:
    seen: set[int] = set()
    out = []
    for x in items:
        if id(x) not in seen:
            seen.add(id(x))
            out.append(x)
    return out


def match(flow: Flow, binding: Mapping[str, str], events: Iterable[Event] | Observation,
          topology: Topology | None = None, *, start: float | None = None,
          end: float | None = None, facts_override: Mapping[str, bool | None] | None = None,
          wire: WireFacts | None = None) -> FlowResult:
    """The verdict of every step of `flow` over the events after `start` (default: all);
    with `wire` (the scenario's captures), steps' wire proofs are checked too."""
    obs = events if isinstance(events, Observation) else Observation(events, topology)
    topo = topology or obs.topology
    t0 = start if start is not None else (obs.events[0].time if obs.events else 0.0)
    fx = facts(binding, topo, [e for e in obs.events if e.time >= t0], facts_override)
    applicable = [s for s in flow.steps if _applies(s, fx) is not False]
    check_binding(binding, sorted(set().union(*(s.lanes() for s in applicable))), topo)
    ctx = _Ctx(obs, binding, t0, end)
    cursor, before, prev, prev_since = t0, t0, None, t0
    verdicts: list[StepVerdict] = []
    since: list[float] = []
    for step in flow.steps:
        used = {id(e) for u in verdicts if u.status == PASSED for e in u.events}
        v = _judge(step, fx, ctx, cursor, before, prev, used)
        verdicts.append(v)
        since.append(cursor)
        if v.status == PASSED and v.mandatory and step.anchor and v.time is not None:
            if prev is not None:  # the predecessor's instance that led to this step
                _tighten_one(ctx, prev, prev_since, v.time)
            before = prev.time if prev is not None and prev.time is not None else t0
            cursor, prev, prev_since = max(cursor, v.time), v, cursor
    _tighten(ctx, verdicts, since)
    if wire is not None:
        _check_wire(ctx, verdicts, since, wire)
    return FlowResult(flow, dict(binding), fx, t0, end, verdicts,
                      _unexpected(ctx, flow, verdicts, t0, end))


def _tighten(ctx: _Ctx, verdicts: list[StepVerdict], since: list[float]) -> None:
    """Each anchoring step's evidence becomes its latest sighting before the next anchoring
    step's: the Inform that got the InformResponse, not an earlier one (retries, an older
    session after `start`)."""
    nxt: float | None = None
    for i in range(len(verdicts) - 1, -1, -1):
        v = verdicts[i]
        if v.status != PASSED or not v.mandatory or not v.step.anchor or v.time is None:
            continue
        if nxt is not None:
            _tighten_one(ctx, v, since[i], nxt)
        nxt = v.time


def _tighten_one(ctx: _Ctx, v: StepVerdict, since: float, until: float) -> None:
    h = ctx.last(v.step.proof, since, until)
    if h is not None and v.time is not None and h.time >= v.time:
        v.time, v.events, v.messages = h.time, h.events, h.messages


def _applies(step: Step, fx: Mapping[str, bool | None]) -> bool | None:
    """True/False when the step's facts are known, None when one is unknown."""
    if not step.when:
        return True
    vals = [fx.get(k) for k in step.when]
    if any(v is not None and v != want for v, want in zip(vals, step.when.values(),
                                                            strict=True)):
        return False
    return None if any(v is None for v in vals) else True


def _judge(step: Step, fx: Mapping[str, bool | None], ctx: _Ctx, cursor: float,
           before: float, prev: StepVerdict | None, used: set[int]) -> StepVerdict:
    """One step, looked for from `cursor` (its predecessor's time); seen only between
    `before` (the predecessor's own cursor) and `cursor` means out of order."""
    applies = _applies(step, fx)
    if applies is False:
        why = step.unless or "condition does not hold: " + ", ".join(
            f"{k} is {fx.get(k)}" for k in step.when)
        return StepVerdict(step, SKIPPED, why)
    # unknown facts (None) do not excuse a mandatory step: it is looked for, and missing
    # when not seen
    required = step.req == M
    hit = ctx.first(step.proof, cursor)
    if hit is not None:
        return StepVerdict(step, PASSED, "", hit.time, hit.events, hit.messages)
    if step.fail is not None:  # from `before`: a sender may log before its predecessor
        bad = ctx.first(step.fail, before, used)
        if bad is not None:
            texts = [m.summary for m in bad.messages] or [e.summary for e in bad.events]
            what = "; ".join(dict.fromkeys(texts))
            return StepVerdict(step, FAILED if required else SKIPPED, f"went wrong: {what}",
                               bad.time, bad.events, bad.messages)
    early = ctx.first(step.proof, before)
    if early is not None and prev is not None and early.time < cursor:
        return StepVerdict(step, FAILED if required else SKIPPED,
                           f"out of order: seen at +{early.time - ctx.start:.3f} s, before "
                           f"step {prev.step.id} (+{(prev.time or 0) - ctx.start:.3f} s)",
                           early.time, early.events, early.messages)
    if not required:
        return StepVerdict(step, SKIPPED, "optional: not observed")
    if applies is None:
        unknown = ", ".join(k for k in step.when if fx.get(k) is None)
        return StepVerdict(step, MISSING, f"not observed, and whether it applies is "
                           f"undetermined ({unknown} not known): expected {step.proof.text()}")
    return StepVerdict(step, MISSING, f"not observed: expected {step.proof.text()}")


# ---- wire proofs --------------------------------------------------------------------------------

def _check_wire(ctx: _Ctx, verdicts: list[StepVerdict], since: list[float],
                wire: WireFacts) -> None:
    """Each passed step's wire proofs; a contradicted one fails the step."""
    last = max((e.time for e in ctx.obs.events), default=ctx.start)
    flow_end = ctx.end if ctx.end is not None else last
    for v, lo in zip(verdicts, since, strict=True):
        if not v.step.wire or v.status != PASSED or v.time is None:
            continue
        step_win = (lo - WIRE_BEFORE_S, v.time + WIRE_AFTER_S)
        flow_win = (ctx.start - WIRE_BEFORE_S, max(flow_end, v.time) + WIRE_AFTER_S)
        v.wire = [_WireJudge(ctx, wire, p, flow_win if p.absent else step_win, v.time).run()
                  for p in v.step.wire]
        bad = [c for c in v.wire if c.status == CONTRADICTED]
        unchecked = [c for c in v.wire if c.status == UNCHECKED]
        if bad:
            v.status = FAILED
            v.reason = "the capture contradicts the events: " + "; ".join(
                c.evidence for c in bad)
        elif unchecked and not v.reason:
            v.reason = "passed on events only: " + "; ".join(
                dict.fromkeys(c.evidence for c in unchecked))


class _WireJudge:
    """One wire proof over window [lo, hi] of a step seen at `at`."""

    def __init__(self, ctx: _Ctx, wire: WireFacts, p: Wire, window: tuple[float, float],
                 at: float) -> None:
        self.ctx, self.wire, self.p, self.at = ctx, wire, p, at
        self.lo, self.hi = window

    def run(self) -> WireCheck:
        p = self.p
        unbound = sorted(ln for ln in p.lanes() if not self.ctx.binding.get(ln))
        if unbound:
            return self._unchecked(f"lane {', '.join(unbound)} not bound to a node")
        caps = self.wire.captures_of(p.net)
        if not caps:
            where = f"{self.wire.source}" + (f" ({'; '.join(self.wire.problems)})"
                                            if self.wire.problems else "")
            return self._unchecked(f"no capture of a {p.net} network in {where}")
        usable = [c for c in caps if not c.usable(self.lo, self.hi)]
        if not usable:
            return self._unchecked("; ".join(c.usable(self.lo, self.hi) for c in caps))
        self.pcap = "pcap " + ", ".join(c.name for c in usable)
        self.facts = self.wire.on(c.network for c in usable)
        ends = [c.last for c in usable if c.last is not None]
        self.until = max(ends) if ends else None   # how far the captures go
        if isinstance(p, IkeSeen):
            return self._ike(p)
        if isinstance(p, EspSeen):
            return self._esp(p)
        if isinstance(p, DnsSeen):
            return self._dns(p)
        if isinstance(p, TlsSeen):
            return self._tls(p)
        if isinstance(p, ClearTcp):
            return self._clear(p)
        return self._unchecked(f"no check for {type(p).__name__}")

    # ---- helpers -------------------------------------------------------------------------------

    def _unchecked(self, why: str) -> WireCheck:
        return WireCheck(self.p, UNCHECKED, why)

    def _node(self, lane: str) -> str:
        return self.ctx.binding[lane]

    def _is(self, value: Any, lane: str, at: float | None = None) -> bool:
        return self.ctx.resolver.node(value, at if at is not None else self.at) \
            == self._node(lane)

    def _who(self, addr: str, at: float | None = None) -> str:
        node = self.ctx.resolver.node(addr, at if at is not None else self.at)
        return f"{addr} ({node})" if node else addr

    def _in(self, t: float | None) -> bool:
        return t is not None and self.lo <= t <= self.hi

    def _span(self) -> str:
        hi = self.hi if self.until is None else min(self.hi, self.until)
        return f"{clock(self.lo)}-{clock(hi)}"

    def _caught_up(self) -> bool:
        """The captures reach the step: what they lack is absent, not still unwritten
        (tcpdump hands packets over in batches; a slice cut early ends before them)."""
        return self.until is not None and self.until >= self.at

    def _not_there(self, why: str) -> WireCheck:
        """Contradicted when the captures reach the step, else unchecked."""
        if self._caught_up():
            return WireCheck(self.p, CONTRADICTED, f"{self.pcap}: {why}")
        return self._unchecked(f"{self.pcap} ends at {clock(self.until)}, before the step "
                               f"({clock(self.at)}): the capture had not caught up")

    def _proven(self, text: str, t: float | None, end: float | None) -> WireCheck:
        return WireCheck(self.p, PROVEN, f"{self.pcap}: {text}", t, end)

    # ---- the proofs ----------------------------------------------------------------------------

    def _ike(self, p: IkeSeen) -> WireCheck:
        msgs = [m for m in self.facts.ike if self._in(m.time) and m.version == 2
                and self._is(m.initiator, p.initiator, m.time)
                and self._is(m.responder, p.responder, m.time)]
        best = None
        for spi in dict.fromkeys(m.spi_i for m in msgs):
            sa = [m for m in msgs if m.spi_i == spi]
            pairs = []
            for x in p.exchanges:
                req = next((m for m in sa if m.exchange == x and not m.response), None)
                res = next((m for m in sa if m.exchange == x and m.response
                            and (req is None or m.msg_id == req.msg_id)), None)
                if req is None or res is None:
                    break
                pairs.append((x, req, res))
            else:
                if best is None or pairs[-1][2].time > best[-1][2].time:
                    best = pairs
        if best:
            text = "; ".join(f"{x} {req.where} at {clock(req.time)}, answered "
                             f"{clock(res.time)}" for x, req, res in best)
            return self._proven(f"{text} (IKE SA {best[0][1].spi_i}, initiator "
                                f"{self._who(best[0][1].initiator)})",
                                best[0][1].time, best[-1][2].time)
        a, b = self._node(p.initiator), self._node(p.responder)
        seen = sorted({f"{m.exchange} {'response' if m.response else 'request'}"
                       for m in msgs})
        return self._not_there(f"no answered {'+'.join(p.exchanges)} of one IKE SA from "
                               f"{a} to {b} in {self._span()}"
                               + (f" (seen: {', '.join(seen)})" if seen else
                                  " (no IKE between them)"))

    def _esp(self, p: EspSeen) -> WireCheck:
        def way(x: str, y: str) -> tuple[int, float | None, float | None, str, str]:
            n, first, last, where, label = 0, None, None, "", "ESP"
            for f in self.facts.esp:
                if not (self._is(f.src, x) and self._is(f.dst, y)):
                    continue
                k, t1, t2 = f.within(self.lo, self.hi)
                if k:
                    n += k
                    first = t1 if first is None or (t1 is not None and t1 < first) else first
                    last = t2 if last is None or (t2 is not None and t2 > last) else last
                    where, label = where or f.where, f.label
            return n, first, last, where, label

        n1, f1, l1, where, label = way(p.a, p.b)
        n2, f2, l2, _, _ = way(p.b, p.a)
        a, b = self._node(p.a), self._node(p.b)
        if n1 and n2:
            first = min(t for t in (f1, f2) if t is not None)
            last = max(t for t in (l1, l2) if t is not None)
            return self._proven(f"{n1} {label} packets {where} and {n2} back, between "
                                f"{clock(first)} and {clock(last)}", first, last)
        if n1 or n2:
            return self._not_there(f"ESP only one way between {a} and {b} in "
                                   f"{self._span()} ({n1} {a} -> {b}, {n2} back)")
        return self._not_there(f"no ESP between {a} and {b} in {self._span()}: the tunnel "
                               "carried nothing")

    def _dns(self, p: DnsSeen) -> WireCheck:
        qs = [d for d in self.facts.dns if not d.response and self._in(d.time)
              and self._is(d.src, p.client, d.time) and self._is(d.qname, p.target, d.time)
              and (p.server is None or self._is(d.dst, p.server, d.time))]
        target = self._node(p.target)
        if p.absent:
            if qs:
                d = qs[0]
                return WireCheck(p, CONTRADICTED, f"{self.pcap}: clear-text DNS query "
                                 f"{d.qname} {d.qtype} from {self._who(d.src, d.time)} to "
                                 f"{self._who(d.dst, d.time)} at {clock(d.time)}: "
                                 f"{target}'s name was looked up outside the tunnel",
                                 d.time, d.time)
            if not self._caught_up():
                return self._not_there("")
            others = sum(1 for d in self.facts.dns if not d.response and self._in(d.time))
            return self._proven(f"no DNS query for {target}'s name from "
                                f"{self._node(p.client)} in {self._span()} ({others} DNS "
                                f"quer{'y' if others == 1 else 'ies'} for other names)",
                                None, None)
        if not qs:
            return self._not_there(f"no DNS query from {self._node(p.client)} for "
                                   f"{target}'s name in {self._span()}")
        d = qs[-1]
        ans = next((r for r in self.facts.dns if r.response and r.qname == d.qname
                    and r.src == d.dst and r.dst == d.src and r.dport == d.sport
                    and r.time >= d.time), None)
        answered = (f", answered {ans.rcode} {','.join(ans.answers) or '-'} at "
                    f"{clock(ans.time)}" if ans else ", no answer captured")
        return self._proven(f"DNS query {d.qname} {d.qtype} from {self._who(d.src, d.time)} "
                            f"to {self._who(d.dst, d.time)} at {clock(d.time)}{answered}",
                            d.time, ans.time if ans else d.time)

    def _streams(self, client: str, server: str, port: int | None = None) -> list[Any]:
        return [s for s in self.facts.tcp
                if self._in(s.client_hello or s.first_data or s.opened)
                and (port is None or s.sport == port)
                and self._is(s.client, client) and self._is(s.server, server)]

    def _tls(self, p: TlsSeen) -> WireCheck:
        streams = self._streams(p.client, p.server)
        tls = [s for s in streams if s.kind == "tls"]
        sni_lane = p.sni or p.server
        good = [s for s in tls if s.sni and self._is(s.sni, sni_lane) and s.server_hello]
        if good:
            s = good[-1]
            return self._proven(f"TLS ClientHello {s.where} SNI {s.sni} at "
                                f"{clock(s.client_hello)}, ServerHello at "
                                f"{clock(s.server_hello)}", s.client_hello, s.server_hello)
        if tls:
            s = tls[-1]
            why = ("no ServerHello came back" if s.sni and self._is(s.sni, sni_lane)
                   else f"its SNI {s.sni!r} does not name {self._node(sni_lane)}" if s.sni
                   else "it carries no SNI")
            return WireCheck(p, CONTRADICTED, f"{self.pcap}: TLS ClientHello {s.where} at "
                             f"{clock(s.client_hello)}: {why}", s.client_hello,
                             s.server_hello)
        clear = [s for s in streams if s.kind == "clear"]
        if clear:
            s = clear[0]
            return WireCheck(p, CONTRADICTED, f"{self.pcap}: TCP {s.where} at "
                             f"{clock(s.first_data)} is clear text ({s.head!r}), not TLS",
                             s.first_data, s.first_data)
        return self._not_there(f"no TLS connection from {self._node(p.client)} to "
                               f"{self._node(p.server)} in {self._span()}")

    def _clear(self, p: ClearTcp) -> WireCheck:
        streams = self._streams(p.client, p.server, p.port)
        clear = [s for s in streams if s.kind == "clear"]
        a, b = self._node(p.client), self._node(p.server)
        if clear:
            s = clear[0]
            text = f"clear-text TCP {s.where} at {clock(s.first_data)}: {s.head!r}"
            if p.absent:
                return WireCheck(p, CONTRADICTED, f"{self.pcap}: {text}", s.first_data,
                                 s.first_data)
            return self._proven(text, s.first_data, s.first_data)
        if not p.absent:
            return self._not_there(f"no clear-text TCP from {a} to {b} in {self._span()}")
        if not self._caught_up():
            return self._not_there("")
        tls = sum(1 for s in streams if s.kind == "tls")
        return self._proven(f"no clear-text TCP from {a} to {b} in {self._span()} ({tls} "
                            f"TLS connection{'' if tls == 1 else 's'})", None, None)


# ---- unexpected --------------------------------------------------------------------------------

# (event kind or "prefix.*", field tests, why it matters)
UNEXPECTED: list[tuple[str, dict[str, Any], str]] = [
    ("cwmp.*", {"msg": "Fault"}, "CWMP Fault"),
    ("cwmp.rx", {"msg": OneOf("invalid", "unreadable")}, "unreadable CWMP message"),
    ("cwmp.session", {"state": "end", "ok": False}, "CWMP session failed"),
    ("cwmp.retry", {}, "CWMP session retried"),
    ("ike.failed", {}, "IKEv2 failed"),
    ("ike.auth_failed", {}, "IKEv2 authentication failed"),
    ("dns.failed", {}, "DNS lookup failed"),
    ("dns.answer", {"rcode": Not("NOERROR")}, "DNS error answer"),
    ("dns.query", {"dir": "in", "rcode": OneOf("NXDOMAIN", "SERVFAIL", "REFUSED")},
     "DNS error answer"),
    ("hnbap.*", {"msg": "HNBRegisterReject"}, "HNB registration rejected"),
    ("hnbap.rx", {"msg": "malformed"}, "malformed HNBAP"),
    ("hms.refused", {}, "HMS refused the HNB"),
    ("hms.bad_request", {}, "HMS rejected a request"),
    ("hms.task.failed", {}, "HMS task failed"),
    ("hms.provision_failed", {}, "provisioning failed"),
    ("hms.alarm_invalid", {}, "invalid alarm report"),
    ("hms.transfer_unknown", {}, "TransferComplete for an unknown transfer"),
    ("hms.connection_request", {"ok": False}, "connection request failed"),
    ("hms.auth_failed", {}, "CPE authentication to the HMS failed"),
    ("hms.internal_error", {}, "HMS internal error"),
    ("hms.api.denied", {}, "operator API call refused"),
    ("hnb.failed", {}, "HNB gave up"),
    ("hnb.retry", {}, "HNB retried reaching a SeGW"),
    ("hnb.tunnel_lost", {}, "IPsec tunnel lost"),
    ("transfer.*", {"state": "end", "fault_code": Not(OneOf(0, None))}, "file transfer failed"),
    ("pm.upload_failed", {}, "PM upload failed"),
    ("pm.dropped", {}, "PM file dropped"),
    ("file.rejected", {}, "file server refused"),
    ("file.incomplete", {}, "incomplete upload"),
    # the first leg of every Digest exchange is a 401 without Authorization: normal
    ("connreq.denied", {"reason": Not(Prefix("no Authorization"))},
     "connection request refused"),
    ("connreq.busy", {}, "connection request refused (rate limit)"),
    ("connreq.error", {}, "connection request error"),
]


def _kind_ok(pattern: str, kind: str) -> bool:
    return kind.startswith(pattern[:-1]) if pattern.endswith("*") else kind == pattern


def why_unexpected(e: Event, ctx: Any) -> str | None:
    for pattern, where, why in UNEXPECTED:
        if _kind_ok(pattern, e.kind) and field_ok(e.fields, where, ctx, e.time):
            return why
    return None


def _unexpected(ctx: _Ctx, flow: Flow, verdicts: list[StepVerdict], start: float,
                end: float | None) -> list[Unexpected]:
    nodes = set(ctx.binding.values())
    used = {id(e) for v in verdicts for e in v.events}
    used |= {id(r) for v in verdicts for m in v.messages for r in m.records}
    out: list[Unexpected] = []
    seen_msgs: set[int] = set()
    for e in ctx.obs.events:
        if e.time < start or (end is not None and e.time > end) or id(e) in used:
            continue
        other = ctx.obs.other_end(e)
        if e.node not in nodes or (other is not None and other not in nodes):
            continue
        why = why_unexpected(e, ctx)
        if why is None:
            continue
        m = ctx.obs.message(e)
        if m is not None:
            if m.index in seen_msgs or any(id(r) in used for r in m.records):
                continue
            seen_msgs.add(m.index)
            out.append(Unexpected(m.time, why, list(m.records), m))
        else:
            out.append(Unexpected(e.time, why, [e]))
    out += _unclaimed_rpcs(ctx, used, seen_msgs, start, end)
    return sorted(out, key=lambda u: u.time)


def is_rpc_request(m: Message) -> bool:
    """A CWMP request (SetParameterValues, Download, ...), not a response, Fault or the
    empty POST/204 that opens or closes a turn."""
    return m.area == "cwmp" and m.name not in ("empty", "Fault", "invalid", "unreadable") \
        and not m.name.endswith("Response")


def _unclaimed_rpcs(ctx: _Ctx, used: set[int], seen_msgs: set[int],
                    start: float, end: float | None) -> list[Unexpected]:
    """CWMP requests a bound HMS sent the bound HNB in the window that no step claims."""
    hnb = ctx.binding.get("HNB")
    hms = {ctx.binding[ln] for ln in ("HMS initial", "HMS serving") if ln in ctx.binding}
    out: list[Unexpected] = []
    for m in ctx.obs.messages:
        if m.time < start or (end is not None and m.time > end) or m.index in seen_msgs:
            continue
        if m.src not in hms or m.dst != hnb or not is_rpc_request(m):
            continue
        if any(id(r) in used for r in m.records):
            continue
        purpose = m.fields.get("purpose")
        why = "HMS request no step accounts for" + (f" (task {purpose})" if purpose else "")
        out.append(Unexpected(m.time, why, list(m.records), m, info=True))
    return out


def overall(results: Iterable[FlowResult]) -> str:
    rs = list(results)
    return "pass" if rs and all(r.passed for r in rs) else "fail"



def scenario_unexpected(results: Iterable[FlowResult]) -> list[Unexpected]:
    """The unexpected events of several flows checked on one run: each once, and none that
    another flow of the scenario used as evidence (a refusal 5.4 expects)."""
    rs = list(results)
    used = {id(e) for r in rs for v in r.steps for e in v.events}
    used |= {id(rec) for r in rs for v in r.steps for m in v.messages for rec in m.records}
    out: dict[int, Unexpected] = {}
    for r in rs:
        for u in r.unexpected:
            if not any(id(e) in used for e in u.events):
                out.setdefault(id(u.events[0]), u)
    return sorted(out.values(), key=lambda u: u.time)


# ---- expected failures (negative scenarios) -----------------------------------------------------

EXPECTED, NOT_REACHED = "expected", "not reached"


@dataclass
class ExpectCheck:
    """Whether a run shows the failure a negative scenario expects (model.Expect)."""
    expect: Expect
    ok: bool
    why: str                                      # what was seen, or how the run differed
    seen: list[StepVerdict] = field(default_factory=list)  # expected steps that went bad
    flow: FlowResult | None = None

    def role(self, r: FlowResult, v: StepVerdict) -> str:
        """How a run that shows the expected failure presents a step: EXPECTED (it failed
        as expected), NOT_REACHED (missing after the failure: the procedure stopped), ""."""
        if not self.ok:
            return ""
        if r is self.flow and any(v is s for s in self.seen):
            return EXPECTED
        return NOT_REACHED if v.status == MISSING and v.bad else ""

    @property
    def summary(self) -> str:
        return ("expected failure seen at " if self.ok else "expected failure NOT seen: ") \
            + self.why

    def to_json(self) -> dict[str, Any]:
        return {"expect": str(self.expect), "ok": self.ok, "why": self.why,
                "seen": [v.step.id for v in self.seen]}


def _mentions(v: StepVerdict, text: str) -> bool:
    t = text.lower()
    hay = [v.reason, *(f"{e.kind} {e.summary}" for e in v.events),
           *(f"{m.name} {m.summary}" for m in v.messages)]
    return any(t in h.lower() for h in hay)


def _said(v: StepVerdict) -> str:
    return f"step {v.step.id} {v.status}" + (f" ({v.reason})" if v.reason else "")


def check_expect(results: Iterable[FlowResult], expect: Expect) -> ExpectCheck:
    """The run shows `expect` when, in its flow: some step failed or is missing, the first
    such mandatory step is one of the expected steps, one of those that went bad mentions
    the expected text, and no step elsewhere failed (steps after the failure may be
    missing: the procedure stopped there). The scenario's other flows: those before it
    pass; those after it fail nowhere (their steps may be missing, never reached)."""
    rs = list(results)
    try:
        idx = expect.pick([r.flow.id for r in rs])
    except ValueError as exc:
        return ExpectCheck(expect, False, str(exc))
    r = rs[idx]
    ids = {v.step.id for v in r.steps}
    if not set(expect.steps) <= ids:
        return ExpectCheck(expect, False, f"flow {r.flow.id} has no step "
                           f"{', '.join(s for s in expect.steps if s not in ids)}", flow=r)
    bad = [v for v in r.steps if v.bad]
    if not bad:
        return ExpectCheck(expect, False, f"no step of {r.flow.id} failed: {expect.where()} "
                           "went as if nothing were wrong", flow=r)
    if bad[0].step.id not in expect.steps:
        return ExpectCheck(expect, False, f"{r.flow.id} went wrong first at "
                           f"{_said(bad[0])}, not at {expect.where()}", flow=r)
    seen = [v for v in bad if v.step.id in expect.steps]
    hit = next((v for v in seen if not expect.text or _mentions(v, expect.text)), None)
    if hit is None:
        return ExpectCheck(expect, False, f"{r.flow.id} {_said(seen[0])}, but nothing "
                           f"there mentions {expect.text!r}", seen, r)
    for j, other in enumerate(rs):
        wrong = [v for v in other.steps if v.bad and v.step.id not in
                 (expect.steps if j == idx else ()) and (v.status == FAILED or j < idx)]
        if wrong:
            return ExpectCheck(expect, False, f"{other.flow.id} {_said(wrong[0])} as well",
                               seen, r)
    at = ", ".join(f"{v.step.id} ({v.status})" for v in seen)
    detail = hit.reason or "; ".join(e.summary for e in hit.events[:1])
    return ExpectCheck(expect, True, f"{r.flow.id} step{'s' if len(seen) > 1 else ''} {at}: "
                       f"{detail}", seen, r)
