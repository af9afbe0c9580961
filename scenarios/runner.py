"""Running scenarios: bring the lab up (or use a running one that fits), run the scenario,
verify its events against the spec's steps, write the evidence, tear down what it made.

Evidence per scenario, in `<run>/scenarios/<name>/`: report.html (ladder + verdicts),
junit.xml, verdicts.json, and pcaps cut to the scenario's time window; the lab-wide
pcaps and logs stay in the run directory. `run all` writes one junit.xml and an
index.html in `<run>/` linking every scenario's ladder.
"""

from __future__ import annotations

import importlib
import pkgutil
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

import scenarios
from lab import runtime, topology
from lab.lab import Lab, bring_up
from scenarios.harness import REGISTRY, Ctx, Scenario, ScenarioError, topology_data

ALL_ORDER = [
    "discovery-intranet", "registration", "ipsec-address-change", "cm-spv", "cm-spv-fault",
    "cm-download", "cm-download-bad", "alarm-config", "alarm-config-fault", "alarm-report",
    "pm-period", "pm-upload", "pm-outage", "deprovision-spv", "deprovision-factory-reset",
    "discovery-hnbgw-from-initial", "registration-download", "registration-hms-outside-tunnel",
    "discovery-same-hms",
    "discovery-internet", "hms-cert-mismatch", "hnb-not-accepted", "hnb-cert-expired",
    "hnb-identity-mismatch", "segw-unreachable",
]


def load_all() -> dict[str, Scenario]:
    for mod in pkgutil.iter_modules(scenarios.__path__):
        if mod.name not in ("harness", "runner"):
            importlib.import_module(f"scenarios.{mod.name}")
    return REGISTRY


@dataclass
class Outcome:
    scenario: Scenario
    lab: str
    run_dir: Path
    error: str | None
    seconds: float
    verdict: Any = None          # lab.flows verdict object (None if it could not be made)
    out_dir: Path | None = None
    marks: list[tuple[str, float]] = field(default_factory=list)

    @property
    def expects_failure(self) -> bool:
        return bool(self.scenario.expect)

    @property
    def expectation(self) -> Any:
        """A negative scenario's lab.flows.matcher.ExpectCheck (None for a positive one)."""
        return self.verdict.expectation if self.verdict is not None else None

    @property
    def ok(self) -> bool:
        """The scenario ran to its end and: a positive one, every mandatory step passed; a
        negative one (`expect` set), its failure was seen at the expected step with the
        expected reason, and nothing failed elsewhere (lab.flows.matcher.check_expect)."""
        return self.error is None and self.verdict is not None and bool(self.verdict.passed)


def _fits(lab: str, s: Scenario) -> bool:
    run_dir = Path(runtime.running_labs().get(lab, ""))
    try:
        return yaml.safe_load((run_dir / "topology.yaml").read_text()) == topology_data(s)
    except OSError:
        return False


def run(s: Scenario, *, lab: str | None = None, say: Callable[[str], None] = print) -> Outcome:
    """Run one scenario. With `lab`, in that running lab (it must have been made from the
    topology the scenario needs); else in a lab of its own, removed afterwards."""
    if lab is not None:
        if not _fits(lab, s):
            raise ScenarioError(f"scenario {s.name} needs topologies/{s.topology}"
                                + (" with its overrides" if s.overrides else "")
                                + f"; the running lab {lab} was made from another one")
        run_dir = Path(runtime.running_labs()[lab])
        topo = topology.load(run_dir / "topology.yaml")
        return run_in(s, lab, run_dir, topo, say)
    made = lab_for(s, say)
    try:
        return run_in(s, made.name, made.run_dir, made.topology, say)
    finally:
        made.down()
        say(f"lab {made.name} removed")


def lab_for(s: Scenario, say: Callable[[str], None], name: str | None = None) -> Lab:
    """A new lab made from the scenario's topology with its overrides applied."""
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / s.topology
        f.write_text(yaml.safe_dump(topology_data(s), sort_keys=False))
        say(f"bringing up {s.topology}" + (" (with the scenario's overrides)"
                                           if s.overrides else ""))
        lab = bring_up(f, name=name, progress=lambda m: None)
    say(f"lab {lab.name} up in {lab.up_seconds:.1f}s; run directory {lab.run_dir}")
    return lab


