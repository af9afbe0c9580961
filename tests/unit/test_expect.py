"""Negative scenarios: the expected failure (lab.flows.model.Expect) checked over synthetic
runs shaped like the real ones (lab.flows.matcher.check_expect), and how a run that shows
it is reported: a passing JUnit suite, PASS pages, and Outcome.ok of the runner."""

from __future__ import annotations

import json
import re
from pathlib import Path

import lxml.html
import pytest
from lxml import etree

from lab.evidence.junit import Suite, junit_xml
from lab.evidence.report import write_index, write_report
from lab.flows import FLOWS, Observation, match, suggest_binding
from lab.flows.matcher import EXPECTED, NOT_REACHED, FlowResult, check_expect
from lab.flows.model import Expect
from scenarios import runner
from scenarios.harness import Scenario
from tests.unit import test_flows_fixtures as F
from tests.unit.test_junit import ANT_JUNIT


def results(r: F.Run, *flows: str) -> list[FlowResult]:
    obs = Observation(r.events, r.topo)
    return [match(FLOWS[f], suggest_binding(r.topo), obs, start=r.events[0].time)
            for f in flows]


def ex(spec: str) -> Expect:
    return Expect.parse(spec)


# ---- the notation --------------------------------------------------------------------------

def test_expect_parses_flow_steps_and_text() -> None:
    e = ex("5.1.1/2.2, 2.3: peer not responding")
    assert (e.flow, e.steps, e.text) == ("5.1.1", ("2.2", "2.3"), "peer not responding")
    assert str(e) == "5.1.1/2.2,2.3: peer not responding"
    assert e.where() == "5.1.1 steps 2.2/2.3"
    assert ex("5.2.1/5.3-bis") == Expect("5.2.1", ("5.3-bis",), "")
    assert ex("5.3.1/D: TransferComplete: 9018").text == "TransferComplete: 9018"


@pytest.mark.parametrize("bad", ["cwmp.session", "5.1.2", "5.1.2/", "/3", "5.1.2/3:",
                                 "5.1 2/3", "5.1.2/3 4"])
def test_expect_in_another_shape_is_an_error_naming_it(bad: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"expect {bad!r}")):
        ex(bad)


def test_expect_names_a_flow_or_the_one_variant_of_it_checked() -> None:
    assert ex("5.3.2/B").pick(["5.3.2"]) == 0
    assert ex("5.3.2/B").pick(["5.2.1", "5.3.2-cr"]) == 1
    assert ex("5.4-1/4").pick(["5.4-1-cr", "5.4-refused"]) == 0
    with pytest.raises(ValueError, match=r"could be any of 5\.4-1, 5\.4-refused: name one"):
        ex("5.4/2").pick(["5.4-1", "5.4-refused"])
    with pytest.raises(ValueError, match=r"does not check \(it checks 5\.3\.1\)"):
        ex("5.3.2/B").pick(["5.3.1"])
    # a later update (connection request first): the fault at B of 5.3.2-cr
    r = F.operator_spv(fault=True)
    start = max(e.time for e in r.events if e.kind == "hnbap.rx") + 1.0
    rs = [match(FLOWS["5.3.2-cr"], suggest_binding(r.topo), r.events, r.topo, start=start)]
    c = check_expect(rs, ex("5.3.2/B: 9005"))
    assert c.ok, c.why
    assert c.summary.startswith("expected failure seen at 5.3.2-cr step B")


# ---- seen or not ---------------------------------------------------------------------------

def test_certificate_mismatch_is_the_expected_failure_at_step_3() -> None:
    rs = results(F.cert_mismatch(), "5.1.2")
    c = check_expect(rs, ex("5.1.2/3: hostname mismatch"))
    assert c.ok, c.why
    assert [v.step.id for v in c.seen] == ["3"] and c.flow is rs[0]
    assert c.summary.startswith("expected failure seen at 5.1.2 step 3 (failed)")
    assert "Hostname mismatch" in c.summary
    roles = {v.step.id: c.role(rs[0], v) for v in rs[0].steps}
    assert roles["3"] == EXPECTED
    assert {roles[s] for s in "456789"} == {NOT_REACHED}  # the procedure stopped there
    assert roles["1"] == roles["2"] == ""


