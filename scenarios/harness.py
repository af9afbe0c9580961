"""What every scenario stands on: a registry, and a context over a running lab that can
drive nodes (control verbs, the HMS operator API, the SeGW controls) and wait for events.

A scenario is a function `run(ctx)` plus data: the topology it needs (and overrides of
that topology's settings for a variant), the TS 32.583 clauses whose steps the matcher
checks, and, for a negative scenario, what must go wrong (`expect`). The pytest e2e tests
and `hnblab run` call the same functions.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab import runtime, topology
from lab.evidence.events import Event, EventTail
from lab.flows import flows_for
from lab.flows.model import Expect

ROOT = Path(__file__).resolve().parent.parent
TOPOLOGIES = ROOT / "topologies"
API_PORT = 7557


class ScenarioError(RuntimeError):
    """The scenario could not go on; the message says which step and why."""


@dataclass
class Scenario:
    name: str
    title: str
    topology: str                       # file in topologies/
    clauses: list[str]                  # flow ids checked by the matcher, e.g. ["5.1.1"]
    run: Callable[[Ctx], None]
    # "nodes.X.settings.k": value, or a tuple path where a key holds dots (zone records)
    overrides: dict[str | tuple[str, ...], Any] = field(default_factory=dict)
    negative: bool = False              # the procedure is expected to fail (verdict says how)
    # The failure the scenario provokes, "FLOW/STEP[,STEP...][: TEXT]" (lab.flows.model.
    # Expect): e.g. "5.1.2/3: certificate". Set, the scenario passes when that failure is
    # seen there (lab.flows.matcher.check_expect), not when every step passes.
    expect: str = ""
    options: dict[str, Any] = field(default_factory=dict)  # flow conditions (e.g. cm_mode)

    @property
    def expected(self) -> Expect | None:
        return Expect.parse(self.expect) if self.expect else None

    def check(self) -> None:
        """ValueError naming the scenario when `expect` does not fit its flows, or when it
        is marked negative without saying what failure it expects."""
        where = f"scenario {self.name}"
        if not self.expect:
            if self.negative:
                raise ValueError(f"{where}: expects a failure but does not say where: set "
                                 f"expect='FLOW/STEP[,STEP...][: TEXT]', e.g. '5.1.2/3: "
                                 f"certificate'")
            return
        try:
            exp = Expect.parse(self.expect)
            flows = flows_for(self.clauses, self.options)
            flow = flows[exp.pick([f.id for f in flows])]
        except (ValueError, KeyError) as exc:
            raise ValueError(f"{where}: {exc.args[0]}") from None
        for sid in exp.steps:
            try:
                flow.step(sid)
            except KeyError as exc:
                raise ValueError(f"{where}: expect {self.expect!r}: {exc.args[0]}") from None


REGISTRY: dict[str, Scenario] = {}


def scenario(**kw: Any) -> Callable[[Callable[[Ctx], None]], Callable[[Ctx], None]]:
    def deco(fn: Callable[[Ctx], None]) -> Callable[[Ctx], None]:
        s = Scenario(run=fn, **kw)
        s.check()
        if s.name in REGISTRY:
            raise ValueError(f"scenario {s.name} defined twice")
        REGISTRY[s.name] = s
        return fn
    return deco


def topology_path(name: str) -> Path:
    """A shipped topology by file name, or any topology file by path (an engineer's own)."""
    p = Path(name)
    if not p.is_absolute() and (TOPOLOGIES / p).exists():
        return TOPOLOGIES / p
    if not p.exists():
        raise ScenarioError(f"no topology file {name!r} (shipped: "
                            f"{', '.join(sorted(f.name for f in TOPOLOGIES.glob('*.yaml')))})")
    return p


def topology_data(s: Scenario) -> dict[str, Any]:
    """The scenario's topology as data, with its overrides applied."""
    import yaml

    data = yaml.safe_load(topology_path(s.topology).read_text())
    for dotted, value in s.overrides.items():
        cur: Any = data
        path = dotted.split(".") if isinstance(dotted, str) else list(dotted)
        *parts, last = path
        for p in parts:
            try:
                cur = cur[int(p)] if isinstance(cur, list) else cur[p]
            except (KeyError, IndexError, ValueError):
                raise ScenarioError(f"scenario {s.name}: override {dotted}: no {p!r} in "
                                    f"{s.topology}") from None
        if isinstance(cur, list):
            cur[int(last)] = value
        else:
            cur[last] = value
    return data


class Ctx:
    """A scenario's handle on a running lab."""

    def __init__(self, lab: str, run_dir: Path, topo: topology.Topology,
                 scenario: Scenario) -> None:
        self.lab = lab
        self.run_dir = run_dir
        self.topo = topo
        self.scenario = scenario
        self._tail = EventTail(run_dir)  # before `since`: nothing after it is missed
        self.since = time.time()
        self.marks: list[tuple[str, float]] = []

    # ---- nodes ---------------------------------------------------------------------------

    def node(self, role: str, pick: Callable[[topology.Node], bool] = lambda n: True) -> str:
        for n in self.topo.nodes.values():
            if n.role == role and pick(n):
                return n.name
        raise ScenarioError(f"topology {self.topo.name} has no {role} node for "
                            f"scenario {self.scenario.name}")

    @property
    def hnb(self) -> str:
        return self.node("hnb")

    def hms(self, role: str = "serving") -> str:
        want = {"serving": ("serving", "both"), "initial": ("initial", "both")}[role]
        return self.node("hms", lambda n: n.settings.get("role", "serving") in want)

    def mark(self, what: str) -> None:
        self.marks.append((what, time.time()))

    def control(self, node: str, verb: str, **args: Any) -> Any:
        cmd = ["python", "-m", "lab.nodes.control", verb,
               *(f"{k}={v}" for k, v in args.items())]
        code, out = runtime.exec_in(self.lab, node, cmd)
        if code != 0:
            raise ScenarioError(f"{node}: {verb} failed: {out.strip()}")
        return json.loads(out) if out.strip() else None

    def segw_ctl(self, node: str, verb: str, *args: str) -> str:
        cmd = ["python", "-m", "lab.nodes.segw.ctl", "--config",
               f"{runtime.RUN_MOUNT}/config/{node}.json", verb, *args]
        code, out = runtime.exec_in(self.lab, node, cmd)
        if code != 0:
            raise ScenarioError(f"{node}: segw {verb} failed: {out.strip()}")
        return out.strip()

    def api(self, method: str, path: str, body: Any = None, *, hms: str | None = None,
            raw: bytes | None = None, allow_error: bool = False) -> Any:
        """The HMS operator API, from the host over the lab's MNO bridge. allow_error:
        an HTTP error answer with a JSON body is returned instead of raised."""
        node = self.topo.nodes[hms or self.hms("serving")]
        addr = next(str(a) for n, a in node.addresses.items())
        token = (self.run_dir / "api_token").read_text().strip()
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None
                                            else None)
        req = urllib.request.Request(f"http://{addr}:{API_PORT}{path}", data=data,
                                     method=method,
                                     headers={"Authorization": f"Bearer {token}",
                                              "Content-Type": "application/xml" if raw
                                              else "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=15) as r:
                text = r.read()
        except urllib.error.HTTPError as exc:
            answer = exc.read()
            if allow_error:
                try:
                    return json.loads(answer)
                except ValueError:
                    pass
            raise ScenarioError(f"{node.name} API {method} {path}: HTTP {exc.code} "
                                f"{answer.decode(errors='replace')}") from exc
        except OSError as exc:
            raise ScenarioError(f"{node.name} API {method} {path}: {exc}") from exc
        return json.loads(text) if text else None

    # ---- events --------------------------------------------------------------------------

    def events(self) -> list[Event]:
        self._tail.poll()
        return [e for e in self._tail.events if e.time >= self.since]

    def wait(self, pred: Callable[[Event], bool], what: str, timeout: float = 30.0,
             fail: Callable[[Event], bool] | None = None) -> Event:
        """The first event (since the scenario began) matching pred; ScenarioError naming
        `what` after timeout, or at once when an event matches `fail`."""
        deadline = time.time() + timeout
        while True:
            for e in self.events():
                if pred(e):
                    return e
                if fail and fail(e):
                    raise ScenarioError(f"while waiting for {what}: {e.node} {e.kind}: "
                                        f"{e.summary}")
            if time.time() > deadline:
                raise ScenarioError(f"no {what} within {timeout:.0f}s")
            time.sleep(0.05)

    def wait_kind(self, kind: str, node: str | None = None, timeout: float = 30.0,
                  fail_kinds: tuple[str, ...] = (), **fields: Any) -> Event:
        def pred(e: Event) -> bool:
            return (e.kind == kind and (node is None or e.node == node)
                    and all(e.fields.get(k) == v for k, v in fields.items()))
        return self.wait(pred, f"{kind}" + (f" at {node}" if node else ""), timeout,
                         fail=(lambda e: e.kind in fail_kinds) if fail_kinds else None)

    def wait_between_sessions(self, timeout: float = 30.0) -> None:
        """Until every CWMP session the HNB began has ended. The HMS runs a queued task in
        whatever session is open (a TRANSFER COMPLETE one, say), so an operator action meant
        to be carried by the session its connection request opens waits for this first."""
        def open_sessions() -> int:
            self._tail.poll()
            marks = [e.fields.get("state") for e in self._tail.events
                     if e.node == self.hnb and e.kind == "cwmp.session"]
            return marks.count("start") - marks.count("end")
        deadline = time.time() + timeout
        while open_sessions() > 0:
            if time.time() > deadline:
                raise ScenarioError(f"{self.hnb} still in a CWMP session after {timeout:.0f}s")
            time.sleep(0.05)

    # ---- common steps --------------------------------------------------------------------

    def device_id(self) -> str:
        st = self.topo.nodes[self.hnb].settings
        return f"{st.get('oui', '00D0B2')}-{st.get('serial', self.hnb)}"

    def in_service(self) -> bool:
        status = self.control(self.hnb, "status")
        return bool(status.get("powered") and status.get("hnbgw"))

    def power_on(self) -> None:
        """Power the HNB on as it leaves the factory: a running one (a lab shared by
        several scenarios) is first powered off with its state wiped."""
        if self.control(self.hnb, "status").get("powered"):
            self.control(self.hnb, "power-off", factory="true")
            self.since = time.time()
        self.mark("power-on")
        self.control(self.hnb, "power-on")

    def power_on_and_register(self, timeout: float = 60.0) -> Event:
        """Power the HNB on and wait until it is registered at the HNB-GW."""
        self.power_on()
        return self.wait_kind("hnb.in_service", self.hnb, timeout,
                              fail_kinds=("hnb.failed", "hms.refused"))

    def ensure_registered(self) -> None:
        """For procedures that start from a registered HNB (5.3-5.6): register first when
        the HNB is not in service yet (a lab shared by `hnblab run all` already is)."""
        if not self.in_service():
            self.power_on_and_register()
        self.since = time.time()  # the procedure's own evidence starts here
