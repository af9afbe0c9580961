"""Topology validation: each problem gives its own error naming the file and the field."""

from __future__ import annotations

import copy
import ipaddress
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab import topology
from lab.topology import TopologyError

TOPOLOGIES = Path(__file__).resolve().parents[2] / "topologies"


def base() -> dict[str, Any]:
    return yaml.safe_load((TOPOLOGIES / "intranet.yaml").read_text())


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(TopologyError) as ei:
        topology.parse(data, source="t.yaml")
    assert str(ei.value).startswith("t.yaml: ")
    return ei.value.problems


@pytest.mark.parametrize("name", sorted(p.name for p in TOPOLOGIES.glob("*.yaml")))
def test_shipped_topologies_are_valid_and_fit_one_screen(name: str) -> None:
    text = (TOPOLOGIES / name).read_text()
    assert len(text.splitlines()) <= 60
    topo = topology.load(TOPOLOGIES / name)
    assert topo.nodes_of("hnb") and topo.nodes_of("dns") and topo.nodes_of("hms")


def test_intranet_model() -> None:
    topo = topology.load(TOPOLOGIES / "intranet.yaml")
    assert topo.resolve("outer", "segw-initial.operator.example") == \
        ipaddress.IPv4Address("198.51.100.10")
    assert topo.resolve("inner", "HMS-Initial.mno.operator.example.") == \
        ipaddress.IPv4Address("203.0.113.20")
    assert topo.resolve("outer", "hms-initial.mno.operator.example") is None
    routes = {(r.node, str(r.destination), str(r.via)) for r in topo.routes()}
    assert ("hms-initial", "198.18.1.0/24", "203.0.113.10") in routes
    assert ("hms-serving", "198.18.2.0/24", "203.0.113.11") in routes
    # the HNB is on the public side only: no route to the pools; SeGWs need none either
    assert not [r for r in routes if r[0] in ("hnb1", "segw-initial", "segw-serving")]
    assert topo.nodes["segw-initial"].needs_tun and topo.nodes["segw-initial"].forwards
    assert not topo.nodes["dns-outer"].needs_tun


def test_unknown_role() -> None:
    d = base()
    d["nodes"]["hnbgw"]["role"] = "rnc"
    assert any(p.startswith("nodes.hnbgw.role: unknown role 'rnc'") for p in problems(d))


def test_unknown_keys_top_node_and_settings() -> None:
    d = base()
    d["colour"] = "blue"
    d["nodes"]["hnb1"]["image"] = "x"
    d["nodes"]["hnb1"]["settings"]["turbo"] = True
    ps = problems(d)
    assert any(p.startswith("colour: unknown key") for p in ps)
    assert any(p.startswith("nodes.hnb1.image: unknown key") for p in ps)
    assert any(p.startswith("nodes.hnb1.settings.turbo: unknown key for role hnb") for p in ps)


def test_address_outside_subnet() -> None:
    d = base()
    d["nodes"]["dns-inner"]["addresses"]["mno"] = "203.0.114.53"
    assert "nodes.dns-inner.addresses.mno: 203.0.114.53 is outside the network's subnet " \
           "203.0.113.0/24" in problems(d)


def test_duplicate_address() -> None:
    d = base()
    d["nodes"]["hnbgw"]["addresses"]["mno"] = "203.0.113.20"
    ps = problems(d)
    assert any(p.startswith("nodes.hnbgw.addresses.mno: duplicate address 203.0.113.20, "
                            "already used by nodes.hms-initial") for p in ps)


def test_reserved_gateway_address() -> None:
    d = base()
    d["nodes"]["hnbgw"]["addresses"]["mno"] = "203.0.113.1"
    assert any("hnbgw.addresses.mno: 203.0.113.1 is reserved" in p for p in problems(d))


def test_reference_to_missing_network() -> None:
    d = base()
    d["nodes"]["hnb1"]["addresses"]["dsl"] = "192.0.2.4"
    assert any(p.startswith("nodes.hnb1.addresses.dsl: no network named 'dsl'")
               for p in problems(d))


def test_reference_to_missing_node() -> None:
    d = base()
    d["nodes"]["segw-initial"]["settings"]["dns"] = "dns-nowhere"
    assert "nodes.segw-initial.settings.dns: no dns node named 'dns-nowhere'" in problems(d)


def test_overlapping_subnets() -> None:
    d = base()
    d["networks"]["mno"]["subnet"] = "198.51.100.128/25"
    assert any(p.startswith("networks.mno.subnet: 198.51.100.128/25 overlaps networks.internet")
               for p in problems(d))


