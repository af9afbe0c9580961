"""Wire proof: pcaps summarised into facts (lab.evidence.wire) and the steps' wire proofs
judged against them (lab.flows.matcher). The pcaps are built here with scapy's own
encoders (IKEv2, ESP, DNS, TLS layers), packet by packet, from the synthetic runs of
test_flows_fixtures, so the facts and the events tell one story unless a test spoils it:
a clear-text DNS lookup of the HMS name on the public net, a tunnel that carries nothing,
HTTP instead of TLS."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from scapy.contrib.ikev2 import IKEv2
from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.ipsec import ESP
from scapy.layers.l2 import Ether
from scapy.layers.tls.all import (
    TLS,
    ServerName,
    TLS_Ext_Padding,
    TLS_Ext_ServerName,
    TLSClientHello,
    TLSServerHello,
)
from scapy.packet import Packet, Raw
from scapy.utils import wrpcap

from lab import topology
from lab.evidence.report import write_report
from lab.evidence.wire import parse_client_hello, summarise
from lab.flows import FLOWS, Observation, match, suggest_binding
from lab.flows.matcher import CONTRADICTED, FAILED, PASSED, PROVEN, UNCHECKED, FlowResult
from lab.flows.model import (
    MNO,
    Flow,
    Wire,
    dns_seen,
    esp_seen,
    ike_seen,
    no_clear_tcp,
    no_dns,
    tls_seen,
)
from tests.unit.test_flows_fixtures import TOPO, Run, internet, intranet

HNB, DNSO, DNSI = "HNB", "DNS outer", "DNS inner"
SEGW_I, SEGW_S, HMS_I, HMS_S, GW = ("SeGW initial", "SeGW serving", "HMS initial",
                                    "HMS serving", "HNB-GW")


# ---- packets -------------------------------------------------------------------------------

# explicit MACs: without them scapy asks the host's ARP for each destination (slowly)
ETH = {"src": "02:00:00:00:00:01", "dst": "02:00:00:00:00:02"}

def at(p: Packet, t: float) -> Packet:
    p.time = t
    return p


def udp(src: str, dst: str, sport: int, dport: int, payload: bytes | Packet, t: float
        ) -> Packet:
    return at(Ether(**ETH) / IP(src=src, dst=dst) / UDP(sport=sport, dport=dport) / payload, t)


def ike(src: str, dst: str, exch: int, spi: bytes, msg_id: int, *, response: bool,
        natt: bool, t: float) -> Packet:
    """An IKEv2 header as scapy encodes it; on 4500 behind the non-ESP marker."""
    hdr = bytes(IKEv2(init_SPI=spi, resp_SPI=b"\x00" * 8 if exch == 34 and not response
                      else b"\x22" * 8, exch_type=exch, id=msg_id,
                      flags="Response" if response else "Initiator"))
    port = 4500 if natt else 500
    return udp(src, dst, port, port, (b"\x00" * 4 if natt else b"") + hdr, t)


def esp(src: str, dst: str, spi: int, seq: int, t: float) -> Packet:
    return udp(src, dst, 4500, 4500, ESP(spi=spi, seq=seq, data=b"\xab" * 48), t)


def dns(client: str, server: str, qname: str, t: float, answer: str | None = None,
        cport: int = 40001) -> list[Packet]:
    q = udp(client, server, cport, 53, DNS(id=7, rd=1, qd=DNSQR(qname=qname)), t)
    if answer is None:
        return [q]
    a = udp(server, client, 53, cport, DNS(id=7, qr=1, qd=DNSQR(qname=qname),
                                           an=DNSRR(rrname=qname, rdata=answer)), t + 0.001)
    return [q, a]


def tcp(client: str, server: str, sport: int, dport: int, first: bytes, t: float,
        reply: bytes = b"", split: int = 0) -> list[Packet]:
    """A connection: handshake, the client's first bytes (in two segments at `split`), the
    server's reply."""
    c = Ether(**ETH) / IP(src=client, dst=server)
    s = Ether(**ETH) / IP(src=server, dst=client)
    out = [at(c / TCP(sport=sport, dport=dport, flags="S", seq=1000), t),
           at(s / TCP(sport=dport, dport=sport, flags="SA", seq=5000, ack=1001), t + 0.0001),
           at(c / TCP(sport=sport, dport=dport, flags="A", seq=1001, ack=5001), t + 0.0002)]
    parts = [first[:split], first[split:]] if split else [first]
    seq = 1001
    for i, part in enumerate(parts):
        out.append(at(c / TCP(sport=sport, dport=dport, flags="PA", seq=seq, ack=5001)
                      / Raw(part), t + 0.0003 + i * 0.0001))
        seq += len(part)
    if reply:
        out.append(at(s / TCP(sport=dport, dport=sport, flags="PA", seq=5001, ack=seq)
                      / Raw(reply), t + 0.001))
    return out