def test_negative_scenarios_of_the_lab_fit_their_runs() -> None:
    """The expect values scenarios/negative.py sets, over runs shaped like theirs."""
    reg = runner.load_all()
    for name, run in (("hms-cert-mismatch", F.cert_mismatch),
                      ("segw-unreachable", F.segw_unreachable),
                      ("hnb-not-accepted", F.hnb_not_accepted)):
        s = reg[name]
        assert s.expected is not None, name
        c = check_expect(results(run(), *s.clauses), s.expected)
        assert c.ok, (name, c.why)
    c = check_expect(results(F.segw_unreachable(), "5.1.1"), reg["segw-unreachable"].expected)
    assert [(v.step.id, v.status) for v in c.seen] == [("2.2", "missing"), ("2.3", "failed")]


def test_wrong_reason_is_not_the_expected_failure() -> None:
    c = check_expect(results(F.cert_mismatch(), "5.1.2"), ex("5.1.2/3: certificate expired"))
    assert not c.ok
    assert "step 3 failed" in c.why and "'certificate expired'" in c.why
    assert c.summary.startswith("expected failure NOT seen")
    # the text may name an event kind of the evidence (the SeGW's refusal)
    assert check_expect(results(F.hnb_not_accepted(), "5.1.1"),
                        ex("5.1.1/2.3: ike.auth_failed")).ok
    assert not check_expect(results(F.segw_unreachable(), "5.1.1"),
                            ex("5.1.1/2.2,2.3: ike.auth_failed")).ok


def test_failure_at_another_step_is_not_the_expected_failure() -> None:
    rs = results(F.cert_mismatch(), "5.1.2")
    c = check_expect(rs, ex("5.1.2/5"))
    assert not c.ok and "went wrong first at step 3 failed" in c.why
    assert "not at 5.1.2 step 5" in c.why
    assert all(c.role(rs[0], v) == "" for v in rs[0].steps)  # no step is excused
    # segw-unreachable: the DNS answer (2.2) already is wrong, so 2.3 alone does not fit
    c = check_expect(results(F.segw_unreachable(), "5.1.1"), ex("5.1.1/2.3"))
    assert not c.ok and "step 2.2 missing" in c.why


def test_a_passing_flow_is_not_the_expected_failure() -> None:
    c = check_expect(results(F.internet(), "5.1.2"), ex("5.1.2/3: hostname mismatch"))
    assert not c.ok and "no step of 5.1.2 failed" in c.why and not c.seen


def test_failing_elsewhere_as_well_is_not_the_expected_failure() -> None:
    # 2.2 is bad first, as expected, but 2.3 went wrong too and is not expected
    c = check_expect(results(F.segw_unreachable(), "5.1.1"), ex("5.1.1/2.2"))
    assert not c.ok and "step 2.3 failed" in c.why and "as well" in c.why


def test_other_flows_of_the_scenario() -> None:
    # registration rejected at 5.2.1 step 7, discovery before it passed: as expected
    rs = results(F.intranet(reject=True), "5.1.1", "5.2.1")
    c = check_expect(rs, ex("5.2.1/7: HNBRegisterReject"))
    assert c.ok, c.why
    # discovery broken too (step 7 of 5.1.1 missing): the failure is not only where expected
    r = F.intranet(reject=True, drop=("hnb1/cwmp.tx/SetParameterValuesResponse",
                                      "hms-initial/cwmp.rx/SetParameterValuesResponse"))
    c = check_expect(results(r, "5.1.1", "5.2.1"), ex("5.2.1/7: HNBRegisterReject"))
    assert not c.ok and c.why.startswith("5.1.1 step 7 missing")
    # discovery stops at step 3: the registration after it is never reached, not failed
    rs = results(F.cert_mismatch(), "5.1.2", "5.2.1")
    c = check_expect(rs, ex("5.1.2/3: hostname mismatch"))
    assert c.ok, c.why
    assert {c.role(rs[1], v) for v in rs[1].steps if v.bad} == {NOT_REACHED}


