"""The procedure flows of 3GPP TS 32.583 V11.0.0 clause 5, one table per clause.

Each row: step id as the spec numbers it, requirement (M/O; `when` makes it conditional),
sender lane -> receiver lane, the message as the figure labels it, the spec's words
(shortened), and the proof: what the nodes record when the step happens (see
lab.flows.model for the notation, docs/events.md for the events). Steps 5.4 are not
numbered in the spec; their numbers here are ours, in the order of figures 5.4-1/5.4-2.

Variants (flows_for picks them from a scenario's options): "-cr" flows are the later
updates the spec describes ("the TR-069 manager needs to issue a connection request"): the
connection request is mandatory, the HNB answers it with an Inform "6 CONNECTION REQUEST",
and the HMS's RPC must come in that session (the HNB's record of it carries the session's
Inform events). "5.1.1-hnbgw" checks the HNB-GW in step 6's SPV, "5.2.1-outside" the
serving HMS looked up in the outer DNS and reached outside the tunnel over TLS, and
"5.5.2-expedited"/"5.5.2-queued" when each kind of alarm is reported.

Wire proofs (`wire=`, checked against the scenario's pcaps when there are any): the
tunnel steps show IKE_SA_INIT + IKE_AUTH between the HNB's and the SeGW's public
addresses; what goes "via the IPsec tunnel" shows ESP between them, and a name looked up
through it is never queried in the clear on the public network (its query is seen on the
MNO network, from the HNB's inner address); "over TLS" shows a ClientHello whose SNI
names the HMS, its ServerHello, and no clear-text TCP to it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from lab.cwmp.rpc import BOOTSTRAP, CONNECTION_REQUEST, VALUE_CHANGE
from lab.flows.model import (
    Absent,
    AnyPrefix,
    Context,
    FieldTest,
    Flow,
    Has,
    M,
    Names,
    Not,
    O,
    OneOf,
    Pred,
    Prefix,
    Step,
    Wire,
    dns_seen,
    esp_seen,
    ev,
    ike_seen,
    msg,
    no_clear_tcp,
    no_dns,
    sides,
    tls_seen,
)

HNB, DNSO, DNSI = "HNB", "DNS outer", "DNS inner"
SEGW_I, SEGW_S, HMS_I, HMS_S = "SeGW initial", "SeGW serving", "HMS initial", "HMS serving"
GW, FS = "HNB-GW", "File server"


def S(sid: str, req: str, frm: str, to: str, message: str, text: str, proof: Pred,
      **kw: Any) -> Step:
    return Step(sid, text, frm, to, message, req, proof, **kw)


@dataclass(frozen=True)
class OnNet(FieldTest):
    """The field is an address on a network of `kind` in the run's topology ("public":
    the broadband side, neither an inner IPsec address nor the MNO intranet)."""
    kind: str

    def test(self, value: Any, ctx: Context, at: float) -> bool:
        topo = ctx.resolver.topology
        try:
            addr = ipaddress.ip_address(str(value).strip("[]"))
        except ValueError:
            return False
        return topo is not None and any(
            net.kind == self.kind and addr in net.subnet for net in topo.networks.values())

    def text(self) -> str:
        return f"on a {self.kind} network"


FAPGW_SERVER1 = "Device.Services.FAPService.1.FAPControl.UMTS.Gateway.FAPGWServer1"


def in_cr(cr: bool) -> dict[str, Any]:
    """Field tests of an RPC that must come in the session a connection request opened:
    the HNB's record of it carries that session's Inform events."""
    return {"events": Has(CONNECTION_REQUEST)} if cr else {}


# ---- building blocks: one fact as each side records it -----------------------------------

def dns_query(dns: str, target: str) -> Pred:
    return msg("DNSQuery", HNB, dns, qname=Names(target))


def dns_answer(dns: str, target: str) -> Pred:
    # the HNB's dns.answer, or the server's own record of the answer it gave
    return sides(msg("DNSResponse", dns, HNB, qname=Names(target), answer=Names(target)),
                 ev("dns.query", dns, peer=HNB, qname=Names(target), answer=Names(target)))


def dns_failed(target: str) -> Pred:
    return (ev("dns.failed", HNB, qname=Names(target))
            | ev("dns.answer", HNB, qname=Names(target), rcode=Not("NOERROR")))


def tunnel_up(segw: str) -> Pred:
    return sides(ev("ike.up", HNB, peer=segw), ev("ike.up", segw, peer=HNB))


# ---- on the wire (lab.flows.model: wire proofs) --------------------------------------------

def tunnel_wire(segw: str) -> tuple[Wire, ...]:
    """The IKE SA the HNB set up with `segw`, on the public network."""
    return (ike_seen(HNB, segw),)


def in_tunnel(segw: str) -> tuple[Wire, ...]:
    """Carried by the tunnel: ESP between the HNB and `segw`, both ways."""
    return (esp_seen(HNB, segw),)


def inner_lookup(segw: str, dns: str, target: str) -> tuple[Wire, ...]:
    """`target`'s name looked up through the tunnel: ESP to `segw`, the query on the MNO
    network from the HNB (its inner address) to `dns`, and never in the clear on the
    public network."""
    return (esp_seen(HNB, segw), dns_seen(HNB, target, dns, net="mno"), no_dns(HNB, target))


def outer_lookup(target: str) -> tuple[Wire, ...]:
    """`target`'s name asked of the outer DNS in the clear, on the public network."""
    return (dns_seen(HNB, target, DNSO),)