def client_hello(sni: str | None, padding: int = 0) -> bytes:
    ext: list[Packet] = [TLS_Ext_ServerName(servernames=[ServerName(servername=sni.encode())])
                         ] if sni else []
    if padding:
        ext.append(TLS_Ext_Padding(padding=b"\x00" * padding))
    return bytes(TLS(msg=[TLSClientHello(ext=ext)]))


SERVER_HELLO = bytes(TLS(msg=[TLSServerHello()]))


def write(d: Path, per_net: dict[str, list[Packet]]) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    for net, pkts in per_net.items():
        wrpcap(str(d / f"{net}.pcap"), sorted(pkts, key=lambda p: float(p.time)))
    return d


# ---- the facts -----------------------------------------------------------------------------

HNB_A, SEGW_A, DNS_A, HMS_A = "198.51.100.100", "198.51.100.10", "198.51.100.53", "192.0.2.20"
T = 1_767_225_600.0


def test_summary_facts_of_ike_esp_dns_tls_and_clear_tcp(tmp_path: Path) -> None:
    spi = b"\x3d" * 8
    pkts = [
        ike(HNB_A, SEGW_A, 34, spi, 0, response=False, natt=False, t=T + 0.010),
        ike(SEGW_A, HNB_A, 34, spi, 0, response=True, natt=False, t=T + 0.011),
        ike(HNB_A, SEGW_A, 35, spi, 1, response=False, natt=True, t=T + 0.012),
        ike(SEGW_A, HNB_A, 35, spi, 1, response=True, natt=True, t=T + 0.013),
        udp(HNB_A, SEGW_A, 4500, 4500, b"\xff", T + 0.014),  # NAT-T keepalive
        *[esp(HNB_A, SEGW_A, 0xD3078615, n, T + 0.02 + n * 0.001) for n in range(1, 15)],
        *[esp(SEGW_A, HNB_A, 0x75BD34B7, n, T + 0.02 + n * 0.001) for n in range(1, 4)],
        *dns(HNB_A, DNS_A, "SeGW-initial.operator.example.", T + 0.001, SEGW_A),
        # a ClientHello in two TCP segments, the SNI in the second
        *tcp(HNB_A, HMS_A, 40000, 7548, client_hello("hms-initial.operator.example"),
             T + 0.05, SERVER_HELLO, split=50),
        *tcp(HNB_A, HMS_A, 40002, 7547, b"POST /acs HTTP/1.1\r\nHost: x\r\n\r\n", T + 0.06,
             b"HTTP/1.1 200 OK\r\n\r\n"),
    ]
    write(tmp_path, {"internet": pkts, "stray": [esp(HNB_A, SEGW_A, 1, 1, T)]})
    f = summarise(tmp_path, topology.load(TOPO / "intranet.yaml"))

    cap = f.captures["internet"]
    assert (cap.kind, cap.packets, cap.error) == ("public", len(pkts), "")
    assert f.captures["stray"].kind == "unknown"
    assert any("stray.pcap" in p and "unknown" in p for p in f.problems)
    assert [(m.exchange, m.response, m.initiator, m.responder, m.sport) for m in f.ike] == [
        ("IKE_SA_INIT", False, HNB_A, SEGW_A, 500), ("IKE_SA_INIT", True, HNB_A, SEGW_A, 500),
        ("IKE_AUTH", False, HNB_A, SEGW_A, 4500), ("IKE_AUTH", True, HNB_A, SEGW_A, 4500)]
    assert {m.spi_i for m in f.ike} == {spi.hex()}
    flows = {(e.network, e.src, e.dst): e for e in f.esp}
    up = flows[("internet", HNB_A, SEGW_A)]
    assert (up.count, up.label, up.where) == (14, "ESP-in-UDP",
                                              f"{HNB_A}:4500 -> {SEGW_A}:4500")
    assert up.within(T + 0.021, T + 0.025)[0] == 5
    assert flows[("internet", SEGW_A, HNB_A)].count == 3
    assert f.keepalives == 1  # the keepalive is neither IKE nor ESP
    q, a = f.dns
    assert (q.qname, q.qtype, q.response, q.client, q.server) == (
        "segw-initial.operator.example", "A", False, HNB_A, DNS_A)
    assert (a.response, a.rcode, a.answers, a.client) == (True, "NOERROR", (SEGW_A,), HNB_A)
    tls, clear = sorted(f.tcp, key=lambda s: s.cport)
    assert (tls.kind, tls.sni, tls.server, tls.sport) == ("tls", "hms-initial.operator.example",
                                                          HMS_A, 7548)
    assert tls.server_hello is not None and tls.client_hello == pytest.approx(T + 0.0503)
    assert (clear.kind, clear.head, clear.server_hello) == ("clear", "POST /acs HTTP/1.1", None)


