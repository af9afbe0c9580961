"""The mechanism that turns one IKE attempt's charon log into reasons: first reason of each
kind in line order, facts read from every line, consequences said only on their own. The
HNB's table runs on it unchanged, so both ends can share it."""

from __future__ import annotations

import pytest

from lab.nodes.hnb.network import _FAILURES, failure_reason
from lab.nodes.segw.reasons import Rule, complete, explain, rule

RULES = [
    rule(r'cert "([^"]*)"', "cert", fact=True),
    rule(r"bad issuer", "ca", lambda m, k: f"unknown CA {k.get('cert', '?')}", needs=("cert",)),
    rule(r"bad dates", "validity", "expired"),
    rule(r"no key for '([^']*)'", "key", lambda m, k: f"no key for {m[1]} in {k.get('cert')}",
         consequence=True),
]


def test_first_reason_of_each_kind_in_line_order() -> None:
    assert explain(["bad dates", "bad issuer", "bad dates again"], RULES) == \
        "expired; unknown CA ?"


def test_a_consequence_is_said_only_on_its_own() -> None:
    assert explain(["bad issuer", "no key for 'x'"], RULES) == "unknown CA ?"
    # the fact comes after the line that uses it: facts are read from every line first
    assert explain(["no key for 'x'", 'cert "CN=y"'], RULES) == "no key for x in CN=y"


def test_nothing_said_gives_none() -> None:
    assert explain([], RULES) is None
    assert explain(['cert "CN=y"', "all fine"], RULES) is None


@pytest.mark.parametrize("lines", [
    ["received AUTHENTICATION_FAILED notify error"],
    ["giving up after 2 retransmits", "establishing IKE_SA failed, peer not responding"],
    ['no issuer certificate found for "O=hnblab, CN=segw"',
     "no trusted ECDSA public key found for 'segw'"],
    ["subject certificate invalid (valid from Jan 01 00:00:00 2020 to Jan 02 00:00:00 2020)"],
    ["plugin 'tpm': failed to load", "retransmit 1 of request with message ID 0"],
])
def test_the_hnb_table_runs_on_it_unchanged(lines: list[str]) -> None:
    hnb = [Rule(p, kind, meaning) for p, kind, meaning in _FAILURES]
    assert explain(lines, hnb) == failure_reason(lines)


def test_complete_wants_a_cause_and_the_facts_it_names() -> None:
    assert not complete(["no key for 'x'"], RULES)            # a consequence only
    assert complete(["bad dates"], RULES)
    assert not complete(["bad issuer"], RULES)                # its fact not seen yet
    assert complete(["bad issuer", 'cert "CN=y"'], RULES)
    assert explain(["bad issuer", 'cert "CN=y"'], RULES) == "unknown CA CN=y"
