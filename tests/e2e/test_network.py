"""The network functions in real containers: DNS, IKEv2 through strongSwan (VICI), the
tunnel to the MNO network, TLS name checks and HNBAP at the HNB-GW."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from lab import runtime
from lab.evidence.events import read_run_events
from lab.lab import Lab, running_lab
from scenarios.harness import Ctx, Scenario

from .conftest import TOPOLOGIES

SEGW = "segw-initial.operator.example"
API = "http://203.0.113.20:7557/api/devices"  # the HMS initial's operator API (HTTP)


def ctl(lab: Lab, verb: str, **kw: str) -> dict:
    code, out = lab.exec("hnb1", "python", "-m", "lab.nodes.control", verb,
                         *(f"{k}={v}" for k, v in kw.items()))
    assert code == 0, out
    return json.loads(out)


def curl(lab: Lab, url: str) -> tuple[int, str]:
    return lab.exec("hnb1", "curl", "-s", "-m", "3", "-o", "/dev/null", "-w", "%{http_code}",
                    url)


def test_tunnel_reaches_the_mno_network_and_swanctl_agrees(node_image: str,
                                                           lab_names: list[str]) -> None:
    lab_names.append("e2e-net")
    with running_lab(TOPOLOGIES / "intranet.yaml", name="e2e-net") as lab:
        # without the tunnel the MNO network is out of reach
        code, _ = curl(lab, API)
        assert code != 0
        t = ctl(lab, "tunnel", segw=SEGW)
        assert t["outer"] == "198.51.100.10"
        assert t["inner"].startswith("198.18.1.") and t["inner_dns"] == "203.0.113.53"
        # the HMS name through the inner DNS learned over IKEv2, then HTTP through ESP
        resolved = lab.exec("hnb1", "python", "-m", "lab.nodes.control", "resolve",
                            "name=hms-initial.mno.operator.example")[1]
        assert json.loads(resolved) == "203.0.113.20"
        code, out = curl(lab, API)
        assert code == 0 and out == "401", out  # reached: the API wants its token
        # swanctl on the SeGW and the SeGW's events tell the same story
        code, sas = lab.exec("segw-initial", "swanctl", "--list-sas")
        assert code == 0 and "ESTABLISHED" in sas
        identity = "100D0B2-HNB0001@hnb.operator.example"
        assert identity in sas and t["inner"] in sas and "198.51.100.100" in sas
        ups = [e for e in read_run_events(lab.run_dir)
               if e.node == "segw-initial" and e.kind == "ike.up"]
        assert ups and ups[-1].fields["identity"] == identity
        assert ups[-1].fields["inner"] == t["inner"]
        assert ups[-1].fields["outer"] == "198.51.100.100"
        # torn down: unreachable again, and the SeGW holds no SA
        ctl(lab, "teardown")
        code, _ = curl(lab, API)
        assert code != 0
        assert identity not in lab.exec("segw-initial", "swanctl", "--list-sas")[1]


def _variant(tmp_path: Path, edit: dict[tuple[str, ...], object]) -> Path:
    data = yaml.safe_load((TOPOLOGIES / "intranet.yaml").read_text())
    for path, value in edit.items():
        cur = data
        for p in path[:-1]:
            cur = cur[p]
        cur[path[-1]] = value
    f = tmp_path / "intranet.yaml"
    f.write_text(yaml.safe_dump(data))
    return f


def test_hnbgw_rejects_an_unknown_hnb(node_image: str, lab_names: list[str],
                                      tmp_path: Path) -> None:
    topo = _variant(tmp_path, {("nodes", "hnbgw", "settings", "allowed"):
                               ["1*-HNB9999@hnb.operator.example"]})
    lab_names.append("e2e-gw")
    with running_lab(topo, name="e2e-gw") as lab:
        ctx = Ctx(lab.name, lab.run_dir, lab.topology,
                  Scenario("t", "t", "intranet.yaml", [], lambda c: None))
        ctx.control("hnb1", "power-on")
        rej = ctx.wait(lambda e: e.node == "hnbgw" and e.kind == "hnbap.tx"
                       and e.fields.get("msg") == "HNBRegisterReject",
                       "HNB REGISTER REJECT from the HNB-GW", 60)
        assert "unauthorised" in rej.summary.lower() or "unauthorised" in str(rej.fields)
        assert rej.fields.get("transport") == "tcp-fallback"
        status = ctx.control("hnb1", "status")
        assert status["hnbgw"] is None  # not in service


def test_down_removes_the_forwarding_rules(node_image: str, lab_names: list[str]) -> None:
    lab_names.append("e2e-fw")
    with running_lab(TOPOLOGIES / "intranet-same-hms.yaml", name="e2e-fw") as lab:
        rules = runtime._fw_rules(lab.topology, lab.name)
        capture = runtime.node_container(lab.name, "capture")
        listed = capture.exec_run(["iptables", "-S", "DOCKER-USER"]).output.decode()
        assert listed.count(f"hnblab:{lab.name}") == len(rules) == 2
    # after down, a fresh helper container on the host namespace sees none of them
    out = runtime.client().containers.run(
        node_image, ["iptables", "-S", "DOCKER-USER"], network_mode="host",
        cap_add=["NET_ADMIN"], remove=True, labels={runtime.LABEL: "e2e-fw-check"}).decode()
    assert "hnblab:e2e-fw" not in out