def test_client_hello_parser_is_liberal() -> None:
    hello = client_hello("hms.example")
    assert parse_client_hello(hello) == ("hello", "hms.example")
    assert parse_client_hello(client_hello(None)) == ("hello", None)
    # cut short after the SNI extension: still TLS, SNI known; inside the name: not known
    assert parse_client_hello(client_hello("hms.example", padding=200)[:-100]) == (
        "more", "hms.example")
    assert parse_client_hello(hello[:-2]) == ("more", None)
    assert parse_client_hello(b"GET / HTTP/1.1\r\n")[0] == "no"
    assert parse_client_hello(b"\x16\x03")[0] == "more"


def test_unreadable_torn_and_missing_captures(tmp_path: Path) -> None:
    write(tmp_path, {"internet": [esp(HNB_A, SEGW_A, 1, n, T + n) for n in range(5)]})
    (tmp_path / "mno.pcap").write_bytes(b"this is not a capture at all")
    f = summarise(tmp_path, topology.load(TOPO / "intranet.yaml"))
    assert not f.captures["mno"].opened and "not a pcap" in f.captures["mno"].error
    assert f.captures["mno"].usable(T, T + 1).startswith("pcap mno.pcap unreadable")
    # a torn last record (a pcap still being written): what is whole is read
    data = (tmp_path / "internet.pcap").read_bytes()
    (tmp_path / "internet.pcap").write_bytes(data[:-30])
    f = summarise(tmp_path, topology.load(TOPO / "intranet.yaml"))
    assert f.captures["internet"].opened and sum(e.count for e in f.esp) >= 4
    # the runner's note that cutting a capture failed marks it unreadable
    (tmp_path / "internet.pcap.error").write_text("could not cut: boom\n")
    f = summarise(tmp_path)
    assert "boom" in f.captures["internet"].usable(T, T + 1)
    assert summarise(tmp_path / "nowhere").problems == [f"{tmp_path / 'nowhere'}: no such "
                                                        "directory"]


# ---- captures for the synthetic runs -------------------------------------------------------

