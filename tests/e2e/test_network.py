"""The network functions in real containers: DNS, IKEv2 through strongSwan (VICI), the
tunnel to the MNO network, TLS name checks and HNBAP at the HNB-GW."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import yaml

from lab import runtime
from lab.evidence.events import Event, read_run_events
from lab.lab import Lab, running_lab
from scenarios.harness import Ctx, Scenario

from .conftest import TOPOLOGIES

SEGW = "segw-initial.operator.example"
API = "http://203.0.113.20:7557/api/devices"  # the HMS initial's operator API (HTTP)


def ctl(lab: Lab, verb: str, node: str = "hnb1", **kw: str) -> dict:
    code, out = lab.exec(node, "python", "-m", "lab.nodes.control", verb,
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


def _events_of(lab: Lab, node: str, kind: str, timeout: float = 10.0,
               **fields: object) -> list[Event]:
    """`node`'s `kind` events with `fields`, waiting up to `timeout` for the first."""
    deadline = time.time() + timeout
    while True:
        got = [e for e in read_run_events(lab.run_dir) if e.node == node and e.kind == kind
               and all(e.fields.get(k) == v for k, v in fields.items())]
        if got or time.time() > deadline:
            return got
        time.sleep(0.2)


def _hnb(serial: str, addr: str, **settings: str) -> dict:
    return {"role": "hnb", "addresses": {"internet": addr},
            "settings": {"serial": serial, "oui": "00D0B2", "dns": "dns-outer",
                         "segw": SEGW, "hms_url": "http://hms-initial.mno.operator.example:"
                                                  "7547/acs", **settings}}


def _has(text: str, addr: str) -> bool:
    """`addr` occurs in `text` as a whole address (198.18.1.1 is not in 198.18.1.130)."""
    return re.search(rf"(?<![\d.]){re.escape(addr)}(?![\d])", text) is not None


def _identity(serial: str) -> str:
    return f"100D0B2-{serial}@hnb.operator.example"


def test_segw_refuses_bad_certificates_and_readdresses_one_hnb(
        node_image: str, lab_names: list[str], tmp_path: Path) -> None:
    topo = _variant(tmp_path, {
        ("nodes", "hnb2"): _hnb("HNB0002", "198.51.100.101"),
        ("nodes", "hnb3"): _hnb("HNB0003", "198.51.100.102", cert="foreign"),
        ("nodes", "hnb4"): _hnb("HNB0004", "198.51.100.103", cert="expired")})
    lab_names.append("e2e-auth")
    with running_lab(topo, name="e2e-auth") as lab:
        # a certificate from a foreign CA, an expired one: refused, and the SeGW says why
        for node, serial, why in (("hnb3", "HNB0003", "unknown CA"),
                                  ("hnb4", "HNB0004", "expired on")):
            code, out = lab.exec(node, "python", "-m", "lab.nodes.control", "tunnel",
                                 f"segw={SEGW}")
            assert code != 0 and "AUTHENTICATION_FAILED" in out, out
            refused = _events_of(lab, "segw-initial", "ike.auth_failed",
                                 identity=_identity(serial))
            assert refused, f"{node}: no ike.auth_failed at the SeGW"
            reason = refused[-1].fields["reason"]
            assert why in reason, reason
            assert refused[-1].fields["outer"] == str(
                lab.topology.nodes[node].addresses["internet"])
        assert "foreign (untrusted) CA" in _events_of(
            lab, "segw-initial", "ike.auth_failed", identity=_identity("HNB0003"))[-1].summary

        # readdress one HNB: it alone gets a new inner address, again on a second readdress
        first = {n: ctl(lab, "tunnel", segw=SEGW, node=n)["inner"] for n in ("hnb1", "hnb2")}
        assert len(set(first.values())) == 2
        seen = [first["hnb1"]]
        for _ in range(2):
            code, out = lab.exec("segw-initial", "python", "-m", "lab.nodes.segw.ctl",
                                 "--config", f"{runtime.RUN_MOUNT}/config/segw-initial.json",
                                 "readdress", _identity("HNB0001"))
            assert code == 0, out
            promised = out.strip().splitlines()[-1]
            assert promised not in seen and promised.startswith("198.18.1."), out
            ctl(lab, "teardown", node="hnb1")
            again = ctl(lab, "tunnel", segw=SEGW, node="hnb1")["inner"]
            assert again == promised
            seen.append(again)
        # hnb2 was never dropped, and reconnecting gives it its old address back
        sas = lab.exec("segw-initial", "swanctl", "--list-sas")[1]
        assert _has(sas, first["hnb2"]) and _has(sas, seen[-1]), sas
        assert not _has(sas, seen[0]) and not _has(sas, seen[1]), sas
        ctl(lab, "teardown", node="hnb2")
        assert ctl(lab, "tunnel", segw=SEGW, node="hnb2")["inner"] == first["hnb2"]
        # the readdress pools of past addresses are gone once their lease went offline
        pools_out = lab.exec("segw-initial", "swanctl", "--list-pools")[1]
        assert _has(pools_out, seen[2]) and not _has(pools_out, seen[1]), pools_out


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
