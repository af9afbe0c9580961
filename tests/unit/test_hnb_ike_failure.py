"""Why an IKE attempt failed, from that attempt's own charon log (the VICI control-log of
its initiate): real strongSwan lines from lab runs and the strongSwan sources."""

from __future__ import annotations

import pytest

from lab.nodes.hnb.network import failure_reason

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
     'CN=segw-initial.operator.example" under the operator root CA; certificate untrusted: '
     "no trusted ECDSA public key for 'segw-initial.operator.example'"),
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