def over_tls(hms: str) -> tuple[Wire, ...]:
    """TLS to `hms` (ClientHello with its name as SNI, ServerHello), nothing in clear."""
    return (tls_seen(HNB, hms), no_clear_tcp(HNB, hms))


def tunnel_failed(segw: str) -> Pred:
    # both sides: they land about 1 ms apart, and only the SeGW knows why it refused
    return sides(ev("ike.failed", HNB, peer=segw), ev("ike.auth_failed", segw, peer=HNB))


def tunnel_down(segw: str) -> Pred:
    return sides(ev("ike.down", HNB, peer=segw), ev("ike.down", segw, peer=HNB))


def session_start(hms: str, **where: Any) -> Pred:
    return ev("cwmp.session", HNB, peer=hms, state="start", **where)


def session_open(hms: str, **where: Any) -> Pred:
    """The CWMP session is established. The HNB logs cwmp.session start before it
    resolves the HMS name and connects, so that record cannot be ordered after the DNS
    steps; the connection's first request arriving at the HMS can."""
    return (ev("cwmp.connected", HNB, peer=hms, **where)
            | msg("Inform", HNB, hms, **where))


def session_end(hms: str) -> Pred:
    return sides(ev("cwmp.session", HNB, peer=hms, state="end", ok=True),
                 ev("hms.session.end", hms, peer=HNB))


def conn_request(hms: str) -> Pred:
    # a Digest exchange starts with a 401 (no Authorization yet): not the request that counts
    return msg("ConnectionRequest", hms, HNB, status=Not(OneOf(401, 503)))


def fault(frm: str, to: str, request: str | None = None, purpose: str | None = None,
          **where: Any) -> Pred:
    """A CWMP Fault answering `request` (or the HMS task of `purpose`)."""
    if request:
        where["request"] = request
    if purpose:
        where["purpose"] = purpose
    return msg("Fault", frm, to, **where)


def spv(frm: str, to: str, purpose: str, prefix: str, response: bool = False,
        **where: Any) -> Pred:
    """The SetParameterValues (or its response) of an HMS task of `purpose`, or one that
    sets parameters under `prefix` (an operator task; the HMS's cwmp.tx carries the
    parameter `names`). A record without names (an older run) stands in for it."""
    name = "SetParameterValuesResponse" if response else "SetParameterValues"
    return (msg(name, frm, to, purpose=purpose, **where)
            | msg(name, frm, to, names=AnyPrefix(prefix), **where)
            | msg(name, frm, to, purpose="operator", names=Absent(), **where))


def cr_steps(cr: bool) -> tuple[Step, ...]:
    """The connection request that opens the session (TR-069 3.2.2). Optional when the
    procedure may ride in the registration session; in a "-cr" flow mandatory, followed
    by the Inform "6 CONNECTION REQUEST" of the session it opened."""
    if not cr:
        return (S("CR", O, HMS_S, HNB, "Connection Request", "(a later update) the TR-069 "
                  "manager issues a connection request", conn_request(HMS_S)),)
    return (
        S("CR", M, HMS_S, HNB, "Connection Request", "the TR-069 manager issues a "
          "connection request to the HNB", conn_request(HMS_S)),
        S("CR.1", M, HNB, HMS_S, "Inform 6 CONNECTION REQUEST", "the HNB opens the session "
          "it was asked for (Inform 6 CONNECTION REQUEST, InformResponse)",
          msg("Inform", HNB, HMS_S, events=Has(CONNECTION_REQUEST))
          & msg("InformResponse", HMS_S, HNB, events=Has(CONNECTION_REQUEST)),
          fail=fault(HMS_S, HNB, "Inform")),
    )


SA, PM = "Device.FaultMgmt.SupportedAlarm.", "Device.FAP.PerfMgmt.Config."


# registration (5.2.1) has begun: the HNB moves on to its serving elements
REGISTRATION_BEGINS = (ev("cwmp.url_changed", HNB) | ev("hnb.registration", HNB)
                       | dns_query(DNSO, SEGW_S)
                       | ev("ike.init", HNB, peer=SEGW_S)
                       | msg("SetParameterValues", HMS_S, HNB, purpose="provision")
                       | msg("Download", HMS_S, HNB, purpose="provision"))

NOT_SAME = {"same_hms": False}
SAME_WHY = "HMS (serving) is HMS (initial): after step 7 go to step 10"