def _report(s: Scenario, ctx: Ctx, error: str | None, end: float, pcaps: Path) -> Any:
    from lab.evidence.report import evaluate_run
    from lab.flows import flows_for

    hnb = ctx.hnb
    # boolean options are flow conditions
    facts = {k: v for k, v in s.options.items() if isinstance(v, bool)}
    return evaluate_run(ctx.run_dir, s.name, [f.id for f in flows_for(s.clauses, s.options)],
                        start=ctx.since, end=end, hnb=hnb, facts=facts or None,
                        description=s.title, marks=ctx.marks, error=error or "",
                        expect=s.expected, out_dir=pcaps, pcaps=pcaps)


def run_in(s: Scenario, lab: str, run_dir: Path, topo: topology.Topology,
           say: Callable[[str], None]) -> Outcome:
    """Run one scenario in a running lab and write its evidence (never raises for a
    failing scenario: the Outcome says what went wrong)."""
    ctx = Ctx(lab, run_dir, topo, s)
    say(f"scenario {s.name}: {s.title}")
    t0 = time.monotonic()
    error = None
    try:
        s.run(ctx)
    except ScenarioError as exc:
        error = str(exc)
    except Exception as exc:  # a scenario bug must still leave its evidence
        error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
    seconds = time.monotonic() - t0
    time.sleep(0.3)  # let the last events and packets land
    out = Outcome(s, lab, run_dir, error, seconds, marks=ctx.marks)
    # the pcaps first: the steps' wire proofs are checked against the scenario's slices
    end, out_dir = time.time(), run_dir / "scenarios" / s.name
    out_dir.mkdir(parents=True, exist_ok=True)
    _cut_pcaps(run_dir, out_dir, ctx.since, end)
    out.verdict = _report(s, ctx, error, end, out_dir)
    out.out_dir = out.verdict.out_dir
    return out


def _cut_pcaps(run_dir: Path, out_dir: Path, start: float, end: float) -> None:
    """The scenario's own slice of each lab-wide pcap (one pcap per test case)."""
    import scapy.layers.l2  # noqa: F401  (registers Ethernet, the pcaps' link type)
    from scapy.utils import PcapReader, PcapWriter

    for pcap in sorted((run_dir / "pcap").glob("*.pcap")):
        (out_dir / f"{pcap.name}.error").unlink(missing_ok=True)  # a rerun's old failure
        try:
            # linktype given: a slice with no packet would otherwise warn about it
            with PcapReader(str(pcap)) as rd, PcapWriter(str(out_dir / pcap.name),
                                                          linktype=rd.linktype,
                                                          sync=True) as wr:
                for pkt in rd:
                    if start - 0.5 <= float(pkt.time) <= end + 0.5:
                        wr.write(pkt)
        except (OSError, EOFError, ValueError) as exc:  # a pcap still being written
            (out_dir / f"{pcap.name}.error").write_text(f"could not cut {pcap}: {exc}\n")


def verdict_table(outcomes: list[Outcome]) -> str:
    rows = []
    for o in outcomes:
        rep = o.verdict
        exp = o.expectation
        for fr in (rep.results if rep else []):
            for st in fr.steps:
                role = exp.role(fr, st) if exp is not None else ""
                rows.append((o.scenario.name, fr.flow.id, st.step.id,
                             f"{st.status} ({role})" if role else st.status,
                             _short(st.reason or st.step.text)))
        head = "PASS" if o.ok else "FAIL"
        note = o.error or f"{o.seconds:.2f}s"
        if exp is not None and not o.error:
            head += " (expected failure seen)" if exp.ok else " (expected failure NOT seen)"
            note = exp.summary
        rows.append((o.scenario.name, "", "", head, _short(note, 110)))
    widths = [max(len(str(r[i])) for r in rows) for i in range(4)]
    lines = []
    for r in rows:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(r[:4], widths, strict=True))
                     + "  " + r[4])
    return "\n".join(lines)


def _short(text: str, n: int = 70) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def by_topology(names: Iterable[str]) -> list[list[Scenario]]:
    """Scenarios grouped by the lab they need (topology + overrides), in the given order."""
    reg = load_all()
    groups: dict[str, list[Scenario]] = {}
    for n in names:
        s = reg[n]
        groups.setdefault(yaml.safe_dump(topology_data(s), sort_keys=True), []).append(s)
    return list(groups.values())


def run_many(names: Iterable[str], *, say: Callable[[str], None] = print) -> list[Outcome]:
    """Several scenarios, sharing one lab per distinct topology (in ALL_ORDER order)."""
    outcomes: list[Outcome] = []
    for group in by_topology(names):
        lab = lab_for(group[0], say)
        try:
            for s in group:
                outcomes.append(run_in(s, lab.name, lab.run_dir, lab.topology, say))
        finally:
            lab.down()
            say(f"lab {lab.name} removed")
    return outcomes