def test_expect_naming_a_flow_or_step_not_checked() -> None:
    rs = results(F.cert_mismatch(), "5.1.2")
    c = check_expect(rs, ex("5.1.1/2.3"))
    assert not c.ok and "flow 5.1.1" in c.why and "checks 5.1.2" in c.why
    c = check_expect(rs, ex("5.1.2/42"))
    assert not c.ok and "no step 42" in c.why


# ---- scenarios say what they expect ------------------------------------------------------------

def _scenario(**kw: object) -> Scenario:
    base: dict[str, object] = {"name": "x-neg", "title": "t", "topology": "intranet.yaml",
                               "clauses": ["5.1.1"], "run": lambda ctx: None}
    return Scenario(**{**base, **kw})  # type: ignore[arg-type]


def test_every_negative_scenario_says_where_its_failure_shows() -> None:
    reg = runner.load_all()  # each scenario was checked when it registered
    negative = [s for s in reg.values() if s.negative]
    assert {s.name for s in negative} >= {"hms-cert-mismatch", "segw-unreachable",
                                          "hnb-not-accepted", "cm-spv-fault",
                                          "cm-download-bad", "alarm-config-fault"}
    for s in negative:
        assert s.expected is not None and s.expected.flow in s.clauses, s.name
    assert all(not s.expect for s in reg.values() if s.name in ("cm-spv", "registration"))


def test_scenario_expect_that_does_not_fit_is_an_error_naming_it() -> None:
    _scenario(negative=True, expect="5.1.1/2.3: ike.auth_failed").check()
    with pytest.raises(ValueError, match="scenario x-neg: expects a failure but does not say"):
        _scenario(negative=True).check()
    with pytest.raises(ValueError, match=r"scenario x-neg: .*names flow 5\.1\.2.*5\.1\.1"):
        _scenario(negative=True, expect="5.1.2/3").check()
    with pytest.raises(ValueError, match=r"scenario x-neg: .*no step '2\.9'"):
        _scenario(negative=True, expect="5.1.1/2.9").check()
    with pytest.raises(ValueError, match=r"scenario x-neg: expect 'hnb\.failed'"):
        _scenario(negative=True, expect="hnb.failed").check()


# ---- how it is reported ----------------------------------------------------------------------

def suite_of(r: F.Run, spec: str, *flows: str) -> etree._Element:
    rs = results(r, *flows)
    doc = etree.fromstring(junit_xml([Suite("neg", rs, r.events[0].time, "",
                                            check_expect(rs, ex(spec)))]))
    assert ANT_JUNIT.validate(doc), ANT_JUNIT.error_log
    return doc[0]


def test_junit_of_a_negative_run_that_shows_its_failure_passes() -> None:
    suite = suite_of(F.cert_mismatch(), "5.1.2/3: hostname mismatch", "5.1.2")
    assert suite.get("failures") == "0" and suite.get("errors") == "0"
    assert not suite.xpath(".//failure")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    three = cases["3 CWMP session (TLS) (expected failure)"]
    assert len(three) == 0  # a passed test case
    assert cases["4 Inform"].find("skipped").get("message").startswith("not reached")
    assert len(cases["expected failure at 5.1.2 step 3"]) == 0
    assert int(suite.get("tests")) == len(FLOWS["5.1.2"].steps) + 1
    assert int(suite.get("skipped")) == 6
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props["expect"] == "5.1.2/3: hostname mismatch"
    assert props["expect.seen"] == "5.1.2/3" and props["expect.verdict"] == "pass"
    out = suite.find("system-out").text
    assert out.startswith("expected failure seen at 5.1.2 step 3")
    assert "5.1.2 3 failed as expected (expected failure: 5.1.2/3: hostname mismatch)" in out


def test_junit_of_a_negative_run_without_its_failure_fails() -> None:
    # the procedure went through: the expect test case fails, saying so
    suite = suite_of(F.internet(), "5.1.2/3: hostname mismatch", "5.1.2")
    assert suite.get("failures") == "1"
    (f,) = suite.xpath(".//failure")
    assert f.get("type") == "expectation" and "no step of 5.1.2 failed" in f.get("message")
    assert f.getparent().get("classname") == "neg.expect"
    # failing at another step: that step's failure stands as well
    suite = suite_of(F.cert_mismatch(), "5.1.2/5", "5.1.2")
    kinds = sorted(f.get("type") for f in suite.xpath(".//failure"))
    assert kinds == ["expectation", "failed"] + ["missing"] * 6
    assert not suite.xpath(".//testcase[contains(@name, '(expected failure)')]")