# ---- 5.1.1 Discovery via HMS (initial) on the MNO intranet -------------------------------
def _f_5_1_1(hnbgw: bool = False) -> Flow:
    """hnbgw: the HMS initial gives the HNB-GW (step 6 option): FAPGWServer1 is in the
    assignment SPV and the HMS records the HNB-GW it assigned."""
    assign = {"names": Has(FAPGW_SERVER1)} if hnbgw else {}
    recorded = (ev("hms.assigned", HMS_I, peer=HNB, hnbgw=Names(GW)) if hnbgw else None)
    ack = msg("SetParameterValuesResponse", HNB, HMS_I, purpose="assign")
    return Flow("5.1.1-hnbgw" if hnbgw else "5.1.1",
                "Discovery via HMS (initial) on the MNO intranet"
                + (" (HNB-GW from the HMS initial)" if hnbgw else ""),
                "5.1.1 Discovery procedures via HMS (initial) accessible on the MNO Intranet", (
        S("1", M, HNB, HNB, "power on", "HNB establishes LAN connectivity to the Internet at "
          "power-up", ev("hnb.power_on", HNB)),
        S("2.1", M, HNB, DNSO, "DNS query", "HNB asks the outer DNS for the address of SeGW "
          "(initial)'s URL", dns_query(DNSO, SEGW_I), fail=dns_failed(SEGW_I),
          wire=outer_lookup(SEGW_I)),
        S("2.2", M, DNSO, HNB, "DNS response", "outer DNS answers with the address of SeGW "
          "(initial)", dns_answer(DNSO, SEGW_I), fail=dns_failed(SEGW_I)),
        S("2.3", M, HNB, SEGW_I, "IKEv2 (IPsec)", "secure connection established between "
          "the HNB and SeGW (initial)", tunnel_up(SEGW_I), fail=tunnel_failed(SEGW_I),
          wire=tunnel_wire(SEGW_I)),
        S("2.4", M, HNB, DNSI, "DNS query", "HNB asks DNS (inner) through the tunnel for the "
          "address of HMS (initial)'s URL", dns_query(DNSI, HMS_I), fail=dns_failed(HMS_I),
          wire=inner_lookup(SEGW_I, DNSI, HMS_I)),
        S("2.5", M, DNSI, HNB, "DNS response", "DNS (inner) answers with the address of HMS "
          "(initial)", dns_answer(DNSI, HMS_I), fail=dns_failed(HMS_I)),
        S("3", M, HNB, HMS_I, "CWMP session", "CWMP session established between the HNB and "
          "HMS (initial)", session_open(HMS_I), wire=in_tunnel(SEGW_I)),
        S("4", M, HNB, HMS_I, "Inform", "Inform Request with location parameters, HNB "
          "identity etc.", msg("Inform", HNB, HMS_I)),
        S("5", M, HMS_I, HNB, "InformResponse", "Inform Response: HMS (initial) accepts the "
          "HNB location", msg("InformResponse", HMS_I, HNB), fail=fault(HMS_I, HNB, "Inform")),
        S("6", M, HMS_I, HNB, "SetParameterValues",
          "SetParameterValues: serving SeGW, serving HMS and the HNB-GW (FAPGWServer1)"
          if hnbgw else "SetParameterValues: serving SeGW, serving HMS (optionally HNB-GW)",
          msg("SetParameterValues", HMS_I, HNB, purpose="assign", **assign),
          fail=(msg("SetParameterValues", HMS_I, HNB, purpose="assign") if hnbgw else None)),
        S("7", M, HNB, HMS_I, "SetParameterValuesResponse", "HNB acknowledges the update"
          + ("; the HMS initial records the HNB-GW it assigned" if hnbgw else ""),
          ack & recorded if recorded is not None else ack,
          fail=fault(HNB, HMS_I, purpose="assign")),
        S("8", M, HNB, HMS_I, "session release", "HNB releases the CWMP session with HMS "
          "(initial)", session_end(HMS_I), when=NOT_SAME, unless=SAME_WHY),
        S("9", O, HNB, SEGW_I, "IKEv2 delete", "the IPsec tunnel to SeGW (initial) may be "
          "destroyed", tunnel_down(SEGW_I), when=NOT_SAME, unless=SAME_WHY),
        S("10", M, HNB, HMS_S, "(5.2.1)", "next: HNB registration", REGISTRATION_BEGINS),
    ))


F_5_1_1 = _f_5_1_1()

# ---- 5.1.2 Discovery via HMS (initial) on the public Internet -----------------------------
F_5_1_2 = Flow("5.1.2", "Discovery via HMS (initial) on the public Internet",
               "5.1.2 Discovery procedures via HMS (initial) accessible on the public "
               "Internet", (
    S("1", M, HNB, HNB, "power on", "HNB establishes LAN connectivity to the Internet at "
      "power-up", ev("hnb.power_on", HNB)),
    S("2", M, HNB, DNSO, "DNS query/response", "HNB resolves the host name of HMS "
      "(initial) at the outer DNS", dns_query(DNSO, HMS_I) & dns_answer(DNSO, HMS_I),
      fail=dns_failed(HMS_I), wire=outer_lookup(HMS_I)),
    S("3", M, HNB, HMS_I, "CWMP session (TLS)", "TR-069 session with HMS (initial) on the "
      "public Internet over TLS", session_open(HMS_I, url=Prefix("https://")),
      fail=session_start(HMS_I, url=Prefix("http://"))
      | ev("cwmp.session", HNB, peer=HMS_I, state="end", ok=False), wire=over_tls(HMS_I)),
    S("4", M, HNB, HMS_I, "Inform", "Inform Request with location parameters, HNB "
      "identity etc.", msg("Inform", HNB, HMS_I)),
    S("5", M, HMS_I, HNB, "InformResponse", "Inform Response: HMS (initial) accepts the "
      "HNB location", msg("InformResponse", HMS_I, HNB), fail=fault(HMS_I, HNB, "Inform")),
    S("6", M, HMS_I, HNB, "SetParameterValues", "SetParameterValues: serving SeGW, serving "
      "HMS (optionally HNB-GW)", msg("SetParameterValues", HMS_I, HNB, purpose="assign")),
    S("7", M, HNB, HMS_I, "SetParameterValuesResponse", "HNB acknowledges the update",
      msg("SetParameterValuesResponse", HNB, HMS_I, purpose="assign"),
      fail=fault(HNB, HMS_I, purpose="assign")),
    S("8", M, HNB, HMS_I, "session release", "HNB releases the CWMP session with HMS "
      "(initial)", session_end(HMS_I)),
    S("9", M, HNB, HMS_S, "(5.2.1)", "next: HNB registration", REGISTRATION_BEGINS),
))

