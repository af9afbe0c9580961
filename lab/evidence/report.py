"""Write a scenario's evidence into a directory: report.html, junit.xml, verdicts.json; and
an index.html (plus a combined junit.xml and verdicts.json) over several scenarios.

    rep = evaluate_run(run_dir, "discovery-intranet", ["5.1.1", "5.2.1"], start=t0)
    rep.verdict                        # "pass" | "fail"
    write_index(run_dir, [rep, ...])   # for "hnblab run all"

A negative scenario passes `expect` (lab.flows.model.Expect): its report passes when that
failure is seen where expected (lab.flows.matcher.check_expect), and every page and JUnit
file says "expected failure seen at ..." instead of calling the run a failure.

The run directory is what `hnblab up` made: topology.yaml and events/<node>.jsonl (read
with lab.evidence.events.read_run_events); a scenario's evidence goes to
<run>/scenarios/<name>/. Packet captures in that directory and the lab-wide ones of the
run (*.pcap, *.pcapng), and the event files, are linked from the page by relative path.
Given `pcaps` (a directory: the scenario's slices of the lab's captures), evaluate_run
summarises them (lab.evidence.wire) and the steps' wire proofs are checked against them.
"""

from __future__ import annotations

import functools
import html
import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab import topology as topology_mod
from lab.evidence.events import Event, read_run_events
from lab.evidence.junit import Suite, junit_xml
from lab.evidence.ladder import render_page
from lab.evidence.wire import WireFacts, summarise
from lab.flows.binding import suggest_binding
from lab.flows.matcher import ExpectCheck, FlowResult, check_expect, match
from lab.flows.model import Expect
from lab.flows.observed import Observation
from lab.flows.ts32583 import flow as get_flow
from lab.topology import Topology

REPORT, JUNIT, VERDICTS, INDEX = "report.html", "junit.xml", "verdicts.json", "index.html"


@dataclass
class ScenarioReport:
    scenario: str
    results: list[FlowResult]
    start: float
    out_dir: Path
    description: str = ""
    error: str = ""
    expect: Expect | None = None

    @functools.cached_property
    def expectation(self) -> ExpectCheck | None:
        """Whether the expected failure was seen (None: a positive scenario). Computed
        once: the results and expect are not changed after the report is made."""
        if self.expect is None:
            return None
        return check_expect(self.results, self.expect)

    @property
    def passed(self) -> bool:
        """The scenario ran to its end and every mandatory step of every flow passed, or,
        for a negative scenario, its expected failure was seen where expected."""
        if not self.results or self.error:
            return False
        exp = self.expectation
        return exp.ok if exp is not None else all(r.passed for r in self.results)

    @property
    def note(self) -> str:
        """One line for an index: the expectation's summary, or why the scenario stopped."""
        exp = self.expectation
        if self.error:
            return "scenario stopped: " + self.error.strip().splitlines()[0]
        return exp.summary if exp is not None else ""

    @property
    def verdict(self) -> str:
        return "pass" if self.passed else "fail"

    @property
    def html_path(self) -> Path:
        return self.out_dir / REPORT

    def to_json(self) -> dict[str, Any]:
        exp = self.expectation
        return {"scenario": self.scenario, "verdict": self.verdict, "start": self.start,
                "description": self.description, "error": self.error or None,
                "expectation": exp.to_json() if exp is not None else None,
                "flows": [r.to_json() for r in self.results]}


def write_report(out_dir: Path | str, scenario: str, results: Sequence[FlowResult],
                 obs: Observation, *, start: float, end: float | None = None,
                 description: str = "", run_dir: Path | str | None = None,
                 marks: Sequence[tuple[str, float]] = (), error: str = "",
                 expect: Expect | None = None, wire: WireFacts | None = None
                 ) -> ScenarioReport:
    """report.html, junit.xml and verdicts.json of one scenario into `out_dir`.
    `marks`: (what, time) lines across the ladder; `error`: why the scenario stopped;
    `expect`: the failure a negative scenario provokes; `wire`: the captures the steps'
    wire proofs were checked against (listed on the page)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rep = ScenarioReport(scenario, list(results), start, out, description, error, expect)
    links = _links(Path(run_dir) if run_dir is not None else None, out)
    page = render_page(scenario, obs, rep.results, start=start, end=end,
                       description=description, links=links, marks=marks, error=error,
                       expectation=rep.expectation, wire=wire)
    _atomic_write(out / REPORT, page.encode("utf-8"))
    _atomic_write(out / JUNIT, junit_xml([_suite(rep)]))
    _atomic_write(out / VERDICTS, json.dumps(rep.to_json(), indent=2, default=str).encode())
    return rep


def load_run(run_dir: Path | str) -> tuple[list[Event], Topology | None]:
    """A run's events and its topology (None when the run has no topology.yaml)."""
    run = Path(run_dir)
    if not run.is_dir():
        raise FileNotFoundError(f"{run}: no such run directory")
    topo_file = run / "topology.yaml"
    topo = topology_mod.load(topo_file) if topo_file.exists() else None
    return read_run_events(run), topo


