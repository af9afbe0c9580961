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
    # the evidence an engineer opens: ladder, JUnit, verdicts, the scenario's pcaps
    out = o.out_dir
    html = (out / "report.html").read_text()
    assert "<svg" in html and s.clauses[0] in html
    junit = etree.fromstring((out / "junit.xml").read_bytes())
    assert junit.xpath("//testcase")
    verdicts = json.loads((out / "verdicts.json").read_text())
    assert verdicts
    assert list(out.glob("*.pcap"))
    if not o.expects_failure:
        assert o.verdict.passed, table
        assert not junit.xpath("//failure")
    else:
        assert not o.verdict.passed or s.options.get("expect_fault"), table


def test_scenario_list_is_complete() -> None:
    assert set(runner.ALL_ORDER) == set(REGISTRY)