# ---- 5.2.1 HNB registration ----------------------------------------------------------------
CM_SPV, CM_FILE = {"cm_download": False}, {"cm_download": True}
PROVISION_SPV = msg("SetParameterValues", HMS_S, HNB, purpose="provision")
PROVISION_FILE = msg("Download", HMS_S, HNB, purpose="provision")
# a TransferComplete without fault_code (a run older than the field) stands in for success
TC_OK = OneOf(0, None)


def _f_5_2_1(outside: bool = False) -> Flow:
    """outside: the serving HMS is reached outside the IPsec tunnel (5.2.1 step 2's
    option): the HNB also asks the outer DNS for it, and the session's first Inform
    arrives over TLS from the HNB's public address at the HMS's public address."""
    hms_dns = (
        S("2.1-HMS", M, HNB, DNSO, "DNS query", "(the HMS connection outside the tunnel) "
          "HNB asks the outer DNS for the address of HMS (serving)'s URL",
          dns_query(DNSO, HMS_S), fail=dns_failed(HMS_S), anchor=False),
        S("2.2-HMS", M, DNSO, HNB, "DNS response", "outer DNS answers with the address of "
          "HMS (serving)", dns_answer(DNSO, HMS_S), fail=dns_failed(HMS_S), anchor=False),
    ) if outside else ()
    # the HMS's record of the Inform says how the connection reached it
    direct = ({"url": Prefix("https://"), "tls": True, "remote_addr": OnNet("public"),
               "local_addr": OnNet("public")} if outside else {})
    return Flow("5.2.1-outside" if outside else "5.2.1", "HNB registration"
                + (" (HMS serving outside the tunnel)" if outside else ""),
                "5.2.1 HNB registration procedure", (
        S("1", M, HNB, HNB, "discovered", "HNB has discovered serving SeGW, serving HMS "
          "(optionally HNB-GW) and starts registration",
          ev("hms.assigned", HMS_I, peer=HNB) | ev("cwmp.url_changed", HNB)
          | ev("hnb.registration", HNB), anchor=False),
        S("2.1", M, HNB, DNSO, "DNS query", "HNB asks the outer DNS for the address of SeGW "
          "(serving)'s URL", dns_query(DNSO, SEGW_S), fail=dns_failed(SEGW_S),
          wire=outer_lookup(SEGW_S), when={"same_hms": False, "serving_segw_is_url": True},
          unless="secure connection to HMS (serving) already up, or SeGW given as an "
                 "address"),
        S("2.2", M, DNSO, HNB, "DNS response", "outer DNS answers with the address of SeGW "
          "(serving)", dns_answer(DNSO, SEGW_S), fail=dns_failed(SEGW_S),
          when={"same_hms": False, "serving_segw_is_url": True},
          unless="secure connection to HMS (serving) already up, or SeGW given as an "
                 "address"),
        *hms_dns,
        S("3", M, HNB, SEGW_S, "IKEv2 (IPsec)", "secure connection established between the "
          "HNB and SeGW (serving)", tunnel_up(SEGW_S), fail=tunnel_failed(SEGW_S),
          wire=tunnel_wire(SEGW_S), when=NOT_SAME,
          unless="secure connection to HMS (serving) already up: go to step 4"),
        S("4.1", M, HNB, DNSI, "DNS query", "HNB asks DNS (inner) through the tunnel for "
          "the address of HMS (serving)'s URL", dns_query(DNSI, HMS_S),
          fail=dns_failed(HMS_S), wire=inner_lookup(SEGW_S, DNSI, HMS_S),
          when={"same_hms": False, "hms_serving_in_tunnel": True,
                "hms_serving_is_url": True},
          unless="HMS (serving) already connected, outside the tunnel, or given as an "
                 "address"),
        S("4.2", M, DNSI, HNB, "DNS response", "DNS (inner) answers with the address of HMS "
          "(serving)", dns_answer(DNSI, HMS_S), fail=dns_failed(HMS_S),
          when={"same_hms": False, "hms_serving_in_tunnel": True,
                "hms_serving_is_url": True},
          unless="HMS (serving) already connected, outside the tunnel, or given as an "
                 "address"),
        S("5.1", M, HNB, HMS_S, "Inform", "Inform Request with HNB general information "
          "(location, HNB identity)" + ("; outside the tunnel, over TLS, from the HNB's "
                                        "public address" if outside else ""),
          msg("Inform", HNB, HMS_S, **direct),
          fail=msg("Inform", HNB, HMS_S) if outside else None,
          wire=over_tls(HMS_S) if outside else ()),
        S("5.2", M, HMS_S, HNB, "InformResponse", "Inform Response: HMS (serving) accepts "
          "the HNB", msg("InformResponse", HMS_S, HNB), fail=fault(HMS_S, HNB, "Inform")),
        S("5.3", M, HMS_S, HNB, "SetParameterValues", "HMS (serving) provisions "
          "configuration data (optionally HNB-GW, IPsec usage)", PROVISION_SPV,
          fail=PROVISION_FILE, when=CM_SPV,
          unless="CM by file download: 5.3-bis/5.4-bis instead"),
        S("5.4", M, HNB, HMS_S, "SetParameterValuesResponse", "HNB acknowledges the "
          "provisioning data",
          msg("SetParameterValuesResponse", HNB, HMS_S, purpose="provision"),
          fail=fault(HNB, HMS_S, purpose="provision"), when=CM_SPV,
          unless="CM by file download: 5.3-bis/5.4-bis instead"),
        # a Download expected and SPV provisioning seen: the HMS took the other branch
        S("5.3-bis", M, HMS_S, HNB, "Download", "HMS (serving) triggers a CM file download "
          "(Download RPC)", PROVISION_FILE,
          fail=fault(HNB, HMS_S, purpose="provision") | PROVISION_SPV,
          when=CM_FILE, unless="CM by SetParameterValues: 5.3/5.4"),
        S("5.4-bis", M, HNB, FS, "CM file download", "CM file download (optionally HNB-GW, "
          "IPsec usage), then TransferComplete",
          sides(msg("FileDownload", FS, HNB, delivered=False),
                ev("transfer.download", HNB, state="end", fault_code=0))
          & msg("TransferComplete", HNB, HMS_S, fault_code=TC_OK),
          fail=ev("transfer.download", HNB, state="end", fault_code=Not(0))
          | msg("TransferComplete", HNB, HMS_S, fault_code=Not(TC_OK)),
          when=CM_FILE, unless="CM by SetParameterValues: 5.3/5.4"),
        S("6.1", M, HNB, DNSI, "DNS query", "HNB asks DNS (inner) through the tunnel for "
          "the address of the HNB-GW's URL", dns_query(DNSI, GW), fail=dns_failed(GW),
          wire=inner_lookup(SEGW_S, DNSI, GW),
          when={"hnbgw_is_url": True}, unless="HNB-GW given as an address"),
        S("6.2", M, DNSI, HNB, "DNS response", "DNS (inner) answers with the address of the "
          "HNB-GW", dns_answer(DNSI, GW), fail=dns_failed(GW),
          when={"hnbgw_is_url": True}, unless="HNB-GW given as an address"),
        S("7", M, HNB, GW, "HNB REGISTER REQUEST/ACCEPT", "registration to the HNB-GW "
          "(TS 25.467 5.2.2)", msg("HNBRegisterRequest", HNB, GW)
          & msg("HNBRegisterAccept", GW, HNB), fail=msg("HNBRegisterReject", GW, HNB),
          wire=in_tunnel(SEGW_S)),
    ))