def test_dns_name_pointing_nowhere() -> None:
    d = base()
    d["zones"]["inner"]["ghost.mno.operator.example"] = "ghost"
    d["zones"]["outer"]["hms.operator.example"] = "hms-initial"  # no public address
    ps = problems(d)
    assert "zones.inner.ghost.mno.operator.example: points nowhere: no node named 'ghost'" in ps
    assert ("zones.outer.hms.operator.example: points nowhere: node hms-initial has no address "
            "on a public network") in ps


def test_segw_fqdn_without_outer_record() -> None:
    d = base()
    del d["zones"]["outer"]["segw-serving.operator.example"]
    assert ("nodes.segw-serving.settings.fqdn: segw-serving.operator.example has no record "
            "in zones.outer") in problems(d)


def test_pool_overlapping_a_network() -> None:
    d = base()
    d["nodes"]["segw-serving"]["settings"]["pool"] = "203.0.113.0/25"
    assert any(p.startswith("nodes.segw-serving.settings.pool: 203.0.113.0/25 overlaps")
               for p in problems(d))


@pytest.mark.parametrize("pool, ok", [("10.99.0.0/29", True), ("10.99.0.0/30", False),
                                      ("10.99.0.0/32", False)])
def test_pool_too_small_to_split(pool: str, ok: bool) -> None:
    # the SeGW splits its pool into a shared and a readdress half (lab.nodes.segw.pools)
    d = base()
    d["nodes"]["segw-serving"]["settings"]["pool"] = pool
    msg = (f"nodes.segw-serving.settings.pool: {pool} is too small to split in two halves "
           "(use a /29 or larger)")
    if ok:
        topology.parse(d, source="t.yaml")
    else:
        assert msg in problems(d)


def test_every_problem_reported_at_once() -> None:
    d = copy.deepcopy(base())
    d["nodes"]["hnbgw"]["role"] = "rnc"
    d["networks"]["internet"]["kind"] = "dsl"
    d["nodes"]["dns-inner"]["addresses"]["mno"] = "not-an-ip"
    # Exactly the three problems: nothing about the nodes on `internet`, the records that
    # point at them or at hnbgw, or the names that those records would have answered.
    assert set(problems(d)) == {
        "networks.internet.kind: must be one of public, mno, got 'dsl'",
        "nodes.hnbgw.role: unknown role 'rnc' (roles: dns, segw, hms, hnbgw, hnb)",
        "nodes.dns-inner.addresses.mno: not an IPv4 address: 'not-an-ip'",
    }


@pytest.mark.parametrize(("edit", "only"), [
    # a DNS node with a bad role: the SeGWs' `dns` and the names resolved there say nothing
    (lambda d: d["nodes"]["dns-inner"].update(role="resolver"), "nodes.dns-inner.role: "),
    # a SeGW with a bad role: its zone record and the HNB's SecGWServer1 say nothing
    (lambda d: d["nodes"]["segw-initial"].update(role="gw"), "nodes.segw-initial.role: "),
    # a network with a bad subnet: the addresses on it say nothing
    (lambda d: d["networks"]["mno"].update(subnet="203.0.113.0/33"), "networks.mno.subnet: "),
    # a record pointing nowhere: the SeGW's fqdn and the HNB's SecGWServer1 say nothing
    (lambda d: d["zones"]["outer"].update({"segw-initial.operator.example": "segw-nowhere"}),
     "zones.outer.segw-initial.operator.example: points nowhere"),
])
def test_one_problem_is_reported_once(edit: Any, only: str) -> None:
    d = base()
    edit(d)
    ps = problems(d)
    assert len(ps) == 1 and ps[0].startswith(only), ps


def test_every_shipped_scenario_variant_is_valid() -> None:
    """Scenario overrides (cert variants, zone records, TLS HMS, ...) are all legal."""
    from scenarios import runner
    from scenarios.harness import topology_data

    reg = runner.load_all()
    assert reg
    for name, s in reg.items():
        topology.parse(topology_data(s), source=f"{name}: {s.topology}")


# ---- settings checked by value ----------------------------------------------------------


def test_cert_variant_typo_and_wrong_name_on_an_hnb() -> None:
    d = base()
    d["nodes"]["hnb1"]["settings"]["cert"] = "forein"
    d["nodes"]["hms-initial"]["settings"]["cert"] = "expierd"
    assert set(problems(d)) == {
        "nodes.hnb1.settings.cert: 'forein' is not one of good, foreign, expired",
        "nodes.hms-initial.settings.cert: 'expierd' is not one of good, foreign, expired, "
        "wrong-name"}
    d = base()
    d["nodes"]["hnb1"]["settings"]["cert"] = "wrong-name"
    assert problems(d) == ["nodes.hnb1.settings.cert: 'wrong-name' is not one of good, "
                           "foreign, expired (wrong-name is for servers)"]


