"""The lab engine against a real Docker engine: topology -> running lab -> nothing left."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from scapy.all import DNS, rdpcap

from lab import cli, runtime
from lab.lab import bring_up, running_lab

from .conftest import TOPOLOGIES


def dig(lab: str, node: str, server: str, name: str) -> tuple[int, str]:
    return runtime.exec_in(lab, node, ["dig", "+tries=1", "+time=1", f"@{server}", name])


def test_intranet_comes_up_and_dns_answers_from_the_hnb(node_image: str,
                                                         lab_names: list[str]) -> None:
    lab_names.append("e2e-intranet")
    with running_lab(TOPOLOGIES / "intranet.yaml", name="e2e-intranet") as lab:
        rows = runtime.status(lab.name)
        assert {r.node for r in rows} == set(lab.topology.nodes)
        assert all(r.state == "ready" for r in rows), rows
        hnb = next(r for r in rows if r.node == "hnb1")
        assert hnb.addresses == "internet=198.51.100.100"

        code, out = dig(lab.name, "hnb1", "198.51.100.53", "segw-initial.operator.example")
        assert code == 0 and "status: NOERROR" in out and "198.51.100.10" in out, out
        assert "flags: qr aa" in out  # authoritative
        code, out = dig(lab.name, "hnb1", "198.51.100.53", "nowhere.operator.example")
        assert "status: NXDOMAIN" in out, out
        # The inner DNS answers on the MNO side, but not from the HNB's public side.
        code, out = dig(lab.name, "hms-initial", "203.0.113.53",
                        "hms-serving.mno.operator.example")
        assert "203.0.113.21" in out, out
        code, out = dig(lab.name, "hnb1", "203.0.113.53", "hms-serving.mno.operator.example")
        assert code != 0 and "no servers could be reached" in out, out
        run_dir = lab.run_dir
    # After down: the pcap of the public network holds the HNB's query and the answer.
    packets = [p for p in rdpcap(str(run_dir / "pcap" / "internet.pcap")) if p.haslayer(DNS)]
    names = {(q.qname.decode(), p[DNS].qr) for p in packets for q in p[DNS].qd}
    assert ("segw-initial.operator.example.", 0) in names
    assert ("segw-initial.operator.example.", 1) in names
    events = (run_dir / "events" / "dns-outer.jsonl").read_text()
    assert '"qname":"nowhere.operator.example"' in events and "NXDOMAIN" in events
    assert (run_dir / "logs" / "hnb1.log").exists()


def test_two_labs_side_by_side_and_down_removes_only_one(node_image: str,
                                                         lab_names: list[str]) -> None:
    lab_names += ["e2e-a", "e2e-b"]
    with running_lab(TOPOLOGIES / "intranet.yaml", name="e2e-a") as a:
        with running_lab(TOPOLOGIES / "internet.yaml", name="e2e-b") as b:
            assert {"e2e-a", "e2e-b"} <= set(runtime.running_labs())
            _, out = dig(b.name, "hnb1", "192.0.2.53", "hms-initial.operator.example")
            assert "192.0.2.20" in out, out
        assert runtime.leftovers("e2e-b") == []
        assert all(r.state == "ready" for r in runtime.status(a.name))


def test_same_subnets_twice_is_refused_clearly(node_image: str, lab_names: list[str]) -> None:
    lab_names += ["e2e-c", "e2e-d"]
    with running_lab(TOPOLOGIES / "intranet.yaml", name="e2e-c"):
        overlap = r"networks\.\w+\.subnet .* overlaps Docker network e2e-c-\w+ .*lab e2e-c"
        with pytest.raises(runtime.RuntimeError_, match=overlap), \
                running_lab(TOPOLOGIES / "intranet.yaml", name="e2e-d"):
            pass
        assert runtime.leftovers("e2e-d") == []


def test_failed_up_removes_what_it_made(node_image: str, lab_names: list[str],
                                        tmp_path: Path) -> None:
    data = yaml.safe_load((TOPOLOGIES / "intranet.yaml").read_text())
    del data["nodes"]["hnbgw"]["settings"]["rnc_id"]  # the HNB-GW refuses to start
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    lab_names.append("e2e-bad")
    with pytest.raises(runtime.RuntimeError_, match=r"node hnbgw exited during start-up") as ei, \
            running_lab(bad, name="e2e-bad"):
        pass
    assert "rnc_id" in str(ei.value)  # the node's own last words are shown
    assert runtime.leftovers("e2e-bad") == []


def _remove_by_hand(lab: str, *, networks: bool) -> None:
    """What an older or interrupted `down` leaves: containers force-removed (the capture
    is killed, so its exit trap never removes its forwarding rules), maybe the networks."""
    dc = runtime.client()
    for c in dc.containers.list(all=True, filters={"label": f"{runtime.LABEL}={lab}"}):
        c.remove(force=True)
    if networks:
        for n in dc.networks.list(filters={"label": f"{runtime.LABEL}={lab}"}):
            n.remove()


def test_down_all_finds_every_leftover(node_image: str, lab_names: list[str]) -> None:
    """down --all by this test's prefix: a lab of which only its forwarding rules are
    left (found by their comment) goes, and a lab outside the prefix, like one a developer
    has up, is untouched."""
    lab_names += ["e2e-keep", "e2e-left-a"]
    keep = bring_up(TOPOLOGIES / "internet.yaml", name="e2e-keep", progress=lambda s: None)
    left = bring_up(TOPOLOGIES / "intranet-same-hms.yaml", name="e2e-left-a",
                    progress=lambda s: None)
    assert len(runtime.fw_rules(left.name)) == len(left.topology.networks) == 2
    _remove_by_hand(left.name, networks=True)
    assert runtime.leftovers(left.name) == []
    assert len(runtime.fw_rules(left.name)) == 2  # leaked: no container or network to find

    removed = runtime.down_all(prefix="e2e-left-")
    assert sorted(removed) == sorted(f"DOCKER-USER rule of e2e-left-a on "
                                     f"{runtime.bridge_name(left.name, n)}"
                                     for n in left.topology.networks)
    assert runtime.fw_rules("e2e-left-", prefix=True) == []
    # the other lab: every node ready, its rules in place
    assert all(r.state == "ready" for r in runtime.status(keep.name))
    assert len(runtime.fw_rules(keep.name)) == 2

    # and the whole of a lab by prefix: containers, networks, rules
    removed = runtime.down_all(prefix="e2e-keep")
    assert "e2e-keep-hnb1" in removed and "e2e-keep-mno" in removed
    assert runtime.leftovers(keep.name) == [] and runtime.fw_rules(keep.name) == []


def test_down_by_name_when_only_networks_are_left(node_image: str,
                                                  lab_names: list[str]) -> None:
    lab_names.append("e2e-netonly")
    lab = bring_up(TOPOLOGIES / "intranet.yaml", name="e2e-netonly", progress=lambda s: None)
    _remove_by_hand(lab.name, networks=False)
    assert lab.name not in runtime.running_labs()
    assert sorted(runtime.leftovers(lab.name)) == ["e2e-netonly-internet", "e2e-netonly-mno"]
    assert cli.main(["down", "--name", lab.name]) == 0
    assert runtime.leftovers(lab.name) == []
    assert runtime.fw_rules(lab.name) == []  # the killed capture's rules went too