def pcaps_for(r: Run, d: Path, *, leak: Iterable[str] = (), no_esp: bool = False,
              http: bool = False, sni: str | None = None, until: float | None = None) -> Path:
    """What the lab's tcpdump would have captured during run `r`, on each network: DNS
    as the DNS servers answered it (on their network, from the client they saw), IKE for
    each tunnel the HNB set up, ESP both ways for everything while a tunnel is up, a TLS
    (or, `http`, clear) connection for each Inform to an HMS on the public network.
    `leak`: names also asked in the clear on the public network when the inner DNS is
    asked; `sni`: another SNI; `until`: the capture stops there (not caught up)."""
    topo = r.topo
    net_of = {str(a): n for node in topo.nodes.values() for n, a in node.addresses.items()}
    public = r.addr("hnb1", "public")
    per: dict[str, list[Packet]] = {n: [] for n in topo.networks}
    tunnel: str | None = None
    spi, seq, port = 0, 0, 41000
    for e in r.events:
        node = topo.nodes[e.node]
        f = e.fields
        if node.role == "dns" and e.kind == "dns.query":
            server = r.addr(e.node)
            per[net_of[server]] += dns(f["client"], server, f["qname"], e.time - 0.002,
                                       f.get("answer"))
            if f["qname"] in leak and f["zone"] == "inner":
                per["internet"] += dns(public, r.addr("dns-outer"), f["qname"],
                                       e.time - 0.002)
        elif e.node == "hnb1" and e.kind == "ike.init":
            spi += 1
            sa = spi.to_bytes(8, "big")
            for i, (exch, natt) in enumerate(((34, False), (35, True))):
                per["internet"] += [
                    ike(public, f["outer"], exch, sa, i, response=False, natt=natt,
                        t=e.time + 0.001 + i * 0.002),
                    ike(f["outer"], public, exch, sa, i, response=True, natt=natt,
                        t=e.time + 0.002 + i * 0.002)]
        elif e.node == "hnb1" and e.kind == "ike.up":
            tunnel = f["outer"]
        elif e.node == "hnb1" and e.kind == "ike.down":
            tunnel = None
        elif node.role == "hms" and e.kind == "cwmp.rx" and f.get("msg") == "Inform":
            hms = topo.address_on_kind(e.node, "public")
            if hms is not None:
                port += 1
                host = sni or next(str(x.fields["url"]).split("/")[2].split(":")[0]
                                   for x in reversed(r.events)
                                   if x.node == "hnb1" and x.kind == "cwmp.tx"
                                   and x.time < e.time)
                first = b"POST /acs HTTP/1.1\r\n\r\n" if http else client_hello(host)
                per["internet"] += tcp(public, str(hms), port, 7548, first, e.time - 0.004,
                                       b"" if http else SERVER_HELLO)
        if tunnel and not no_esp and not e.kind.startswith("ike."):
            seq += 1
            per["internet"] += [esp(public, tunnel, 0x1000, seq, e.time),
                                esp(tunnel, public, 0x2000, seq, e.time + 0.0005)]
    if until is not None:
        per = {n: [p for p in ps if float(p.time) <= until] for n, ps in per.items()}
    return write(d, per)


# The wire proofs /tmp/wire_ts32583.patch gives the flow tables; a table that has them
# already is used as it is.
WIRE: dict[str, dict[str, tuple[Wire, ...]]] = {
    "5.1.1": {"2.1": (dns_seen(HNB, SEGW_I, DNSO),), "2.3": (ike_seen(HNB, SEGW_I),),
              "2.4": (esp_seen(HNB, SEGW_I), dns_seen(HNB, HMS_I, DNSI, net=MNO),
                      no_dns(HNB, HMS_I)),
              "3": (esp_seen(HNB, SEGW_I),)},
    "5.1.2": {"2": (dns_seen(HNB, HMS_I, DNSO),),
              "3": (tls_seen(HNB, HMS_I), no_clear_tcp(HNB, HMS_I))},
    "5.2.1": {"2.1": (dns_seen(HNB, SEGW_S, DNSO),), "3": (ike_seen(HNB, SEGW_S),),
              "4.1": (esp_seen(HNB, SEGW_S), dns_seen(HNB, HMS_S, DNSI, net=MNO),
                      no_dns(HNB, HMS_S)),
              "6.1": (esp_seen(HNB, SEGW_S), dns_seen(HNB, GW, DNSI, net=MNO),
                      no_dns(HNB, GW)),
              "7": (esp_seen(HNB, SEGW_S),)},
}