@pytest.mark.parametrize(("key", "value", "what"), [
    ("oui", "00D0B", "is not 6 hex digits"),
    ("oui", "00D0BZ", "is not 6 hex digits"),
    ("serial", "HNB 0001", "is not letters, digits"),
    ("realm", "hnb..example", "is not a DNS name"),
])
def test_hnb_identity_parts(key: str, value: str, what: str) -> None:
    d = base()
    d["nodes"]["hnb1"]["settings"][key] = value
    ps = problems(d)
    assert len(ps) == 1 and ps[0].startswith(f"nodes.hnb1.settings.{key}: {value!r} {what}"), ps


def test_hnb_identity_override_plmn_lac_cell_location() -> None:
    d = base()
    st = d["nodes"]["hnb1"]["settings"]
    st.update(identity_override="HNB0001@x", plmn="0010", lac=70000, cell_id=-1,
              location={"lat": 91, "lon": 2.0, "alt": 3})
    assert set(problems(d)) == {
        "nodes.hnb1.settings.identity_override: 'HNB0001@x' is not of the form "
        "1<OUI>-<SerialNumber>@<realm>",
        "nodes.hnb1.settings.plmn: '0010' is not 5 or 6 digits (MCC + MNC)",
        "nodes.hnb1.settings.lac: 70000 is out of range 0..65535",
        "nodes.hnb1.settings.cell_id: -1 is out of range 0..268435455",
        "nodes.hnb1.settings.location.lat: expected degrees in -90..90, got 91",
        "nodes.hnb1.settings.location.alt: unknown key (allowed: lat, lon)",
    }


def test_ike_identity_and_segw_realm_are_checked() -> None:
    d = base()
    d["nodes"]["hnb1"]["settings"]["ike_identity"] = "someone@else"
    d["nodes"]["segw-initial"]["settings"]["realm"] = "not a realm"
    assert set(problems(d)) == {
        "nodes.hnb1.settings.ike_identity: 'someone@else' is not of the form "
        "1<OUI>-<SerialNumber>@<realm>",
        "nodes.segw-initial.settings.realm: 'not a realm' is not a DNS name or IPv4 address",
    }
    d["nodes"]["hnb1"]["settings"]["ike_identity"] = "100D0B2-OTHER@hnb.operator.example"
    d["nodes"]["segw-initial"]["settings"]["realm"] = "hnb.operator.example"
    topology.parse(d, source="t.yaml")  # the right forms are accepted


def test_a_bool_is_not_a_number() -> None:
    d = base()
    d["nodes"]["hnbgw"]["settings"]["rnc_id"] = True
    assert problems(d) == ["nodes.hnbgw.settings.rnc_id: wrong type bool (expected int)"]


def test_hnbgw_values() -> None:
    d = base()
    d["nodes"]["hnbgw"]["settings"].update(rnc_id=70000, port=0, listen="any", allowed=[""])
    assert set(problems(d)) == {
        "nodes.hnbgw.settings.rnc_id: 70000 is out of range 0..65535",
        "nodes.hnbgw.settings.port: 0 is out of range 1..65535",
        "nodes.hnbgw.settings.listen: not an IPv4 address: 'any'",
        'nodes.hnbgw.settings.allowed: expected non-empty strings (HNB identity patterns, '
        'PLMNs) or "*"',
    }


def test_hms_role_and_cm_mode_values() -> None:
    d = base()
    d["nodes"]["hms-initial"]["settings"]["role"] = "inital"
    d["nodes"]["hms-serving"]["settings"]["cm_mode"] = "ftp"
    assert set(problems(d)) == {
        "nodes.hms-initial.settings.role: 'inital' not one of initial, serving, both",
        "nodes.hms-serving.settings.cm_mode: 'ftp' not one of spv, download",
    }


def test_hms_initial_without_policy() -> None:
    d = base()
    del d["nodes"]["hms-initial"]["settings"]["policy"]
    assert problems(d) == ["nodes.hms-initial.settings.policy: role 'initial' needs at least "
                           "one rule"]


def test_node_and_network_names() -> None:
    d = base()
    d["nodes"]["hnb 1"] = d["nodes"].pop("hnb1")
    assert problems(d) == ["nodes.hnb 1: bad name 'hnb 1': use letters, digits and '-' (it "
                           "becomes a container, network and file name)"]


def test_zone_record_name_must_be_a_dns_name() -> None:
    d = base()
    d["zones"]["inner"]["hms initial"] = "hms-initial"
    assert problems(d) == ["zones.inner.hms initial: 'hms initial' is not a DNS name"]


# ---- names used in settings resolve in the zone they are looked up in -------------------