F_5_2_1 = _f_5_2_1()

# ---- 5.2.2 HNB IPsec IP address change ---------------------------------------------------------
F_5_2_2 = Flow("5.2.2", "HNB IPsec IP address change", "5.2.2 HNB IPsec IP address change "
               "procedure", (
    S("0", M, SEGW_S, HNB, "IKEv2 (new inner address)", "(outside the scope) the HNB's "
      "inner IPsec address changes", ev("hnb.inner_address_changed", HNB) & tunnel_up(SEGW_S),
      fail=tunnel_failed(SEGW_S)),
    S("A", M, HNB, HMS_S, "CWMP session", "HNB connects to the TR-069 manager as soon as "
      "possible after the change", session_open(HMS_S)),
    S("B", M, HNB, HMS_S, "Inform", "Inform with the new IPsec address and the HNB identity",
      msg("Inform", HNB, HMS_S) & ev("hms.inner_ip", HMS_S, peer=HNB)),
    S("C", M, HMS_S, HNB, "InformResponse", "TR-069 manager acknowledges the new IPsec "
      "address", msg("InformResponse", HMS_S, HNB), fail=fault(HMS_S, HNB, "Inform")),
), note="Precondition: the HNB uses IPsec and reaches the HMS through the tunnel.")

# ---- 5.3.1 CM by file download ------------------------------------------------------------------
def _f_5_3_1(cr: bool = False) -> Flow:
    return Flow("5.3.1-cr" if cr else "5.3.1", "CM by file download"
                + (" (later update: connection request)" if cr else ""),
                "5.3.1 HNB configuration management by means of file download", (
        *cr_steps(cr),
        S("A", M, HMS_S, HNB, "Download", "Download RPC: start a CM file download"
          + (", in the session the connection request opened" if cr else ""),
          msg("Download", HMS_S, HNB, **in_cr(cr)), fail=fault(HNB, HMS_S, "Download")),
        S("B", M, HNB, FS, "file request", "HNB requests the CM file from the File server "
          "(FTP, HTTP, ... per the URL)",
          ev("transfer.download", HNB, peer=FS, state="start")),
        S("C", M, FS, HNB, "CM file", "the CM file (TS 32.584) is downloaded from the File "
          "server", sides(msg("FileDownload", FS, HNB, delivered=False),
                          ev("transfer.download", HNB, peer=FS, state="end", fault_code=0)),
          fail=ev("transfer.download", HNB, state="end", fault_code=Not(0))),
        S("D", M, HNB, HMS_S, "TransferComplete", "HNB indicates success or failure of the "
          "CM file download", msg("TransferComplete", HNB, HMS_S, fault_code=TC_OK)
          & (ev("hms.task.done", HMS_S, peer=HNB, task_kind="Download")
             | ev("cm.applied", HNB)),
          fail=msg("TransferComplete", HNB, HMS_S, fault_code=Not(TC_OK))
          | ev("hms.task.failed", HMS_S, peer=HNB, task_kind="Download")),
    ))


