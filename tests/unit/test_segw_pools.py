"""The SeGW's inner addresses (5.2.2): a shared half every HNB leases from, and readdress
leases one HNB at a time from the other half, kept in a state file the operator's control
process and the node process share."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.evidence.events import EventLog
from lab.nodes.segw.gateway import Gateway
from lab.nodes.segw.pools import Leases, PoolError, conn_name, pool_name

A = "100D0B2-HNB0001@hnb.operator.example"
B = "100D0B2-HNB0002@hnb.operator.example"


def test_the_pool_splits_in_a_shared_and_a_readdress_half() -> None:
    leases = Leases("198.18.2.0/24")
    assert (str(leases.shared), str(leases.spare)) == ("198.18.2.0/25", "198.18.2.128/25")


@pytest.mark.parametrize("pool, says", [("198.18.2.0/30", "too small"),
                                        ("198.18.2.1/24", "not an IPv4 subnet"),
                                        ("nonsense", "not an IPv4 subnet")])
def test_a_pool_it_cannot_use_is_named(pool: str, says: str) -> None:
    with pytest.raises(PoolError, match=says) as err:
        Leases(pool)
    assert pool in str(err.value)


def test_each_readdress_gives_a_new_address_and_other_hnbs_keep_theirs() -> None:
    leases = Leases("198.18.2.0/24")
    first = leases.reassign(A, in_use=["198.18.2.1", "198.18.2.2"])
    assert first == "198.18.2.129"
    # a second readdress of the same HNB, now on its readdress address: another one
    second = leases.reassign(A, in_use=[first, "198.18.2.2"])
    assert second not in (first, "198.18.2.1", "198.18.2.2")
    assert leases.assigned == {A: second}


def test_an_address_another_hnb_holds_is_never_given() -> None:
    leases = Leases("198.18.2.0/24")
    leases.assigned, leases.last = {A: "198.18.2.129"}, None  # A offline, its lease kept
    assert leases.reassign(B, in_use=[]) == "198.18.2.130"
    assert leases.assigned == {A: "198.18.2.129", B: "198.18.2.130"}


def test_addresses_in_use_are_skipped_and_the_rotation_wraps() -> None:
    leases = Leases("198.18.2.0/29")  # readdress half 198.18.2.4/30: hosts .5 and .6
    assert leases.reassign(A, in_use=["198.18.2.5"]) == "198.18.2.6"
    assert leases.reassign(A, in_use=["198.18.2.6"]) == "198.18.2.5"  # wrapped round


def test_when_no_address_is_left_it_says_so() -> None:
    leases = Leases("198.18.2.0/29")
    leases.reassign(A, in_use=[])
    with pytest.raises(PoolError, match=r"no free address left in 198\.18\.2\.4/30"):
        leases.reassign(B, in_use=["198.18.2.5", "198.18.2.6"])
    assert B not in leases.assigned


def test_the_state_is_shared_through_the_file(tmp_path: Path) -> None:
    state = tmp_path / "segw-state" / "leases.json"
    ctl = Leases("198.18.2.0/24", state)          # what `segw.ctl readdress` builds
    with ctl.locked():
        addr = ctl.reassign(A, in_use=[])
    node = Leases("198.18.2.0/24", state)         # the node process, later
    assert node.assigned == {A: addr} and node.last == addr
    assert node.pools() == {pool_name(A, addr): addr}
    assert node.reassign(A, in_use=[addr]) != addr


@pytest.mark.parametrize("content", ["{not json", "[]", '{"assigned": ["x"]}'])
def test_a_garbled_state_file_counts_as_empty(tmp_path: Path, content: str) -> None:
    state = tmp_path / "leases.json"
    state.write_text(content)
    leases = Leases("198.18.2.0/24", state)
    assert leases.assigned == {} and leases.last is None


def test_leases_outside_the_readdress_half_are_dropped(tmp_path: Path) -> None:
    # the pool setting changed between runs: an old lease must not be loaded into charon
    state = tmp_path / "leases.json"
    state.write_text(json.dumps({"assigned": {A: "198.18.2.200", B: "10.0.0.1"},
                                 "last": "10.0.0.1"}))
    leases = Leases("198.18.2.0/24", state)
    assert leases.assigned == {A: "198.18.2.200"} and leases.last is None


def test_connection_and_pool_names_are_unique_per_identity_and_address() -> None:
    # identities that differ only in punctuation get different connections
    a, b = "100D0B2-A.B@r.example", "100D0B2-A-B@r.example"
    assert conn_name(a) != conn_name(b)
    assert conn_name(a).startswith("hnb-100D0B2-A-B-r-example-")
    assert pool_name(a, "198.18.2.129") != pool_name(a, "198.18.2.130")


def _gw(tmp_path: Path, **settings: str) -> Gateway:
    pki = {k: str(tmp_path / f"{k}.pem") for k in ("ca", "cert", "key")}
    for p in pki.values():
        Path(p).write_bytes(b"-")
    return Gateway("segw", {"fqdn": "segw.example", "pool": "198.18.2.0/24", **settings},
                   "192.0.2.1", ["203.0.113.0/24"], "203.0.113.53", pki, EventLog("segw"),
                   state_file=tmp_path / "leases.json")


def test_the_shared_connection_accepts_the_realm_and_a_per_hnb_one_its_hnb(
        tmp_path: Path) -> None:
    gw = _gw(tmp_path, realm="femto.example")
    shared = gw.conn_config()["hnb"]
    assert shared["remote"]["id"] == "*@femto.example" and shared["pools"] == ["pool-hnb"]
    one = gw.conn_config(conn_name(A), A, ["p1"])[conn_name(A)]
    assert one["remote"]["id"] == A and one["pools"] == ["p1"]
    # the same tunnel otherwise: traffic selectors, proposals, credentials
    assert one["children"] == shared["children"] and one["local"] == shared["local"]
    assert _gw(tmp_path).conn_config()["hnb"]["remote"]["id"] == "*@hnb.operator.example"


def test_readdress_refuses_what_is_not_an_hnb_identity_of_the_realm(tmp_path: Path) -> None:
    gw = _gw(tmp_path)
    with pytest.raises(PoolError, match="not of the form 1<OUI>-<SerialNumber>@<realm>"):
        gw.readdress("bob@hnb.operator.example")
    with pytest.raises(PoolError, match="not under the operator's realm"):
        gw.readdress("100D0B2-HNB0001@elsewhere.example")
