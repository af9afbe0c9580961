"""JUnit XML of flow verdicts: a testsuite per scenario, a testcase per spec step.

The shape CI tools read (Jenkins junit plugin, GitLab, GitHub test reporters), valid
against the Ant JUnit.xsd (windyroad/JUnit-Schema):

    <testsuites>
      <testsuite name tests failures errors skipped time timestamp hostname id package>
        <properties><property name value/>...</properties>
        <testcase classname="<scenario>.TS32583_5_1_1" name="2.3 IKEv2 (IPsec)" time>
          <failure message type>details</failure>     failed/missing mandatory step
          <skipped message/>                          skipped step (condition, optional)
        </testcase>
        <testcase classname="<scenario>.run" name="scenario run">
          <error message type>traceback</error>       only when the scenario itself stopped
        </testcase>
        <testcase classname="<scenario>.expect" name="expected failure at 5.1.2 step 3">
          <failure message type="expectation">why</failure>   only when it was not seen
        </testcase>
        <system-out>evidence per step</system-out>
        <system-err>unexpected events</system-err>
      </testsuite>
    </testsuites>

A step's time is the time from the previous step's evidence to its own (0 when either is
not known). Unexpected events do not fail a test case; they are listed in system-err.

A negative scenario (Suite.expect) that shows its expected failure is a passing suite: the
step that failed as expected is a passed test case named "... (expected failure)", with
the reason in system-out and the properties expect / expect.seen / expect.verdict; the
mandatory steps missing after it are skipped ("not reached"). When the failure was not
seen, the steps' failures stand and the expect test case fails saying what differed.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree

from lab.flows.matcher import (
    EXPECTED,
    FAILED,
    MISSING,
    NOT_REACHED,
    PASSED,
    ExpectCheck,
    FlowResult,
    StepVerdict,
    scenario_unexpected,
)


@dataclass
class Suite:
    scenario: str
    results: Sequence[FlowResult]
    start: float
    error: str = ""  # the scenario itself stopped: one <error> test case says why
    expect: ExpectCheck | None = None  # a negative scenario: was its failure seen


def _classname(scenario: str, r: FlowResult) -> str:
    # dots split packages in CI views: keep the clause number in one segment
    return f"{scenario}.TS32583_{r.flow.id.replace('.', '_').replace('-', '_')}"


def _case_time(v: StepVerdict, prev: float | None) -> float:
    if v.time is None or prev is None:
        return 0.0
    return max(0.0, v.time - prev)


def _evidence(v: StepVerdict, start: float) -> str:
    return "\n".join(f"  +{e.time - start:.3f} s {e.node} {e.kind}: {e.summary}"
                     for e in v.events)


def suite_element(suite: Suite, index: int = 0) -> etree._Element:
    ts = etree.Element("testsuite")
    props = etree.SubElement(ts, "properties")
    tests = failures = skipped = 0
    total = 0.0
    out_lines: list[str] = []
    err_lines: list[str] = []
    exp = suite.expect
    if exp is not None:
        for k, val in (("expect", str(exp.expect)),
                       ("expect.seen", ",".join(f"{exp.expect.flow}/{v.step.id}"
                                                for v in exp.seen)),
                       ("expect.verdict", "pass" if exp.ok else "fail")):
            etree.SubElement(props, "property", name=k, value=_x(val))
    for r in suite.results:
        for lane, node in r.binding.items():
            etree.SubElement(props, "property", name=f"{r.flow.id}.lane.{lane}", value=_x(node))
        for k, val in r.facts.items():
            etree.SubElement(props, "property", name=f"{r.flow.id}.fact.{k}", value=str(val))
        etree.SubElement(props, "property", name=f"{r.flow.id}.verdict", value=r.verdict)
        prev: float | None = r.start
        for v in r.steps:
            tests += 1
            t = _case_time(v, prev)
            total += t
            if v.time is not None and v.status == PASSED:
                prev = v.time
            role = exp.role(r, v) if exp is not None else ""
            name = f"{v.step.id} {v.step.message}" + (" (expected failure)"
                                                      if role == EXPECTED else "")
            tc = etree.SubElement(ts, "testcase", classname=_x(_classname(suite.scenario, r)),
                                  name=_x(name), time=f"{t:.3f}")
            s = v.step
            head = (f"TS 32.583 {r.flow.id} step {s.id} ({s.requirement}): {s.text}\n"
                    f"{s.frm} -> {s.to}: {s.message}")
            if role == EXPECTED:  # the failure the scenario provokes: this case passes
                pass
            elif role == NOT_REACHED:
                skipped += 1
                etree.SubElement(tc, "skipped", message=_x(
                    "not reached: the procedure stopped at the expected failure"))
            elif v.status in (FAILED, MISSING) and v.bad:
                failures += 1
                f = etree.SubElement(tc, "failure", message=_x(f"{v.status}: {v.reason}"),
                                     type=v.status)
                f.text = _x(head + (f"\nevidence:\n{_evidence(v, suite.start)}" if v.events
                                    else f"\nexpected: {s.proof.text()}"))
            elif v.status != PASSED:
                skipped += 1
                etree.SubElement(tc, "skipped", message=_x(v.reason or v.status))
            out_lines.append(f"{r.flow.id} {s.id} {v.status}"
                             + (f" as expected (expected failure: {exp.expect})"
                                if role == EXPECTED and exp is not None else "")
                             + (f" ({v.reason})" if v.reason else ""))
            if v.events:
                out_lines.append(_evidence(v, suite.start))
    if exp is not None:
        tests += 1
        tc = etree.SubElement(ts, "testcase", classname=_x(f"{suite.scenario}.expect"),
                              name=_x(f"expected failure at {exp.expect.where()}"),
                              time="0.000")
        if not exp.ok:
            failures += 1
            f = etree.SubElement(tc, "failure", type="expectation", message=_x(exp.why[:500]))
            f.text = _x(f"expected: {exp.expect}\n{exp.summary}")
        out_lines.insert(0, exp.summary)
    errors = 0
    if suite.error:
        tests, errors = tests + 1, 1
        tc = etree.SubElement(ts, "testcase", classname=_x(f"{suite.scenario}.run"),
                              name="scenario run", time="0.000")
        e = etree.SubElement(tc, "error", type="ScenarioError",
                             message=_x(suite.error.strip().splitlines()[0][:500]))
        e.text = _x(suite.error)
    for u in scenario_unexpected(suite.results):
        tag = " (informational)" if u.info else ""
        err_lines.append(f"+{u.time - suite.start:.3f} s {u.why}{tag}: {u.summary}")
    stamp = datetime.fromtimestamp(suite.start, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    ts.attrib.update({"name": _x(suite.scenario), "tests": str(tests),
                      "failures": str(failures), "errors": str(errors), "skipped": str(skipped),
                      "time": f"{total:.3f}", "timestamp": stamp, "hostname": _hostname(),
                      "id": str(index), "package": _x(f"hnblab.{suite.scenario}")})
    etree.SubElement(ts, "system-out").text = _x("\n".join(out_lines))
    etree.SubElement(ts, "system-err").text = _x("\n".join(err_lines))
    return ts


def junit_xml(suites: Sequence[Suite], *, totals: bool = False) -> bytes:
    """The document. The Ant JUnit.xsd allows no attributes on <testsuites> (CI readers add
    the suites up themselves); `totals` adds tests/failures/errors/skipped/time there for
    readers that show them (the Jenkins schema allows them)."""
    root = etree.Element("testsuites")
    sums = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total_time = 0.0
    for i, s in enumerate(suites):
        el = suite_element(s, i)
        root.append(el)
        for k in sums:
            sums[k] += int(el.get(k, "0"))
        total_time += float(el.get("time", "0"))
    if totals:
        root.attrib.update({k: str(v) for k, v in sums.items()})
        root.set("time", f"{total_time:.3f}")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _hostname() -> str:
    try:
        return socket.gethostname() or "localhost"
    except OSError:
        return "localhost"


_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _x(s: str) -> str:
    """Text XML 1.0 can carry (event summaries may hold anything a peer sent)."""
    return _BAD_XML.sub("\ufffd", s)