# ---- 5.3.2 CM by SetParameterValues -------------------------------------------------------------
def _f_5_3_2(cr: bool = False) -> Flow:
    return Flow("5.3.2-cr" if cr else "5.3.2", "CM by SetParameterValues"
                + (" (later update: connection request)" if cr else ""),
                "5.3.2 HNB configuration management using RPC Set Parameter Value method", (
        *cr_steps(cr),
        S("A", M, HMS_S, HNB, "SetParameterValues", "SetParameterValues with the parameter "
          "list" + (", in the session the connection request opened" if cr else ""),
          msg("SetParameterValues", HMS_S, HNB, **in_cr(cr))),
        S("B", M, HNB, HMS_S, "SetParameterValuesResponse", "HNB indicates the status of the "
          "SetParameterValues", msg("SetParameterValuesResponse", HNB, HMS_S),
          fail=fault(HNB, HMS_S, "SetParameterValues")),
    ))


# ---- 5.4 De-provisioning -------------------------------------------------------------------------
def _open(cr: bool) -> tuple[Step, ...]:
    """The session the de-provisioning rides in: opened on the HMS's connection request."""
    return (
        S("CR", M if cr else O, HMS_S, HNB, "Connection Request", "the TR-069 manager asks "
          "the HNB to open a session", conn_request(HMS_S)),
        S("1", M, HNB, HMS_S, "Inform", "HNB opens a session"
          + (" (Inform 6 CONNECTION REQUEST)" if cr else ""),
          msg("Inform", HNB, HMS_S, **in_cr(cr))),
        S("2", M, HMS_S, HNB, "InformResponse", "TR-069 manager accepts the session",
          msg("InformResponse", HMS_S, HNB, **in_cr(cr)), fail=fault(HMS_S, HNB, "Inform")),
    )


def _f_5_4_1(cr: bool = False) -> Flow:
    return Flow("5.4-1-cr" if cr else "5.4-1", "De-provisioning by FactoryReset",
                "5.4 HNB de-provisioning (figure 5.4-1: FactoryReset RPC method)", (
        *_open(cr),
        S("3", M, HMS_S, HNB, "FactoryReset", "the operator de-provisions the HNB: "
          "FactoryReset RPC", msg("FactoryReset", HMS_S, HNB, **in_cr(cr))),
        S("4", M, HNB, HMS_S, "FactoryResetResponse", "HNB accepts; the TR-069 manager "
          "records it de-provisioned", msg("FactoryResetResponse", HNB, HMS_S)
          & ev("hms.deprovisioned", HMS_S, peer=HNB), fail=fault(HNB, HMS_S, "FactoryReset")),
        S("5", M, HMS_S, HNB, "session end", "the session completes successfully",
          session_end(HMS_S)),
        S("6", M, HNB, HNB, "factory reset", "only after the session the HNB initiates the "
          "factory reset", ev("cwmp.factory_reset", HNB)),
        S("7", M, HNB, HMS_S, "Inform 0 BOOTSTRAP", "the reset HNB comes back as from the "
          "factory: Inform 0 BOOTSTRAP", msg("Inform", HNB, HMS_S, events=Has(BOOTSTRAP))),
        S("8", M, HMS_S, HNB, "Fault 8001", "refused: no registration until the operator "
          "allows it", fault(HMS_S, HNB, "Inform")
          & ev("hms.refused", HMS_S, peer=HNB, fault=8001)
          & ev("cwmp.session", HNB, peer=HMS_S, state="end", ok=False),
          fail=msg("InformResponse", HMS_S, HNB)),
    ))


def _f_5_4_2(cr: bool = False) -> Flow:
    return Flow("5.4-2-cr" if cr else "5.4-2", "De-provisioning by SetParameterValues",
                "5.4 HNB de-provisioning (figure 5.4-2: SetParameterValue method)", (
        *_open(cr),
        S("3", M, HMS_S, HNB, "SetParameterValues", "reinitialize all or a set of "
          "parameters (operator policy)",
          msg("SetParameterValues", HMS_S, HNB, purpose="deprovision", **in_cr(cr))),
        S("4", M, HNB, HMS_S, "SetParameterValuesResponse", "HNB acknowledges; the TR-069 "
          "manager records it de-provisioned",
          msg("SetParameterValuesResponse", HNB, HMS_S, purpose="deprovision")
          & ev("hms.deprovisioned", HMS_S, peer=HNB),
          fail=fault(HNB, HMS_S, purpose="deprovision")),
    ))


