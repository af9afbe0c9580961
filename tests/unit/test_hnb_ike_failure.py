"""Why an IKE attempt failed, from that attempt's own charon log: the mechanism both ends
share (lab.nodes.charon: first reason of each kind in line order, facts read from every
line, consequences said only on their own), and the HNB's table on it, with real strongSwan
lines (the VICI control-log of its initiate) from lab runs and the strongSwan sources. The
SeGW's table is tested in test_segw_auth."""

from __future__ import annotations

import pytest

from lab.nodes.charon import complete, explain, facts, rule
from lab.nodes.hnb.network import failure_reason

# ---- the mechanism -------------------------------------------------------------------------

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


def test_a_fact_is_its_first_sighting() -> None:
    assert facts(['cert "CN=a"', 'cert "CN=b"', "bad dates"], RULES) == {"cert": "CN=a"}


def test_complete_wants_a_cause_and_the_facts_it_names() -> None:
    assert not complete(["no key for 'x'"], RULES)            # a consequence only
    assert complete(["bad dates"], RULES)
    assert not complete(["bad issuer"], RULES)                # its fact not seen yet
    assert complete(["bad issuer", 'cert "CN=y"'], RULES)
    assert explain(["bad issuer", 'cert "CN=y"'], RULES) == "unknown CA CN=y"


# ---- the HNB's table -----------------------------------------------------------------------

ID = "100D0B2-HNB0001@hnb.operator.example"


@pytest.mark.parametrize("lines, reason", [
    ([f"authentication of '{ID}' (myself) with ECDSA_WITH_SHA256_DER successful",
      "establishing CHILD_SA mno{1}", "received AUTHENTICATION_FAILED notify error"],
     "authentication failed: the SeGW refused our credentials (AUTHENTICATION_FAILED)"),
    (["retransmit 1 of request with message ID 0", "retransmit 2 of request with message ID 0",
      "giving up after 2 retransmits", "establishing IKE_SA failed, peer not responding"],
     "peer not responding: no answer after 2 retransmits"),
    (['no issuer certificate found for "O=hnblab, CN=segw-initial.operator.example"',
      '  issuer is "O=hnblab, CN=hnblab intranet foreign (untrusted) CA"',
      "no trusted ECDSA public key found for 'segw-initial.operator.example'"],
     'certificate untrusted: no issuer certificate for "O=hnblab, '
     'CN=segw-initial.operator.example" under the operator root CA'),
    # the missing trusted key is said only when no cause of it is
    (["no trusted ECDSA public key found for 'segw-initial.operator.example'"],
     "certificate untrusted: no trusted ECDSA public key for 'segw-initial.operator.example'"),
    (["subject certificate invalid (valid from Jan 01 00:00:00 2020 to Jan 02 00:00:00 2020)"],
     "certificate not valid now (valid from Jan 01 00:00:00 2020 to Jan 02 00:00:00 2020): "
     "expired or not yet valid"),
    (["received NO_PROPOSAL_CHOSEN notify error"],
     "no proposal chosen: the SeGW accepts none of our algorithms (NO_PROPOSAL_CHOSEN)"),
    (["constraint check failed: identity 'segw.example' required"],
     "SeGW identity mismatch: identity 'segw.example' required"),
])
def test_specific_reasons(lines: list[str], reason: str) -> None:
    assert failure_reason(lines) == reason


def test_lines_that_say_nothing_about_a_failure_give_no_reason() -> None:
    # the old pattern took any "failed"/"retransmit" line, e.g. a plugin that failed to load
    assert failure_reason(["plugin 'tpm': failed to load - tpm_plugin_create returned NULL",
                           "retransmit 1 of request with message ID 0",
                           "certificate status is not available"]) is None


def test_each_attempt_has_its_own_reason() -> None:
    first = ["giving up after 2 retransmits", "establishing IKE_SA failed, peer not responding"]
    second = ["received AUTHENTICATION_FAILED notify error"]
    assert failure_reason(first).startswith("peer not responding")  # type: ignore[union-attr]
    assert failure_reason(second).startswith("authentication failed")  # type: ignore[union-attr]
    assert failure_reason([]) is None