def wired(fid: str) -> Flow:
    f = FLOWS[fid]
    if any(s.wire for s in f.steps):
        return f
    return replace(f, steps=tuple(replace(s, wire=WIRE[fid].get(s.id, ())) for s in f.steps))


def check(r: Run, fid: str, d: Path | None) -> FlowResult:
    wire = summarise(d, r.topo) if d is not None else None
    return match(wired(fid), suggest_binding(r.topo), Observation(r.events, r.topo), r.topo,
                 start=r.events[0].time, wire=wire)


def by_id(res: FlowResult) -> dict[str, Any]:
    return {v.step.id: v for v in res.steps}


def checks(res: FlowResult) -> dict[str, list[str]]:
    return {v.step.id: [c.status for c in v.wire] for v in res.steps if v.wire}


# ---- verdicts ------------------------------------------------------------------------------

def test_intranet_discovery_and_registration_are_proven_on_the_wire(tmp_path: Path) -> None:
    r = intranet()
    d = pcaps_for(r, tmp_path)
    res = check(r, "5.1.1", d)
    assert res.verdict == "pass"
    assert checks(res) == {"2.1": [PROVEN], "2.3": [PROVEN], "2.4": [PROVEN] * 3,
                           "3": [PROVEN]}
    v = by_id(res)
    ike_text = v["2.3"].wire[0].evidence
    assert ike_text.startswith("pcap internet.pcap: IKE_SA_INIT 198.51.100.100:500 -> "
                               "198.51.100.10:500 at ")
    assert "IKE_AUTH 198.51.100.100:4500 -> 198.51.100.10:4500" in ike_text
    esp_text = v["3"].wire[0].evidence
    assert "ESP-in-UDP packets 198.51.100.100:4500 -> 198.51.100.10:4500 and" in esp_text
    inner = v["2.4"].wire[1].evidence  # seen on the MNO side, from the HNB's inner address
    assert inner.startswith("pcap mno.pcap: DNS query hms-initial.mno.operator.example A "
                            "from 198.18.1.1 (hnb1) to 203.0.113.53 (dns-inner)")
    assert "no DNS query for hms-initial's name" in v["2.4"].wire[2].evidence
    reg = check(r, "5.2.1", d)
    assert reg.verdict == "pass"
    assert all(s == PROVEN for ss in checks(reg).values() for s in ss)
    assert "198.51.100.11" in by_id(reg)["3"].wire[0].evidence  # the serving SeGW's SA


def test_clear_text_dns_for_the_hms_name_on_the_public_net_fails_the_step(
        tmp_path: Path) -> None:
    r = intranet()
    d = pcaps_for(r, tmp_path, leak=("hms-initial.mno.operator.example",))
    res = check(r, "5.1.1", d)
    v = by_id(res)["2.4"]
    assert res.verdict == "fail" and v.status == FAILED
    assert [c.status for c in v.wire] == [PROVEN, PROVEN, CONTRADICTED]
    assert v.reason.startswith("the capture contradicts the events: pcap internet.pcap: "
                               "clear-text DNS query hms-initial.mno.operator.example A "
                               "from 198.51.100.100 (hnb1) to 198.51.100.53 (dns-outer)")
    assert "looked up outside the tunnel" in v.reason
    assert by_id(res)["2.5"].status == PASSED  # the events of the other steps still stand


def test_a_tunnel_that_carries_nothing_fails_the_tunnelled_steps(tmp_path: Path) -> None:
    r = intranet()
    res = check(r, "5.1.1", pcaps_for(r, tmp_path, no_esp=True))
    v = by_id(res)
    assert res.verdict == "fail"
    assert v["2.3"].status == PASSED  # IKE is there
    assert v["2.4"].status == v["3"].status == FAILED
    assert "no ESP between hnb1 and segw-initial" in v["3"].reason