F_5_4_REFUSED = Flow("5.4-refused", "De-provisioned HNB refused until allowed",
                     "5.4 HNB de-provisioning: subsequent requests shall not lead to "
                     "registration until the operator allows it", (
    S("1", M, HNB, HMS_S, "Inform", "the de-provisioned HNB asks again",
      msg("Inform", HNB, HMS_S)),
    S("2", M, HMS_S, HNB, "Fault 8001", "refused: no registration until the operator "
      "allows it", fault(HMS_S, HNB, "Inform") & ev("hms.refused", HMS_S, peer=HNB)
      & ev("cwmp.session", HNB, peer=HMS_S, state="end", ok=False),
      fail=msg("InformResponse", HMS_S, HNB)),
    S("3", M, HMS_S, HMS_S, "operator allows", "the operator allows the HNB again",
      ev("hms.allowed", HMS_S, peer=HNB)),
    S("4", M, HMS_S, HNB, "InformResponse", "the next Inform is accepted: registration "
      "resumes", msg("InformResponse", HMS_S, HNB), fail=fault(HMS_S, HNB, "Inform")),
))


# ---- 5.5 Alarm reporting -------------------------------------------------------------------------
def _spv_procedure(fid: str, title: str, clause: str, ids: tuple[str, str], what: str,
                   purpose: str, prefix: str, cr: bool) -> Flow:
    """5.5.1 and 5.6.1 share one figure: SetParameterValues of the procedure's parameters,
    its response (an error code ends the procedure with failure)."""
    return Flow(fid + ("-cr" if cr else ""), title + (" (connection request)" if cr else ""),
                clause, (
        *(cr_steps(cr) if cr else ()),
        S(ids[0], M, HMS_S, HNB, "SetParameterValues", f"SetParameterValues: {what}",
          spv(HMS_S, HNB, purpose, prefix, **in_cr(cr))),
        S(ids[1], M, HNB, HMS_S, "SetParameterValuesResponse", "HNB confirms (an error code "
          "ends the procedure with failure)", spv(HNB, HMS_S, purpose, prefix, response=True),
          fail=fault(HNB, HMS_S, "SetParameterValues")),
    ))


def _f_5_5_1(cr: bool = False) -> Flow:
    return _spv_procedure("5.5.1", "Alarm reporting mechanism configuration",
                          "5.5.1 Alarm reporting mechanism configuration", ("1", "2"),
                          "which alarms are reported and how (TS 32.582)", "alarm-config",
                          SA, cr)


F_5_5_2 = Flow("5.5.2", "Alarm reporting (by RPC method)", "5.5.2 Alarm reporting procedure "
               "(by RPC method)", (
    S("0", O, HNB, HNB, "alarm raised", "an alarm occurs on the HNB",
      ev("alarm.raise", HNB) | ev("alarm.clear", HNB)),
    S("1", M, HNB, HMS_S, "Inform", "HNB reports the alarm by the Inform method",
      msg("Inform", HNB, HMS_S) & ev("hms.alarm", HMS_S, peer=HNB)),
    S("2", M, HMS_S, HNB, "InformResponse", "TR-069 manager responds with InformResponse",
      msg("InformResponse", HMS_S, HNB), fail=fault(HMS_S, HNB, "Inform")),
))

# The HMS's hms.alarm names the event table the report came from and the events of the
# Inform it rode in. An expedited (active) alarm opens a session of its own ("4 VALUE
# CHANGE"); a queued (passive) one waits for the next session opened for another reason,
# so its Inform carries another event too. Reported earlier, it would be recorded then
# and not again: that record is the failure.
_OWN_SESSION = [VALUE_CHANGE]
F_5_5_2_EXPEDITED = Flow("5.5.2-expedited", "Alarm reporting: an expedited alarm, at once",
                         "5.5.2 Alarm reporting procedure: active notifications reported "
                         "immediately", (
    S("0", M, HNB, HNB, "alarm raised", "an alarm whose ReportingMechanism is 0 Expedited "
      "occurs", ev("alarm.raise", HNB, mechanism="0 Expedited")),
    S("1", M, HNB, HMS_S, "Inform", "HNB reports it at once, in a session it opens for it "
      "(Inform 4 VALUE CHANGE)",
      msg("Inform", HNB, HMS_S, events=Has(VALUE_CHANGE))
      & ev("hms.alarm", HMS_S, peer=HNB, source="ExpeditedEvent",
           notification_type="NewAlarm")),
    S("2", M, HMS_S, HNB, "InformResponse", "TR-069 manager responds with InformResponse",
      msg("InformResponse", HMS_S, HNB), fail=fault(HMS_S, HNB, "Inform")),
))
F_5_5_2_QUEUED = Flow("5.5.2-queued", "Alarm reporting: a queued alarm, in the next session",
                      "5.5.2 Alarm reporting procedure: passive notifications reported in "
                      "the next session", (
    S("0", M, HNB, HNB, "alarm raised", "an alarm whose ReportingMechanism is 1 Queued "
      "occurs", ev("alarm.raise", HNB, mechanism="1 Queued")),
    S("1", M, HNB, HMS_S, "Inform", "HNB reports it in the next session, opened for another "
      "reason (its Inform carries more than 4 VALUE CHANGE)",
      msg("Inform", HNB, HMS_S)
      & ev("hms.alarm", HMS_S, peer=HNB, source="QueuedEvent",
           notification_type="NewAlarm", events=Not(OneOf(_OWN_SESSION, [], None))),
      fail=ev("hms.alarm", HMS_S, peer=HNB, source="QueuedEvent",
              notification_type="NewAlarm")),
    S("2", M, HMS_S, HNB, "InformResponse", "TR-069 manager responds with InformResponse",
      msg("InformResponse", HMS_S, HNB), fail=fault(HMS_S, HNB, "Inform")),
))


