"""Peer strings -> topology node names (lab.evidence.peers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab import topology
from lab.evidence.events import Event
from lab.evidence.peers import PeerResolver, device_id_of
from lab.topology import hnb_identity, ike_identity

TOPO = Path(__file__).resolve().parents[2] / "topologies" / "intranet.yaml"
IDENT = "100D0B2-HNB0001@hnb.operator.example"


@pytest.fixture(scope="module")
def topo() -> topology.Topology:
    return topology.load(TOPO)


def ev(t: float, node: str, kind: str, peer: str | None = None, **fields: object) -> Event:
    return Event(t, node, kind, peer, kind, dict(fields))


def segw_and_hnbs(name: str, hnbs: dict[str, dict[str, object]]) -> topology.Topology:
    """A public and an MNO network, one SeGW, and HNBs (name -> settings) on the public one
    at 198.51.100.100 onwards."""
    nodes: dict[str, object] = {
        "segw": {"role": "segw", "addresses": {"net": "198.51.100.10", "mno": "203.0.113.10"},
                 "settings": {"pool": "198.18.1.0/24"}}}
    for i, (hnb, settings) in enumerate(hnbs.items()):
        nodes[hnb] = {"role": "hnb", "addresses": {"net": f"198.51.100.{100 + i}"},
                      "settings": settings}
    return topology.parse({
        "name": name, "networks": {"net": {"subnet": "198.51.100.0/24", "kind": "public"},
                                   "mno": {"subnet": "203.0.113.0/24", "kind": "mno"}},
        "nodes": nodes})


@pytest.mark.parametrize("peer,node", [
    ("hms-initial", "hms-initial"),                                   # node name
    ("HMS-Initial", "hms-initial"),                                   # any case
    ("198.51.100.53", "dns-outer"),                                   # topology address
    ("203.0.113.30:29169", "hnbgw"),                                  # ip:port
    ("hnbgw:29169", "hnbgw"),                                         # name:port
    ("http://hms-initial.mno.operator.example:7547/acs", "hms-initial"),  # URL, inner zone
    ("segw-serving.operator.example", "segw-serving"),                # FQDN, outer zone
    ("SEGW-SERVING.operator.example.", "segw-serving"),               # case, trailing dot
    ("http://203.0.113.21:8080/cm/x.xml", "hms-serving"),             # URL with an IP
    (IDENT, "hnb1"),                                                  # HNB identity
    ("00D0B2-HNB0001", "hnb1"),                                       # HMS device id
    (f"CN={IDENT}", "hnb1"),                                          # identity in a DN
])
def test_static_peers(topo: topology.Topology, peer: str, node: str) -> None:
    assert PeerResolver(topo).node(peer) == node


@pytest.mark.parametrize("peer", [None, "", "?", "10.99.99.99", "nobody.example",
                                  "http://[", "1ABCDEF-OTHER@x.example", "::1"])
def test_unknown_peers_resolve_to_none(topo: topology.Topology, peer: str | None) -> None:
    assert PeerResolver(topo).node(peer) is None


def test_inner_address_learned_from_the_hnb_tunnel(topo: topology.Topology) -> None:
    events = [ev(10.0, "hnb1", "ike.up", "segw-initial.operator.example", inner="198.18.1.7",
                 identity=IDENT)]
    res = PeerResolver(topo, events)
    assert res.node("198.18.1.7", 11.0) == "hnb1"
    assert res.node("198.18.1.7:51000", 11.0) == "hnb1"
    assert PeerResolver(topo).node("198.18.1.7") is None


def test_inner_address_learned_from_the_segw_by_identity(topo: topology.Topology) -> None:
    events = [ev(10.0, "segw-serving", "ike.up", IDENT, identity=IDENT, inner="198.18.2.9",
                 dir="in", msg="IKE_AUTH")]
    assert PeerResolver(topo, events).node("198.18.2.9", 12.0) == "hnb1"


def test_lease_moves_with_time() -> None:
    two = segw_and_hnbs("two", {"hnb1": {"serial": "A1"}, "hnb2": {"serial": "B2"}})
    events = [ev(10.0, "hnb1", "ike.up", "segw", inner="198.18.1.5"),
              ev(50.0, "hnb2", "ike.up", "segw", inner="198.18.1.5")]
    res = PeerResolver(two, events)
    assert res.node("198.18.1.5", 20.0) == "hnb1"
    assert res.node("198.18.1.5", 60.0) == "hnb2"
    assert res.node("198.18.1.5", 5.0) == "hnb1"   # before any lease: the first holder
    assert res.node("198.18.1.5") == "hnb2"        # no time: the latest holder
    assert res.node("100D0B2-B2@hnb.operator.example") == "hnb2"


def test_hms_inner_ip_event_teaches_a_lease(topo: topology.Topology) -> None:
    events = [ev(10.0, "hms-serving", "hms.inner_ip", None, device="00D0B2-HNB0001",
                 old=None, new="198.18.2.200")]
    assert PeerResolver(topo, events).node("198.18.2.200", 11.0) == "hnb1"


def test_other_end_falls_back_to_fields(topo: topology.Topology) -> None:
    res = PeerResolver(topo)
    e = ev(1.0, "hms-serving", "hms.connection_request", None, device="00D0B2-HNB0001")
    assert res.other_end(e) == "hnb1"
    e = ev(1.0, "hnb1", "cwmp.url_changed", None, url="http://hms-serving.mno.operator.example/")
    assert res.other_end(e) == "hms-serving"
    assert res.other_end(ev(1.0, "segw-initial", "ike.auth_failed", None, reason="x")) is None


def test_identity_helpers() -> None:
    assert device_id_of(IDENT) == "00D0B2-HNB0001"
    assert device_id_of("1abcdef-S1@r.example") == "ABCDEF-S1"
    assert device_id_of("0123456789@imsi.example") is None
    assert hnb_identity({"oui": "00D0B2", "serial": "X9", "realm": "r.example"}, "n") == \
        "100D0B2-X9@r.example"
    assert hnb_identity({"identity_override": "1000000-Y@z"}, "n") == "1000000-Y@z"
    assert ike_identity({"serial": "X9"}, "n") == "100D0B2-X9@hnb.operator.example"
    assert ike_identity({"serial": "X9", "ike_identity": "100D0B2-Z@r.example"}, "n") == \
        "100D0B2-Z@r.example"


def test_the_identity_an_hnb_claims_in_ike_names_it_too() -> None:
    claimed = "100D0B2-HNB0666@hnb.operator.example"   # scenarios: hnb-identity-mismatch
    three = segw_and_hnbs("three", {
        "hnb1": {"serial": "A1"},
        "hnb2": {"serial": "B2", "ike_identity": claimed},
        # claims hnb1's identity: hnb1 stays its owner
        "hnb3": {"serial": "C3", "ike_identity": "100D0B2-A1@hnb.operator.example"}})
    res = PeerResolver(three)
    assert res.node(claimed) == "hnb2"
    assert res.node(claimed.upper()) == "hnb2"
    assert res.node("100D0B2-B2@hnb.operator.example") == "hnb2"   # its certificate's still
    assert res.node("100D0B2-A1@hnb.operator.example") == "hnb1"
    assert res.node("100D0B2-C3@hnb.operator.example") == "hnb3"
    # the SeGW refusing an SA for its identity names the HNB by the identity it claimed
    refusal = ev(1.0, "segw", "ike.auth_failed", claimed, identity=claimed, reason="x")
    assert res.other_end(refusal) == "hnb2"