def test_without_a_capture_steps_pass_on_events_with_a_note(tmp_path: Path) -> None:
    r = intranet()
    empty = tmp_path / "empty"
    empty.mkdir()
    res = check(r, "5.1.1", empty)
    assert res.verdict == "pass"
    v = by_id(res)["2.3"]
    assert v.status == PASSED and [c.status for c in v.wire] == [UNCHECKED]
    assert v.reason == f"passed on events only: no capture of a public network in {empty}"
    # an unreadable capture: the same, saying why
    (empty / "internet.pcap").write_bytes(b"\x00" * 64)
    v = by_id(check(r, "5.1.1", empty))["2.3"]
    assert v.status == PASSED and "pcap internet.pcap unreadable" in v.reason
    # no captures given at all: the wire is not looked at (what match did before)
    res = check(r, "5.1.1", None)
    assert res.verdict == "pass" and not any(s.wire for s in res.steps)
    assert by_id(res)["2.3"].reason == ""


def test_a_capture_that_stops_early_leaves_later_steps_unchecked(tmp_path: Path) -> None:
    r = intranet()
    up = next(e.time for e in r.events if e.node == "hnb1" and e.kind == "ike.up")
    res = check(r, "5.1.1", pcaps_for(r, tmp_path, no_esp=True, until=up + 0.001))
    v = by_id(res)
    assert res.verdict == "pass"  # missing packets after its end are not proof of absence
    assert [c.status for c in v["2.3"].wire] == [PROVEN]
    assert [c.status for c in v["3"].wire] == [UNCHECKED]
    assert "the capture had not caught up" in v["3"].reason


def test_internet_discovery_over_tls(tmp_path: Path) -> None:
    r = internet()
    res = check(r, "5.1.2", pcaps_for(r, tmp_path / "ok"))
    assert res.verdict == "pass"
    tls, clear = by_id(res)["3"].wire
    assert (tls.status, clear.status) == (PROVEN, PROVEN)
    assert tls.evidence.startswith("pcap internet.pcap: TLS ClientHello 192.0.2.100:")
    assert "-> 192.0.2.20:7548 SNI hms-initial.operator.example at " in tls.evidence
    assert "ServerHello at" in tls.evidence
    assert "no clear-text TCP from hnb1 to hms-initial" in clear.evidence


def test_http_or_a_wrong_sni_to_the_public_hms_fails_step_3(tmp_path: Path) -> None:
    r = internet()
    v = by_id(check(r, "5.1.2", pcaps_for(r, tmp_path / "http", http=True)))["3"]
    assert v.status == FAILED and [c.status for c in v.wire] == [CONTRADICTED, CONTRADICTED]
    assert "is clear text ('POST /acs HTTP/1.1'), not TLS" in v.reason
    assert "clear-text TCP 192.0.2.100:" in v.reason
    v = by_id(check(r, "5.1.2", pcaps_for(r, tmp_path / "sni", sni="www.example.org")))["3"]
    assert v.status == FAILED
    assert "its SNI 'www.example.org' does not name hms-initial" in v.reason


def test_the_report_shows_the_wire_evidence(tmp_path: Path) -> None:
    r = intranet()
    d = pcaps_for(r, tmp_path / "pcaps", leak=("hms-initial.mno.operator.example",))
    wire = summarise(d, r.topo)
    obs = Observation(r.events, r.topo)
    res = [match(wired(fid), suggest_binding(r.topo), obs, r.topo, start=r.events[0].time,
                 wire=wire) for fid in ("5.1.1", "5.2.1")]
    rep = write_report(tmp_path / "out", "discovery-intranet", res, obs,
                       start=r.events[0].time, wire=wire)
    page = rep.html_path.read_text()
    assert "\u2713 wire: pcap internet.pcap: IKE_SA_INIT 198.51.100.100:500" in page
    assert '<span class="ev wire contradicted">\u2717 wire: pcap internet.pcap: clear-text ' \
           "DNS query hms-initial.mno.operator.example" in page
    assert "<h2>Captures</h2>" in page and "internet.pcap: network internet (public)" in page
    data = json.loads((tmp_path / "out" / "verdicts.json").read_text())
    step = next(s for s in data["flows"][0]["steps"] if s["id"] == "2.4")
    assert [w["status"] for w in step["wire"]] == [PROVEN, PROVEN, CONTRADICTED]
    assert step["status"] == FAILED