def test_policy_names_resolve() -> None:
    d = base()
    rule = d["nodes"]["hms-initial"]["settings"]["policy"][0]
    rule["serving_segw"] = "segw-srving.operator.example"
    rule["hnbgw"] = "hnbgw.operator.example"
    assert set(problems(d)) == {
        "nodes.hms-initial.settings.policy[0].serving_segw: segw-srving.operator.example has "
        "no record in zones.outer (the HNB resolves it at the outer DNS)",
        # with the serving SeGW unknown, either zone would do, but neither has it
        "nodes.hms-initial.settings.policy[0].hnbgw: hnbgw.operator.example has no record in "
        "zones.outer or zones.inner (its SeGW is not a node of this topology)",
    }


def test_serving_hms_url_resolves_in_the_zone_of_the_serving_segw() -> None:
    d = base()
    rule = d["nodes"]["hms-initial"]["settings"]["policy"][0]
    # an outer name over plain HTTP: looked up at the inner DNS, through the tunnel
    d["zones"]["outer"]["hms-serving.operator.example"] = "198.51.100.21"
    rule["serving_hms_url"] = "http://hms-serving.operator.example:7547/acs"
    assert problems(d) == [
        "nodes.hms-initial.settings.policy[0].serving_hms_url: hms-serving.operator.example "
        "has no record in zones.inner (the HNB resolves it at dns-inner, the DNS segw-serving "
        "hands out)"]
    # over TLS the HNB reaches the HMS outside the tunnel: the outer name is right
    rule["serving_hms_url"] = "https://hms-serving.operator.example:7548/acs"
    topology.parse(d, source="t.yaml")
    # and then an inner name is wrong
    rule["serving_hms_url"] = "https://hms-serving.mno.operator.example:7548/acs"
    assert problems(d) == [
        "nodes.hms-initial.settings.policy[0].serving_hms_url: hms-serving.mno.operator.example "
        "has no record in zones.outer (over TLS the HNB resolves it at the outer DNS)"]


def test_provisioning_hnbgw_resolves() -> None:
    d = base()
    d["nodes"]["hms-serving"]["settings"]["provisioning"]["hnbgw"] = "gw.mno.operator.example"
    assert problems(d) == [
        "nodes.hms-serving.settings.provisioning.hnbgw: gw.mno.operator.example has no record "
        "in zones.inner (the HNB resolves it at the DNS its SeGW hands out)"]


def test_hnb_hms_url_host_resolves_in_the_right_zone() -> None:
    d = base()
    st = d["nodes"]["hnb1"]["settings"]
    st["hms_url"] = "http://hms-initial.operator.example:7547/acs"  # inner DNS has no such name
    assert problems(d) == [
        "nodes.hnb1.settings.hms_url: hms-initial.operator.example has no record in "
        "zones.inner (the HNB resolves it at dns-inner, the DNS segw-initial hands out)"]
    # without a SeGW the HNB asks its own (outer) DNS
    del st["segw"]
    st["hms_url"] = "http://hms-initial.mno.operator.example:7547/acs"
    assert problems(d) == [
        "nodes.hnb1.settings.hms_url: hms-initial.mno.operator.example has no record in "
        "zones.outer (the HNB resolves it at dns-outer, outside any tunnel)"]
    st["hms_url"] = "http://203.0.113.20:7547/acs"  # an address needs no record
    topology.parse(d, source="t.yaml")


@pytest.mark.parametrize(("url", "what"), [
    ("ftp://hms-initial.mno.operator.example/", "expected http(s)://HOST[:PORT]/PATH"),
    ("http://hms-initial.mno.operator.example:99999/acs", "is not a URL"),
    ("http://hms_initial!/acs", "'hms_initial!' is not a DNS name or IPv4 address"),
])
def test_hnb_hms_url_form(url: str, what: str) -> None:
    d = base()
    d["nodes"]["hnb1"]["settings"]["hms_url"] = url
    ps = problems(d)
    assert len(ps) == 1 and ps[0].startswith("nodes.hnb1.settings.hms_url: ") and what in ps[0]


def test_hnb_without_a_dns_cannot_resolve_its_segw() -> None:
    d = base()
    del d["nodes"]["hnb1"]["settings"]["dns"]
    assert problems(d) == ["nodes.hnb1.settings.segw: segw-initial.operator.example cannot be "
                           "resolved (the HNB has no settings.dns to ask)"]


def test_hnb_segw_resolves_at_its_own_dns() -> None:
    d = base()
    d["nodes"]["hnb1"]["settings"]["dns"] = "dns-inner"
    assert problems(d) == ["nodes.hnb1.settings.segw: segw-initial.operator.example has no "
                           "record in zones.inner (the HNB resolves it at dns-inner)"]


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("name: x\nnetworks: {a: [1, 2}\n")
    with pytest.raises(TopologyError) as ei:
        topology.load(f)
    assert str(ei.value).startswith(f"{f}: line ")
    assert "not valid YAML" in str(ei.value)


def test_missing_file() -> None:
    with pytest.raises(TopologyError, match="cannot read"):
        topology.load("/nonexistent/topo.yaml")