# ---- 5.6 PM file upload -------------------------------------------------------------------------
def _f_5_6_1(cr: bool = False) -> Flow:
    return _spv_procedure("5.6.1", "PM file upload period set",
                          "5.6.1 PM file upload period set procedure", ("3", "4"),
                          "the period of PM file uploading", "pm-config", PM, cr)


# The HMS's record of the upload (file.rx) with its TS 32.435 check passed (meas_ok; a
# record without the check, a run older than it, stands in), and the HNB's own record.
F_5_6_2 = Flow("5.6.2", "PM file uploading", "5.6.2 PM file uploading procedure", (
    S("0", O, HNB, HNB, "PM file", "the HNB closes a measurement period (TS 32.435 file)",
      ev("pm.file", HNB)),
    S("1", M, HNB, FS, "PM file upload", "HNB uploads the PM file to the File server, "
      "periodically; the file is TS 32.435 measCollec XML",
      msg("FileUpload", HNB, FS, meas_ok=OneOf(True, None)) & ev("pm.upload", HNB, peer=FS),
      fail=ev("pm.upload_failed", HNB) | msg("FileUpload", HNB, FS, meas_ok=False)),
))

F_5_3_1, F_5_3_2 = _f_5_3_1(), _f_5_3_2()
F_5_4_1, F_5_4_2 = _f_5_4_1(), _f_5_4_2()
F_5_5_1, F_5_6_1 = _f_5_5_1(), _f_5_6_1()

FLOWS: dict[str, Flow] = {f.id: f for f in (
    F_5_1_1, F_5_1_2, F_5_2_1, F_5_2_2, F_5_3_1, F_5_3_2, F_5_4_1, F_5_4_2, F_5_4_REFUSED,
    F_5_5_1, F_5_5_2, F_5_6_1, F_5_6_2,
    # variants (flows_for)
    _f_5_1_1(hnbgw=True), _f_5_2_1(outside=True), _f_5_3_1(cr=True), _f_5_3_2(cr=True),
    _f_5_4_1(cr=True), _f_5_4_2(cr=True), _f_5_5_1(cr=True), _f_5_6_1(cr=True),
    F_5_5_2_EXPEDITED, F_5_5_2_QUEUED)}


def flow(fid: str) -> Flow:
    try:
        return FLOWS[fid]
    except KeyError:
        raise KeyError(f"no flow {fid!r} (flows: {', '.join(FLOWS)})") from None


# How a scenario's clause list maps to flows: "5.4" is one clause with two figures.
DEPROVISION = {"factory-reset": "5.4-1", "spv": "5.4-2"}
TRIGGERS = ("registration", "connection-request")
ALARM_KINDS = ("expedited", "queued")


def flows_for(clauses: list[str], options: dict[str, Any] | None = None) -> list[Flow]:
    """The flows that check `clauses` ("5.1.1", "5.4", ...), chosen by the scenario's
    options:
      method      5.4: "factory-reset" (default) or "spv", each followed by the refusal
                  until the operator allows the HNB again
      trigger     "connection-request": 5.3.1, 5.3.2, 5.4, 5.5.1 and 5.6.1 are later
                  updates, their "-cr" flows (connection request mandatory, the RPC in
                  the session it opened); "registration" (default): as the spec draws them
      hnbgw_from  "initial": 5.1.1-hnbgw (step 6 carries FAPGWServer1)
      hms_serving "outside-tunnel": 5.2.1-outside
      alarms      5.5.2 per kind of alarm the scenario raises: ["expedited", "queued"]
    """
    opts = options or {}
    trigger = str(opts.get("trigger", "registration"))
    if trigger not in TRIGGERS:
        raise KeyError(f"option trigger {trigger!r} not one of {', '.join(TRIGGERS)}")
    cr = "-cr" if trigger == "connection-request" else ""
    out: list[Flow] = []
    for c in clauses:
        if c == "5.4":
            method = str(opts.get("method", "factory-reset"))
            if method not in DEPROVISION:
                raise KeyError(f"clause 5.4: method {method!r} not one of "
                               f"{', '.join(DEPROVISION)}")
            out += [flow(DEPROVISION[method] + cr), FLOWS["5.4-refused"]]
        elif c in ("5.3.1", "5.3.2", "5.5.1", "5.6.1"):
            out.append(flow(c + cr))
        elif c == "5.1.1" and opts.get("hnbgw_from") == "initial":
            out.append(FLOWS["5.1.1-hnbgw"])
        elif c == "5.2.1" and opts.get("hms_serving") == "outside-tunnel":
            out.append(FLOWS["5.2.1-outside"])
        elif c == "5.5.2" and "alarms" in opts:
            kinds = opts["alarms"]
            bad = [k for k in kinds if k not in ALARM_KINDS] if isinstance(kinds, list) \
                else [kinds]
            if bad or not kinds:
                raise KeyError(f"clause 5.5.2: alarms {kinds!r}: expected a list of "
                               f"{', '.join(ALARM_KINDS)}")
            out += [FLOWS[f"5.5.2-{k}"] for k in kinds]
        else:
            out.append(flow(c))
    return out