def evaluate_run(run_dir: Path | str, scenario: str, flow_ids: Iterable[str], *,
                 start: float | None = None, end: float | None = None,
                 binding: Mapping[str, str] | None = None, hnb: str | None = None,
                 facts: Mapping[str, bool | None] | None = None,
                 out_dir: Path | str | None = None, description: str = "",
                 marks: Sequence[tuple[str, float]] = (), error: str = "",
                 expect: Expect | str | None = None, pcaps: Path | str | None = None
                 ) -> ScenarioReport:
    """Match a run against flows and write its report. `flow_ids` are flow ids ("5.1.1",
    "5.4-1"); see lab.flows.flows_for for a scenario's clauses. `binding` defaults to
    what the run's topology suggests for `hnb`; `out_dir` to <run>/scenarios/<scenario>;
    `expect` ("5.1.2/3: certificate", see lab.flows.model.Expect) makes it negative;
    `pcaps`, the directory of the scenario's captures, adds the wire proofs (without it
    the steps are judged on events alone)."""
    if isinstance(expect, str):
        expect = Expect.parse(expect) if expect else None
    events, topo = load_run(run_dir)
    if binding is None:
        if topo is None:
            raise ValueError(f"{run_dir}: no topology.yaml, so no default binding: pass one")
        binding = suggest_binding(topo, hnb)
    obs = Observation(events, topo)
    t0 = start if start is not None else (obs.events[0].time if obs.events else time.time())
    wire = summarise(pcaps, topo) if pcaps is not None else None
    results = [match(get_flow(fid), binding, obs, topo, start=t0, end=end,
                     facts_override=facts, wire=wire) for fid in flow_ids]
    out = Path(out_dir) if out_dir is not None else Path(run_dir) / "scenarios" / scenario
    return write_report(out, scenario, results, obs, start=t0, end=end,
                        description=description, run_dir=run_dir, marks=marks, error=error,
                        expect=expect, wire=wire)


def _suite(r: ScenarioReport) -> Suite:
    return Suite(r.scenario, r.results, r.start, r.error, r.expectation)


def write_index(out_dir: Path | str, reports: Sequence[ScenarioReport],
                title: str = "hnblab run") -> Path:
    """index.html linking each scenario's report, a combined junit.xml (a testsuite per
    scenario) and verdicts.json, into `out_dir`. Returns the index path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for r in reports:
        href = os.path.relpath(r.html_path, out).replace(os.sep, "/")
        c = {"passed": 0, "failed": 0, "missing": 0, "skipped": 0}
        for fr in r.results:
            for k, n in fr.counts().items():
                c[k] += n
        exp = r.expectation
        flows = ", ".join(f"{fr.flow.id} " + ("expected failure" if exp is not None and exp.ok
                                               and fr is exp.flow else fr.verdict)
                          for fr in r.results)
        note = f'<div class="note {r.verdict}">{_e(r.note)}</div>' if r.note else ""
        rows.append(f'<tr class="{r.verdict}"><td><a href="{_e(href)}">{_e(r.scenario)}</a>'
                    f'</td><td class="v {r.verdict}">{r.verdict.upper()}</td>'
                    f"<td>{_e(flows)}</td><td>{c['passed']}</td><td>{c['failed']}</td>"
                    f"<td>{c['missing']}</td><td>{c['skipped']}</td>"
                    f"<td>{_e(r.description)}{note}</td></tr>")
    total = "pass" if reports and all(r.verdict == "pass" for r in reports) else "fail"
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}: {total.upper()}</title><style>{INDEX_CSS}</style></head><body>"
        f'<h1>{_e(title)} <span class="verdict {total}">{total.upper()}</span></h1>'
        f'<p class="meta">{len(reports)} scenario(s), written '
        f'{time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())} \u00b7 '
        f'<a href="{JUNIT}">junit.xml</a> \u00b7 <a href="{VERDICTS}">verdicts.json</a></p>'
        "<table><tr><th>scenario</th><th>verdict</th><th>flows</th><th>passed</th>"
        "<th>failed</th><th>missing</th><th>skipped</th><th>what</th></tr>"
        + "".join(rows) + "</table></body></html>")
    _atomic_write(out / INDEX, page.encode("utf-8"))
    _atomic_write(out / JUNIT, junit_xml([_suite(r) for r in reports]))
    summary = {"verdict": total, "scenarios": [
        {"scenario": r.scenario, "verdict": r.verdict, "note": r.note or None,
         "report": os.path.relpath(r.html_path, out).replace(os.sep, "/")} for r in reports]}
    _atomic_write(out / VERDICTS, json.dumps(summary, indent=2).encode())
    return out / INDEX


INDEX_CSS = """
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1d2330}
h1{font-size:22px} .meta{color:#555}
.verdict{display:inline-block;padding:2px 10px;border-radius:4px;font-weight:700;color:#fff}
.verdict.pass{background:#1a7f37} .verdict.fail{background:#c62828}
table{border-collapse:collapse} th,td{border:1px solid #d0d7de;padding:4px 10px;text-align:left}
th{background:#f3f5f7} td.v{font-weight:700} td.v.pass{color:#1a7f37} td.v.fail{color:#c62828}
.note{font-size:12px;margin-top:2px} .note.pass{color:#1a7f37} .note.fail{color:#c62828}
"""


def _links(run: Path | None, out: Path) -> list[tuple[str, str]]:
    """Relative links from the report to its captures (in its own directory, and the
    lab-wide ones of the run, not other scenarios') and the run's event files."""
    found: list[Path] = []
    for pattern in ("*.pcap", "*.pcapng"):
        found += sorted(out.rglob(pattern))
    if run is not None and run.is_dir():
        others = [run / "scenarios", run / "reports"]
        for pattern in ("*.pcap", "*.pcapng"):
            found += sorted(p for p in run.rglob(pattern) if p not in found
                            and not any(o in p.parents for o in others))
        found += sorted((run / "events").glob("*.jsonl"))
    base = run if run is not None else out
    return [(os.path.relpath(p, out).replace(os.sep, "/"), _rel(p, base)) for p in found]


def _rel(p: Path, base: Path) -> str:
    try:
        return str(p.relative_to(base))
    except ValueError:
        return p.name


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _e(s: str) -> str:
    return html.escape(s, quote=True)
