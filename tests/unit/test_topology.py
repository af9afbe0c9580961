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


def test_every_problem_reported_at_once() -> None:
    d = copy.deepcopy(base())
    d["nodes"]["hnbgw"]["role"] = "rnc"
    d["networks"]["internet"]["kind"] = "dsl"
    d["nodes"]["dns-inner"]["addresses"]["mno"] = "not-an-ip"
    ps = problems(d)
    assert len(ps) >= 3
    assert any(p.startswith("networks.internet.kind:") for p in ps)
    assert any(p.startswith("nodes.dns-inner.addresses.mno: not an IPv4 address") for p in ps)


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