def test_report_and_index_of_negative_runs(tmp_path: Path) -> None:
    good, bad = F.cert_mismatch(), F.internet()
    reps = []
    for name, r in (("hms-cert-mismatch", good), ("cert-not-provoked", bad)):
        reps.append(write_report(tmp_path / name, name, results(r, "5.1.2"),
                                 Observation(r.events, r.topo), start=r.events[0].time,
                                 expect=ex("5.1.2/3: hostname mismatch")))
    assert [r.verdict for r in reps] == ["pass", "fail"]
    page = lxml.html.document_fromstring(reps[0].html_path.read_text())
    assert page.xpath("//title")[0].text == "hms-cert-mismatch: PASS"
    box = " ".join(page.xpath("//div[contains(@class, 'expect')]")[0].text_content().split())
    assert box.startswith("expected failure seen at 5.1.2 step 3")
    assert "EXPECTED FAILURE" in page.xpath("//h2")[0].text_content()
    row = page.xpath("//tr[@class='expected']")
    assert len(row) == 1 and row[0].xpath("td")[0].text == "3"
    assert "failed as expected" in row[0].text_content()
    assert len(page.xpath("//tr[@class='notreached']")) == 6
    data = json.loads((tmp_path / "hms-cert-mismatch" / "verdicts.json").read_text())
    assert data["verdict"] == "pass" and data["expectation"]["ok"] is True
    assert data["expectation"]["seen"] == ["3"]
    assert not etree.parse(str(tmp_path / "hms-cert-mismatch" / "junit.xml")).xpath(
        "//failure")
    worse = lxml.html.document_fromstring(reps[1].html_path.read_text())
    assert worse.xpath("//title")[0].text.endswith("FAIL")
    assert "expected failure NOT seen" in worse.xpath("//div[contains(@class, 'expect')]")[
        0].text_content()
    index = lxml.html.document_fromstring(write_index(tmp_path, reps).read_text())
    rows = index.xpath("//tr")[1:]
    assert [r.xpath("td")[1].text for r in rows] == ["PASS", "FAIL"]
    assert "expected failure seen at 5.1.2 step 3" in rows[0].text_content()
    assert "5.1.2 expected failure" in rows[0].xpath("td")[2].text
    combined = etree.parse(str(tmp_path / "junit.xml"))
    assert [s.get("failures") for s in combined.getroot()] == ["0", "1"]
    summary = json.loads((tmp_path / "verdicts.json").read_text())
    assert summary["scenarios"][0]["note"].startswith("expected failure seen")


def test_runner_outcome_of_a_negative_scenario(tmp_path: Path) -> None:
    s = _scenario(name="hms-cert-mismatch", topology="internet.yaml", clauses=["5.1.2"],
                  negative=True, expect="5.1.2/3: hostname mismatch")
    r = F.cert_mismatch()
    rep = write_report(tmp_path, s.name, results(r, "5.1.2"), Observation(r.events, r.topo),
                       start=r.events[0].time, expect=s.expected)
    o = runner.Outcome(s, "lab", tmp_path, None, 1.0, rep, tmp_path)
    assert o.expects_failure and o.ok
    table = runner.verdict_table([o])
    assert "PASS (expected failure seen)" in table
    assert "failed (expected)" in table and "missing (not reached)" in table
    stopped = runner.Outcome(s, "lab", tmp_path, "no refusal within 30s", 1.0, rep, tmp_path)
    assert not stopped.ok
    # reported without the expectation, the same run is a failure
    plain = write_report(tmp_path / "plain", s.name, results(r, "5.1.2"),
                         Observation(r.events, r.topo), start=r.events[0].time)
    assert not runner.Outcome(_scenario(), "lab", tmp_path, None, 1.0, plain, tmp_path).ok
    assert "FAIL" in runner.verdict_table([runner.Outcome(_scenario(), "lab", tmp_path, None,
                                                          1.0, plain, tmp_path)])
