"""Every scenario end to end in real labs, verified step by step against the spec by the
same functions `hnblab run` uses, each twice in a row. Scenarios that need the same
topology share one lab (as `hnblab run all` does); each lab is removed at the end of the
module, even on failure."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import yaml
from lxml import etree

from lab import runtime
from lab.lab import Lab
from scenarios import runner
from scenarios.harness import Scenario, topology_data

REGISTRY = runner.load_all()


class Labs:
    def __init__(self) -> None:
        self.labs: dict[str, Lab] = {}
        self.made = 0

    def for_scenario(self, s: Scenario) -> Lab:
        key = yaml.safe_dump(topology_data(s), sort_keys=True)
        if key not in self.labs:
            # variants of one topology share its subnets: one lab at a time
            self.close()
            self.labs[key] = runner.lab_for(s, lambda m: None, name=f"e2e-s{self.made}")
            self.made += 1
        return self.labs[key]

    def close(self) -> None:
        for lab in self.labs.values():
            lab.down()
            assert runtime.leftovers(lab.name) == []
        self.labs.clear()


@pytest.fixture(scope="module")
def labs(node_image: str) -> Iterator[Labs]:
    made = Labs()
    yield made
    made.close()


@pytest.mark.parametrize("name", runner.ALL_ORDER)
def test_scenario(name: str, labs: Labs) -> None:
    s = REGISTRY[name]
    lab = labs.for_scenario(s)
    # twice: an engineer reruns a scenario in the lab that reproduces an issue, so a run
    # must not depend on the lab's history (the second run starts where the first ended)
    for attempt in ("first", "second"):
        o = runner.run_in(s, lab.name, lab.run_dir, lab.topology, lambda m: None)
        table = runner.verdict_table([o])
        assert o.ok, f"{name} ({attempt} run in this lab): {o.error}\n{table}"
        if o.expects_failure:
            check_expected_failure(s, o, f"{name} ({attempt} run)\n{table}")
    # the evidence an engineer opens: ladder, JUnit, verdicts, the scenario's pcaps
    out = o.out_dir
    html = (out / "report.html").read_text()
    assert "<svg" in html and s.clauses[0] in html
    junit = etree.fromstring((out / "junit.xml").read_bytes())
    assert junit.xpath("//testcase")
    verdicts = json.loads((out / "verdicts.json").read_text())
    assert verdicts
    assert list(out.glob("*.pcap"))
    # a good run has no JUnit failure, a negative scenario's included
    assert not junit.xpath("//failure"), table
    if not o.expects_failure:
        assert o.verdict.expectation is None, table
        assert all(fr.passed for fr in o.verdict.results), table
    else:
        # the step that failed as expected is a passing test case, and says so
        seen = {v.step.id for v in o.verdict.expectation.seen}
        cases = junit.xpath("//testcase[contains(@name, '(expected failure)')]")
        assert {c.get("name").split()[0] for c in cases} == seen, table
        assert junit.xpath("//testcase[@classname=$c]", c=f"{name}.expect")
        assert verdicts["expectation"]["ok"] is True and verdicts["verdict"] == "pass"
        assert "expected failure seen at" in html


def check_expected_failure(s: Scenario, o: runner.Outcome, where: str) -> None:
    """The failure the scenario provokes was seen at the step(s) its `expect` names, with
    the reason it names, and nothing failed elsewhere: every other step either passed, was
    skipped, or is missing after the failure (the procedure stopped there)."""
    want = s.expected
    assert want is not None, where
    exp = o.verdict.expectation
    assert exp is not None and exp.ok, f"{exp.summary if exp else 'not checked'}\n{where}"
    flows = [fr.flow.id for fr in o.verdict.results]
    at = want.pick(flows)
    target = o.verdict.results[at]
    bad = [v for v in target.steps if v.bad]
    assert bad and bad[0].step.id in want.steps, where  # the first thing to go wrong
    seen = [v for v in bad if v.step.id in want.steps]
    assert not want.text or any(
        want.text.lower() in " ".join([v.reason, *(e.kind + " " + e.summary
                                                    for e in v.events)]).lower()
        for v in seen), where
    first = target.steps.index(bad[0])
    for i, v in enumerate(target.steps):
        if v.bad and v.step.id not in want.steps:
            assert v.status == "missing" and i > first, f"step {v.step.id}: {where}"
    for fr in o.verdict.results:
        if fr is target:
            continue
        before = flows.index(fr.flow.id) < at
        for v in fr.steps:
            assert not v.bad or (not before and v.status == "missing"), \
                f"{fr.flow.id} step {v.step.id}: {where}"


def test_scenario_list_is_complete() -> None:
    assert set(runner.ALL_ORDER) == set(REGISTRY)
