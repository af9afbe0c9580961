"""Whom the SeGW lets in and why it did not: the identity policy, the reason given for each
refusal (from real strongSwan 5.9.8 responder logs of lab runs), and the SeGW turning
charon's VICI log of one IKE SA into one ike.auth_failed event."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest

from lab.evidence.events import EventLog
from lab.nodes.charon import explain
from lab.nodes.segw.auth import FAILED, identity_problem, segw_rules
from lab.nodes.segw.gateway import Gateway

ME = "198.51.100.10[segw-initial.operator.example]"
ID = "100D0B2-HNB0001@hnb.operator.example"
CERT = f'O=hnblab, CN={ID}'
FOREIGN = "O=hnblab, CN=hnblab intranet foreign (untrusted) CA"


def _lines(claimed: str, *middle: str) -> list[str]:
    return [f'received end entity cert "{CERT}"',
            f"looking for peer configs matching {ME}...198.51.100.100[{claimed}]",
            "selected peer config 'hnb'", f'  using certificate "{CERT}"', *middle]


FOREIGN_CA = _lines(ID, f'no issuer certificate found for "{CERT}"', f'  issuer is "{FOREIGN}"',
                    f"no trusted ECDSA public key found for '{ID}'")
EXPIRED = _lines(ID, '  using trusted ca certificate "O=hnblab, CN=hnblab intranet operator '
                 'root CA"', "subject certificate invalid (valid from Nov 04 01:03:06 2026 to "
                 "Dec 03 01:03:06 2020)", f"no trusted ECDSA public key found for '{ID}'")
OTHER = "100D0B2-HNB0666@hnb.operator.example"
MISMATCH = _lines(OTHER, f"no trusted ECDSA public key found for '{OTHER}'")
NO_CONFIG = [f'received end entity cert "{CERT}"',
             f"looking for peer configs matching {ME}...198.51.100.100[1000000-X@other.example]",
             "no matching peer config found"]


@pytest.mark.parametrize("lines, reason", [
    (FOREIGN_CA, f'unknown CA: the HNB certificate "{CERT}" is issued by "{FOREIGN}", not by '
                 "the operator root CA"),
    (EXPIRED, "HNB certificate expired on Dec 03 01:03:06 2020 (valid from Nov 04 01:03:06 "
              "2026)"),
    (MISMATCH, f"identity mismatch: the HNB claims '{OTHER}' in IKE but its certificate is "
               f'"{CERT}"'),
    (NO_CONFIG, "identity not accepted: no connection accepts '1000000-X@other.example' (the "
                "SeGW accepts 1<OUI>-<SerialNumber>@hnb.operator.example)"),
    (["received AUTHENTICATION_FAILED notify error"],
     "the HNB refused the SeGW's credentials (AUTHENTICATION_FAILED)"),
])
def test_each_refusal_says_why(lines: list[str], reason: str) -> None:
    assert explain(lines, segw_rules("hnb.operator.example")) == reason


def test_a_certificate_not_yet_valid_is_not_called_expired() -> None:
    later = (dt.datetime.now() + dt.timedelta(days=3)).strftime("%b %d %H:%M:%S %Y")
    lines = [f"subject certificate invalid (valid from {later} to Dec 03 01:03:06 2099)"]
    got = explain(lines, segw_rules("r.example"))
    assert got == f"HNB certificate not yet valid: valid from {later} to Dec 03 01:03:06 2099"


def test_charon_gives_up_on_these_lines_only() -> None:
    assert all(FAILED.search(x[-1]) for x in (FOREIGN_CA, EXPIRED, MISMATCH, NO_CONFIG))
    assert not any(FAILED.search(line) for line in FOREIGN_CA[:-1])
    assert FAILED.search("generating IKE_AUTH response 1 [ N(AUTH_FAILED) ]")


@pytest.mark.parametrize("identity, problem", [
    (ID, None),
    ("100d0b2-HNB0001@HNB.operator.example", None),  # realms compare without case
    ("bob@hnb.operator.example", "is not of the form 1<OUI>-<SerialNumber>@<realm>"),
    ("1XYZ-HNB@hnb.operator.example", "is not of the form"),
    ("100D0B2-HNB0001@other.example", "is not under the operator's realm hnb.operator.example"),
])
def test_the_identity_policy(identity: str, problem: str | None) -> None:
    got = identity_problem(identity, "hnb.operator.example")
    assert got is None if problem is None else problem in (got or "")


# ---- the SeGW's records of charon's VICI events ---------------------------------------------

def _gw(tmp_path: Path) -> Gateway:
    pki = {k: str(tmp_path / f"{k}.pem") for k in ("ca", "cert", "key")}
    for p in pki.values():
        Path(p).write_bytes(b"-")
    return Gateway("segw", {"fqdn": "segw.example", "pool": "198.18.2.0/24"}, "192.0.2.1",
                   ["203.0.113.0/24"], "203.0.113.53", pki, EventLog("segw"))


def _log(gw: Gateway, sa: str | None, lines: list[str]) -> None:
    for line in lines:
        data: dict[str, Any] = {"group": "CFG", "level": "1", "msg": line}
        if sa is not None:
            data["ikesa-uniqueid"] = sa
        gw.on_vici_event("log", data)


def _kinds(gw: Gateway, kind: str) -> list[Any]:
    return [e for e in gw.events.memory if e.kind == kind]


def test_one_record_per_refused_sa_with_its_own_reason(tmp_path: Path) -> None:
    gw = _gw(tmp_path)
    _log(gw, "7", FOREIGN_CA[:2])
    _log(gw, "8", EXPIRED)            # interleaved: each SA keeps its own lines
    _log(gw, "7", FOREIGN_CA[2:])
    # charon logs on about a refused SA, and reports its end: no second record, no ike.down
    _log(gw, "7", ["generating IKE_AUTH response 1 [ N(AUTH_FAILED) ]"])
    gw.on_vici_event("ike-updown", {"hnb": {"uniqueid": "7", "remote-id": ID,
                                            "remote-host": "198.51.100.100"}})
    _log(gw, "7", ["generating IKE_AUTH response 1 [ N(AUTH_FAILED) ]"])
    got = _kinds(gw, "ike.auth_failed")
    assert [(e.fields["ike_sa"], e.fields["reason"].split(":")[0]) for e in got] == \
        [("8", "HNB certificate expired on Dec 03 01"), ("7", "unknown CA")]
    assert got[1].fields["identity"] == ID and got[1].peer == "198.51.100.100"
    assert "unknown CA" in got[1].summary and ID in got[1].summary
    assert _kinds(gw, "ike.down") == []


def test_lines_not_about_an_sa_are_ignored(tmp_path: Path) -> None:
    gw = _gw(tmp_path)
    _log(gw, None, ["no trusted ECDSA public key found for 'x'"])
    assert _kinds(gw, "ike.auth_failed") == []


def test_an_sa_up_under_an_identity_the_policy_refuses_is_recorded_not_announced(
        tmp_path: Path) -> None:
    gw = _gw(tmp_path)
    sa = {"uniqueid": "9", "remote-id": "bob@hnb.operator.example",
          "remote-host": "198.51.100.100", "remote-vips": ["198.18.2.5"]}
    gw.on_vici_event("ike-updown", {"up": "yes", "hnb": sa})
    gw.on_vici_event("child-updown", {"up": "yes", "hnb": sa})
    gw.on_vici_event("ike-updown", {"hnb": sa})
    refused = _kinds(gw, "ike.auth_failed")
    assert len(refused) == 1 and "identity policy" in refused[0].fields["reason"]
    assert not [e for e in gw.events.memory if e.kind in ("ike.up", "ike.child_up", "ike.down")]


def test_an_accepted_hnb_goes_up_and_down(tmp_path: Path) -> None:
    gw = _gw(tmp_path)
    sa = {"uniqueid": "3", "remote-id": ID, "remote-host": "198.51.100.100",
          "remote-vips": ["198.18.2.1"]}
    gw.on_vici_event("ike-updown", {"up": "yes", "hnb": sa})
    gw.on_vici_event("ike-updown", {"hnb": sa})
    assert [e.kind for e in gw.events.memory] == ["ike.up", "ike.down"]
    assert gw.events.memory[0].fields["inner"] == "198.18.2.1"


def _wait_for(gw: Gateway, kind: str, n: int = 1, timeout: float = 5.0) -> list[Any]:
    deadline = time.monotonic() + timeout
    while len(got := _kinds(gw, kind)) < n and time.monotonic() < deadline:
        time.sleep(0.01)
    return got


def test_a_cause_logged_after_the_give_up_line_still_counts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # charon raises VICI log events from more than one job: they can come out of order
    monkeypatch.setattr("lab.nodes.segw.gateway.STRAGGLERS_S", 0.2)
    gw = _gw(tmp_path)
    _log(gw, "5", [FOREIGN_CA[0], FOREIGN_CA[1], FOREIGN_CA[-1]])  # "no trusted ..." first
    assert _kinds(gw, "ike.auth_failed") == []                    # not yet: no cause seen
    _log(gw, "5", FOREIGN_CA[4:6])                                 # the late cause lines
    gw.on_vici_event("ike-updown", {"hnb": {"uniqueid": "5", "remote-id": ID}})
    got = _wait_for(gw, "ike.auth_failed")
    assert len(got) == 1 and got[0].fields["reason"].startswith("unknown CA"), got
    assert _kinds(gw, "ike.down") == []


def test_a_refusal_without_any_cause_is_recorded_after_the_wait(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("lab.nodes.segw.gateway.STRAGGLERS_S", 0.05)
    gw = _gw(tmp_path)
    _log(gw, "6", MISMATCH)
    got = _wait_for(gw, "ike.auth_failed")
    assert len(got) == 1 and got[0].fields["reason"].startswith("identity mismatch")
    assert got[0].fields["identity"] == OTHER and got[0].peer == "198.51.100.100"
    _log(gw, "6", ["generating IKE_AUTH response 1 [ N(AUTH_FAILED) ]"])
    time.sleep(0.1)
    assert len(_kinds(gw, "ike.auth_failed")) == 1


def test_a_refusal_waits_for_the_issuer_its_reason_names(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("lab.nodes.segw.gateway.STRAGGLERS_S", 0.2)
    gw = _gw(tmp_path)
    issuer_line = FOREIGN_CA[5]
    _log(gw, "4", [x for x in FOREIGN_CA if x != issuer_line])
    _log(gw, "4", [issuer_line])  # "  issuer is ..." after the give-up line
    got = _wait_for(gw, "ike.auth_failed")
    assert len(got) == 1 and FOREIGN in got[0].fields["reason"], got
