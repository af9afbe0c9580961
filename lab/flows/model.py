"""The vocabulary the TS 32.583 flow tables are written in.

A flow is a clause of the spec: numbered steps, each between two *lanes* (roles in the
procedure: "HNB", "DNS outer", "SeGW initial", "HMS serving", ...), with the spec's own
words, a requirement (M mandatory, O optional; `when` makes it conditional) and a *proof*:
a predicate over what the nodes recorded that shows the step happened.

Predicates:
    msg("Inform", "HNB", "HMS initial")        a message between the nodes bound to those
                                               lanes that reached the receiver (it recorded
                                               it; see lab.flows.observed)
    ev("ike.up", "HNB", peer="SeGW initial")   an event written by the node bound to a lane,
                                               optionally about the node bound to `peer`
    p | q                                      either (the earliest after the previous step)
    sides(p, q)                                one fact as each element records it
    p & q                                      both (the step happened when the last did)
A step may also need proof on the wire (`wire=`: all must hold, checked against the
scenario's pcaps by lab.flows.matcher, over the step's window):
    ike_seen("HNB", "SeGW initial")            IKE_SA_INIT and IKE_AUTH, each answered, of
                                               one IKE SA the HNB initiated, between the two
                                               nodes' addresses on a public network
    esp_seen("HNB", "SeGW initial")            ESP (in UDP) between them, both ways
    dns_seen("HNB", "HMS initial", "DNS inner", net="mno")   a clear-text DNS query from the
                                               HNB (any of its addresses, inner ones too) for
                                               a name of the node bound to "HMS initial"
    no_dns("HNB", "HMS initial")               no such query on a public network (it went
                                               inside the tunnel)
    tls_seen("HNB", "HMS initial")             a TLS ClientHello to it whose SNI names it,
                                               and its ServerHello
    no_clear_tcp("HNB", "HMS initial")         no clear-text TCP data from the HNB to it
Field tests (keyword arguments of msg/ev): a plain value is equality; Has(x) "contains x",
OneOf(a, b), Not(x), Prefix("https://"), AnyPrefix("Device.FAP.") (a list with such an
item), Present(), Absent(), Names("SeGW initial") "names the node bound to that lane" (an
FQDN, address or URL the peer resolver maps to it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from lab.evidence.peers import PeerResolver

# The roles of the procedures, in the order the ladder draws them (left to right).
LANES = ("HNB", "DNS outer", "SeGW initial", "DNS inner", "HMS initial", "SeGW serving",
         "HMS serving", "File server", "HNB-GW")

M, O = "M", "O"  # noqa: E741 - the spec's letters


class Context(Protocol):
    """What a predicate needs to test an event: the lane binding and the peer resolver."""
    binding: Mapping[str, str]
    resolver: PeerResolver


# ---- field tests --------------------------------------------------------------------------

class FieldTest:
    def test(self, value: Any, ctx: Context, at: float) -> bool:
        raise NotImplementedError

    def text(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class Has(FieldTest):
    """The field (a list or a string) contains `item`."""
    item: Any

    def test(self, value: Any, ctx: Context, at: float) -> bool:
        if isinstance(value, str):
            return str(self.item) in value
        return isinstance(value, list | tuple | set) and self.item in value

    def text(self) -> str:
        return f"has {self.item!r}"


@dataclass(frozen=True)
class OneOf(FieldTest):
    values: tuple[Any, ...]

    def __init__(self, *values: Any) -> None:
        object.__setattr__(self, "values", values)

    def test(self, value: Any, ctx: Context, at: float) -> bool:
        return any(_equal(value, v) for v in self.values)

    def text(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


@dataclass(frozen=True)
class Not(FieldTest):
    value: Any

    def test(self, value: Any, ctx: Context, at: float) -> bool:
        if isinstance(self.value, FieldTest):
            return not self.value.test(value, ctx, at)
        return not _equal(value, self.value)

    def text(self) -> str:
        inner = self.value.text() if isinstance(self.value, FieldTest) else repr(self.value)
        return f"not {inner}"


@dataclass(frozen=True)
class Prefix(FieldTest):
    prefix: str

    def test(self, value: Any, ctx: Context, at: float) -> bool:
        return isinstance(value, str) and value.lower().startswith(self.prefix.lower())

    def text(self) -> str:
        return f"starts with {self.prefix!r}"


@dataclass(frozen=True)
class AnyPrefix(FieldTest):
    """The field (a list of names, or one name) has an item starting with `prefix`."""
    prefix: str

    def test(self, value: Any, ctx: Context, at: float) -> bool:
        items = [value] if isinstance(value, str) else value
        return isinstance(items, list | tuple) and any(
            isinstance(v, str) and v.startswith(self.prefix) for v in items)

    def text(self) -> str:
        return f"has an item starting {self.prefix!r}"


@dataclass(frozen=True)
class Absent(FieldTest):
    def test(self, value: Any, ctx: Context, at: float) -> bool:
        return value in (None, "", [], {})

    def text(self) -> str:
        return "absent"


@dataclass(frozen=True)
class Present(FieldTest):
    def test(self, value: Any, ctx: Context, at: float) -> bool:
        return value not in (None, "", [], {})

    def text(self) -> str:
        return "present"


@dataclass(frozen=True)
class Names(FieldTest):
    """The field (FQDN, address, URL, identity) names the node bound to `lane`."""
    lane: str

    def test(self, value: Any, ctx: Context, at: float) -> bool:
        node = ctx.binding.get(self.lane)
        return node is not None and ctx.resolver.node(value, at) == node

    def text(self) -> str:
        return f"names {self.lane}"


def _equal(a: Any, b: Any) -> bool:
    if a == b:
        return True
    # numbers and their text (fault_code 0 vs "0") count as equal; booleans do not
    if isinstance(a, bool) or isinstance(b, bool):
        return False
    return isinstance(a, int | float | str) and isinstance(b, int | float | str) \
        and str(a) == str(b)


def field_ok(fields: Mapping[str, Any], where: Mapping[str, Any], ctx: Context,
             at: float) -> bool:
    for name, want in where.items():
        value = fields.get(name)
        if isinstance(want, FieldTest):
            if not want.test(value, ctx, at):
                return False
        elif not _equal(value, want):
            return False
    return True


def where_text(where: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} {v.text()}" if isinstance(v, FieldTest) else f"{k}={v!r}"
                     for k, v in where.items())


# ---- predicates ---------------------------------------------------------------------------

class Pred:
    def __or__(self, other: Pred) -> AnyOf:
        return AnyOf((*_parts(self, AnyOf), *_parts(other, AnyOf)))

    def __and__(self, other: Pred) -> AllOf:
        return AllOf((*_parts(self, AllOf), *_parts(other, AllOf)))

    def lanes(self) -> set[str]:
        raise NotImplementedError

    def text(self) -> str:
        raise NotImplementedError


def _parts(p: Pred, kind: type) -> tuple[Pred, ...]:
    if isinstance(p, kind) and not getattr(p, "same_fact", False):
        return p.parts  # type: ignore[attr-defined]
    return (p,)


@dataclass(frozen=True)
class Msg(Pred):
    """A message `name` from the node of lane `frm` to the node of lane `to`, that the
    receiver recorded (`delivered`; False for a message whose receiver writes no record
    of it, like a file the HMS file server serves to the HNB)."""
    name: str
    frm: str
    to: str
    where: Mapping[str, Any] = field(default_factory=dict)
    delivered: bool = True

    def lanes(self) -> set[str]:
        return {self.frm, self.to} | _lanes_in(self.where)

    def text(self) -> str:
        w = where_text(self.where)
        return f"{self.name} {self.frm} -> {self.to}" + (f" ({w})" if w else "")


@dataclass(frozen=True)
class Ev(Pred):
    """An event of `kind` ("x.*" for a prefix) written by the node of lane `at`, about
    the node of lane `peer` when given."""
    kind: str
    at: str
    peer: str | None = None
    where: Mapping[str, Any] = field(default_factory=dict)

    def lanes(self) -> set[str]:
        return {self.at} | ({self.peer} if self.peer else set()) | _lanes_in(self.where)

    def kind_ok(self, kind: str) -> bool:
        return kind.startswith(self.kind[:-1]) if self.kind.endswith("*") else kind == self.kind

    def text(self) -> str:
        w = where_text(self.where)
        about = f" about {self.peer}" if self.peer else ""
        return f"event {self.kind} at {self.at}{about}" + (f" ({w})" if w else "")


@dataclass(frozen=True)
class AnyOf(Pred):
    parts: tuple[Pred, ...]
    same_fact: bool = False  # the parts are one fact as different elements record it

    def lanes(self) -> set[str]:
        return set().union(*(p.lanes() for p in self.parts))

    def text(self) -> str:
        return " | ".join(p.text() for p in self.parts)


@dataclass(frozen=True)
class AllOf(Pred):
    parts: tuple[Pred, ...]

    def lanes(self) -> set[str]:
        return set().union(*(p.lanes() for p in self.parts))

    def text(self) -> str:
        return " & ".join(f"({p.text()})" if isinstance(p, AnyOf) else p.text()
                          for p in self.parts)


def _lanes_in(where: Mapping[str, Any]) -> set[str]:
    return {v.lane for v in where.values() if isinstance(v, Names)}


def sides(*preds: Pred) -> AnyOf:
    """One fact as each element records it (the HNB's ike.up, the SeGW's ike.up): any
    one proves it; the evidence shows every side that recorded it."""
    return AnyOf(tuple(preds), same_fact=True)


def msg(name: str, frm: str, to: str, *, delivered: bool = True, **where: Any) -> Msg:
    return Msg(name, frm, to, where, delivered)


def ev(kind: str, at: str, peer: str | None = None, **where: Any) -> Ev:
    return Ev(kind, at, peer, where)


# ---- wire proofs ----------------------------------------------------------------------------

PUBLIC, MNO = "public", "mno"  # network kinds (lab.topology)


class Wire:
    """A fact the captures of networks of kind `net` must show (or, `absent`, must not)
    for a step whose events were seen: lab.flows.matcher checks it against
    lab.evidence.wire's summary of the scenario's pcaps."""
    net: str
    absent: bool = False

    def lanes(self) -> set[str]:
        raise NotImplementedError

    def text(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class IkeSeen(Wire):
    initiator: str
    responder: str
    exchanges: tuple[str, ...] = ("IKE_SA_INIT", "IKE_AUTH")
    net: str = PUBLIC

    def lanes(self) -> set[str]:
        return {self.initiator, self.responder}

    def text(self) -> str:
        return (f"{'+'.join(self.exchanges)} {self.initiator} -> {self.responder} on the "
                f"{self.net} network")


@dataclass(frozen=True)
class EspSeen(Wire):
    a: str
    b: str
    net: str = PUBLIC

    def lanes(self) -> set[str]:
        return {self.a, self.b}

    def text(self) -> str:
        return f"ESP between {self.a} and {self.b} on the {self.net} network, both ways"


@dataclass(frozen=True)
class DnsSeen(Wire):
    client: str
    target: str                  # the lane whose node the queried name names
    server: str | None = None    # the lane of the DNS server asked (None: any)
    net: str = PUBLIC
    absent: bool = False

    def lanes(self) -> set[str]:
        return {self.client, self.target} | ({self.server} if self.server else set())

    def text(self) -> str:
        to = f" to {self.server}" if self.server else ""
        return (f"{'no ' if self.absent else ''}clear-text DNS query from {self.client} for "
                f"{self.target}'s name{to} on the {self.net} network")


@dataclass(frozen=True)
class TlsSeen(Wire):
    client: str
    server: str
    sni: str | None = None       # the lane the SNI must name (None: the server)
    net: str = PUBLIC

    def lanes(self) -> set[str]:
        return {self.client, self.server, self.sni or self.server}

    def text(self) -> str:
        return (f"TLS ClientHello {self.client} -> {self.server} with SNI naming "
                f"{self.sni or self.server}, and ServerHello, on the {self.net} network")


@dataclass(frozen=True)
class ClearTcp(Wire):
    client: str
    server: str
    port: int | None = None
    net: str = PUBLIC
    absent: bool = True

    def lanes(self) -> set[str]:
        return {self.client, self.server}

    def text(self) -> str:
        port = f" port {self.port}" if self.port else ""
        return (f"{'no ' if self.absent else ''}clear-text TCP {self.client} -> "
                f"{self.server}{port} on the {self.net} network")


def ike_seen(initiator: str, responder: str, *exchanges: str, net: str = PUBLIC) -> IkeSeen:
    return IkeSeen(initiator, responder, exchanges or ("IKE_SA_INIT", "IKE_AUTH"), net)


def esp_seen(a: str, b: str, net: str = PUBLIC) -> EspSeen:
    return EspSeen(a, b, net)


def dns_seen(client: str, target: str, server: str | None = None,
             net: str = PUBLIC) -> DnsSeen:
    return DnsSeen(client, target, server, net)


def no_dns(client: str, target: str, net: str = PUBLIC) -> DnsSeen:
    return DnsSeen(client, target, None, net, absent=True)


def tls_seen(client: str, server: str, sni: str | None = None,
             net: str = PUBLIC) -> TlsSeen:
    return TlsSeen(client, server, sni, net)


def no_clear_tcp(client: str, server: str, port: int | None = None,
                 net: str = PUBLIC) -> ClearTcp:
    return ClearTcp(client, server, port, net)


# ---- steps and flows ------------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    id: str                      # the spec's number ("2.3", "5.3-bis", "A")
    text: str                    # the spec's wording, short
    frm: str                     # sender lane
    to: str                      # receiver lane (== frm for something one element does)
    message: str                 # message name as the figure labels it
    req: str                     # M or O
    proof: Pred
    when: Mapping[str, bool] = field(default_factory=dict)  # facts that must hold
    unless: str = ""             # why it is skipped when `when` does not hold
    fail: Pred | None = None     # evidence that the step went wrong (a Fault, a Reject)
    anchor: bool = True          # False: a precondition, its time does not order later steps
    wire: tuple[Wire, ...] = ()  # what the captures must show as well (all of them)

    @property
    def requirement(self) -> str:
        """M, O, or C(...) as the verdict table shows it."""
        if not self.when:
            return self.req
        cond = " and ".join(f"{'' if v else 'not '}{k}" for k, v in self.when.items())
        return f"C ({cond})" if self.req == M else f"O, C ({cond})"

    def lanes(self) -> set[str]:
        return {self.frm, self.to} | self.proof.lanes()


@dataclass(frozen=True)
class Flow:
    id: str                      # "5.1.1", "5.4-1", ...
    title: str
    clause: str                  # the heading it implements
    steps: tuple[Step, ...]
    note: str = ""

    def step(self, sid: str) -> Step:
        for s in self.steps:
            if s.id == sid:
                return s
        raise KeyError(f"flow {self.id} has no step {sid!r} "
                       f"(steps: {', '.join(s.id for s in self.steps)})")

    def lanes(self) -> list[str]:
        used: set[str] = set().union(*(s.lanes() for s in self.steps))
        return [ln for ln in LANES if ln in used] + sorted(used - set(LANES))


# ---- what a negative scenario expects ---------------------------------------------------------

@dataclass(frozen=True)
class Expect:
    """The failure a negative scenario provokes, written "FLOW/STEP[,STEP...][: TEXT]":
    "5.1.2/3: certificate", "5.1.1/2.2,2.3: peer not responding".

    FLOW is a flow the scenario checks (or the flow its variant extends: "5.3.2" names
    "5.3.2-cr" when that is the one checked); STEPs are the steps of it where the failure shows
    (one, or several that one failure spoils, like a DNS answer and the tunnel it
    prevents); TEXT, when given, must occur (case-insensitively) in the verdict reason or
    the evidence (event kind, summary) of one of those steps that failed or is missing.
    lab.flows.matcher.check_expect says whether a run shows it."""
    flow: str
    steps: tuple[str, ...]
    text: str = ""

    @classmethod
    def parse(cls, spec: str) -> Expect:
        head, sep, text = spec.partition(":")
        flow, slash, steps = head.strip().partition("/")
        ids = tuple(s.strip() for s in steps.split(",") if s.strip())
        if not flow.strip() or not slash or not ids or " " in flow.strip() \
                or any(" " in i for i in ids):
            raise ValueError(f"expect {spec!r}: not FLOW/STEP[,STEP...][: TEXT], e.g. "
                             f"'5.1.2/3: certificate'")
        if sep and not text.strip():
            raise ValueError(f"expect {spec!r}: empty TEXT after ':'")
        return cls(flow.strip(), ids, text.strip())

    def __str__(self) -> str:
        return f"{self.flow}/{','.join(self.steps)}" + (f": {self.text}" if self.text else "")

    def pick(self, flow_ids: Sequence[str]) -> int:
        """The index of the flow this names among `flow_ids`: the one with its id, else the
        one variant of it ("5.3.2-cr"); ValueError saying why none or several fit."""
        if self.flow in flow_ids:
            return list(flow_ids).index(self.flow)
        variants = [i for i, f in enumerate(flow_ids) if f.startswith(self.flow + "-")]
        if len(variants) == 1:
            return variants[0]
        checked = ", ".join(flow_ids) or "none"
        if variants:
            raise ValueError(f"expect {str(self)!r}: flow {self.flow} could be any of "
                             f"{', '.join(flow_ids[i] for i in variants)}: name one")
        raise ValueError(f"expect {str(self)!r} names flow {self.flow}, which the scenario "
                         f"does not check (it checks {checked})")

    def where(self) -> str:
        """ "5.1.2 step 3", "5.1.1 steps 2.2/2.3" """
        many = len(self.steps) > 1
        return f"{self.flow} step{'s' if many else ''} {'/'.join(self.steps)}"
