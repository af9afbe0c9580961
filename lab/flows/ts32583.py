"""The procedure flows of 3GPP TS 32.583 V11.0.0 clause 5, one table per clause.

Each row: step id as the spec numbers it, requirement (M/O; `when` makes it conditional),
sender lane -> receiver lane, the message as the figure labels it, the spec's words
(shortened), and the proof: what the nodes record when the step happens (see
lab.flows.model for the notation, docs/events.md for the events). Steps 5.4 are not
numbered in the spec; their numbers here are ours, in the order of figures 5.4-1/5.4-2.
"""

from __future__ import annotations

from typing import Any

from lab.flows.model import (
    Absent,
    AnyPrefix,
    Flow,
    M,
    Names,
    Not,
    O,
    OneOf,
    Pred,
    Prefix,
    Step,
    ev,
    msg,
    sides,
)

HNB, DNSO, DNSI = "HNB", "DNS outer", "DNS inner"
SEGW_I, SEGW_S, HMS_I, HMS_S = "SeGW initial", "SeGW serving", "HMS initial", "HMS serving"
GW, FS = "HNB-GW", "File server"


def S(sid: str, req: str, frm: str, to: str, message: str, text: str, proof: Pred,
      **kw: Any) -> Step:
    return Step(sid, text, frm, to, message, req, proof, **kw)


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


def tunnel_failed(segw: str) -> Pred:
    return ev("ike.failed", HNB, peer=segw) | ev("ike.auth_failed", segw)


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


def fault(frm: str, to: str, request: str | None = None, purpose: str | None = None) -> Pred:
    """A CWMP Fault answering `request` (or the HMS task of `purpose`)."""
    where: dict[str, Any] = {}
    if request:
        where["request"] = request
    if purpose:
        where["purpose"] = purpose
    return msg("Fault", frm, to, **where)


def spv(frm: str, to: str, purpose: str, prefix: str, response: bool = False) -> Pred:
    """The SetParameterValues (or its response) of an HMS task of `purpose`, or one that
    sets parameters under `prefix` (an operator task; the HMS's cwmp.tx carries the
    parameter `names`). A record without names (an older run) stands in for it."""
    name = "SetParameterValuesResponse" if response else "SetParameterValues"
    return (msg(name, frm, to, purpose=purpose) | msg(name, frm, to, names=AnyPrefix(prefix))
            | msg(name, frm, to, purpose="operator", names=Absent()))


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
F_5_1_1 = Flow("5.1.1", "Discovery via HMS (initial) on the MNO intranet",
               "5.1.1 Discovery procedures via HMS (initial) accessible on the MNO Intranet", (
    S("1", M, HNB, HNB, "power on", "HNB establishes LAN connectivity to the Internet at "
      "power-up", ev("hnb.power_on", HNB)),
    S("2.1", M, HNB, DNSO, "DNS query", "HNB asks the outer DNS for the address of SeGW "
      "(initial)'s URL", dns_query(DNSO, SEGW_I), fail=dns_failed(SEGW_I)),
    S("2.2", M, DNSO, HNB, "DNS response", "outer DNS answers with the address of SeGW "
      "(initial)", dns_answer(DNSO, SEGW_I), fail=dns_failed(SEGW_I)),
    S("2.3", M, HNB, SEGW_I, "IKEv2 (IPsec)", "secure connection established between the "
      "HNB and SeGW (initial)", tunnel_up(SEGW_I), fail=tunnel_failed(SEGW_I)),
    S("2.4", M, HNB, DNSI, "DNS query", "HNB asks DNS (inner) through the tunnel for the "
      "address of HMS (initial)'s URL", dns_query(DNSI, HMS_I), fail=dns_failed(HMS_I)),
    S("2.5", M, DNSI, HNB, "DNS response", "DNS (inner) answers with the address of HMS "
      "(initial)", dns_answer(DNSI, HMS_I), fail=dns_failed(HMS_I)),
    S("3", M, HNB, HMS_I, "CWMP session", "CWMP session established between the HNB and "
      "HMS (initial)", session_open(HMS_I)),
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
      "(initial)", session_end(HMS_I), when=NOT_SAME, unless=SAME_WHY),
    S("9", O, HNB, SEGW_I, "IKEv2 delete", "the IPsec tunnel to SeGW (initial) may be "
      "destroyed", tunnel_down(SEGW_I), when=NOT_SAME, unless=SAME_WHY),
    S("10", M, HNB, HMS_S, "(5.2.1)", "next: HNB registration", REGISTRATION_BEGINS),
))

# ---- 5.1.2 Discovery via HMS (initial) on the public Internet -----------------------------
F_5_1_2 = Flow("5.1.2", "Discovery via HMS (initial) on the public Internet",
               "5.1.2 Discovery procedures via HMS (initial) accessible on the public "
               "Internet", (
    S("1", M, HNB, HNB, "power on", "HNB establishes LAN connectivity to the Internet at "
      "power-up", ev("hnb.power_on", HNB)),
    S("2", M, HNB, DNSO, "DNS query/response", "HNB resolves the host name of HMS "
      "(initial) at the outer DNS", dns_query(DNSO, HMS_I) & dns_answer(DNSO, HMS_I),
      fail=dns_failed(HMS_I)),
    S("3", M, HNB, HMS_I, "CWMP session (TLS)", "TR-069 session with HMS (initial) on the "
      "public Internet over TLS", session_open(HMS_I, url=Prefix("https://")),
      fail=session_start(HMS_I, url=Prefix("http://"))
      | ev("cwmp.session", HNB, peer=HMS_I, state="end", ok=False)),
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
F_5_2_1 = Flow("5.2.1", "HNB registration", "5.2.1 HNB registration procedure", (
    S("1", M, HNB, HNB, "discovered", "HNB has discovered serving SeGW, serving HMS "
      "(optionally HNB-GW) and starts registration",
      ev("hms.assigned", HMS_I, peer=HNB) | ev("cwmp.url_changed", HNB)
      | ev("hnb.registration", HNB), anchor=False),
    S("2.1", M, HNB, DNSO, "DNS query", "HNB asks the outer DNS for the address of SeGW "
      "(serving)'s URL", dns_query(DNSO, SEGW_S), fail=dns_failed(SEGW_S),
      when={"same_hms": False, "serving_segw_is_url": True},
      unless="secure connection to HMS (serving) already up, or SeGW given as an address"),
    S("2.2", M, DNSO, HNB, "DNS response", "outer DNS answers with the address of SeGW "
      "(serving)", dns_answer(DNSO, SEGW_S), fail=dns_failed(SEGW_S),
      when={"same_hms": False, "serving_segw_is_url": True},
      unless="secure connection to HMS (serving) already up, or SeGW given as an address"),
    S("3", M, HNB, SEGW_S, "IKEv2 (IPsec)", "secure connection established between the "
      "HNB and SeGW (serving)", tunnel_up(SEGW_S), fail=tunnel_failed(SEGW_S),
      when=NOT_SAME, unless="secure connection to HMS (serving) already up: go to step 4"),
    S("4.1", M, HNB, DNSI, "DNS query", "HNB asks DNS (inner) through the tunnel for the "
      "address of HMS (serving)'s URL", dns_query(DNSI, HMS_S), fail=dns_failed(HMS_S),
      when={"same_hms": False, "hms_serving_in_tunnel": True, "hms_serving_is_url": True},
      unless="HMS (serving) already connected, outside the tunnel, or given as an address"),
    S("4.2", M, DNSI, HNB, "DNS response", "DNS (inner) answers with the address of HMS "
      "(serving)", dns_answer(DNSI, HMS_S), fail=dns_failed(HMS_S),
      when={"same_hms": False, "hms_serving_in_tunnel": True, "hms_serving_is_url": True},
      unless="HMS (serving) already connected, outside the tunnel, or given as an address"),
    S("5.1", M, HNB, HMS_S, "Inform", "Inform Request with HNB general information "
      "(location, HNB identity)", msg("Inform", HNB, HMS_S)),
    S("5.2", M, HMS_S, HNB, "InformResponse", "Inform Response: HMS (serving) accepts the "
      "HNB", msg("InformResponse", HMS_S, HNB), fail=fault(HMS_S, HNB, "Inform")),
    S("5.3", M, HMS_S, HNB, "SetParameterValues", "HMS (serving) provisions configuration "
      "data (optionally HNB-GW, IPsec usage)",
      msg("SetParameterValues", HMS_S, HNB, purpose="provision"),
      when=CM_SPV, unless="CM by file download: 5.3-bis/5.4-bis instead"),
    S("5.4", M, HNB, HMS_S, "SetParameterValuesResponse", "HNB acknowledges the "
      "provisioning data", msg("SetParameterValuesResponse", HNB, HMS_S, purpose="provision"),
      fail=fault(HNB, HMS_S, purpose="provision"), when=CM_SPV,
      unless="CM by file download: 5.3-bis/5.4-bis instead"),
    S("5.3-bis", M, HMS_S, HNB, "Download", "HMS (serving) triggers a CM file download "
      "(Download RPC)", msg("Download", HMS_S, HNB, purpose="provision"),
      fail=fault(HNB, HMS_S, purpose="provision"),
      when=CM_FILE, unless="CM by SetParameterValues: 5.3/5.4"),
    S("5.4-bis", M, HNB, FS, "CM file download", "CM file download (optionally HNB-GW, "
      "IPsec usage), then TransferComplete",
      sides(msg("FileDownload", FS, HNB, delivered=False),
            ev("transfer.download", HNB, state="end", fault_code=0))
      & msg("TransferComplete", HNB, HMS_S),
      fail=ev("transfer.download", HNB, state="end", fault_code=Not(0)),
      when=CM_FILE, unless="CM by SetParameterValues: 5.3/5.4"),
    S("6.1", M, HNB, DNSI, "DNS query", "HNB asks DNS (inner) through the tunnel for the "
      "address of the HNB-GW's URL", dns_query(DNSI, GW), fail=dns_failed(GW),
      when={"hnbgw_is_url": True}, unless="HNB-GW given as an address"),
    S("6.2", M, DNSI, HNB, "DNS response", "DNS (inner) answers with the address of the "
      "HNB-GW", dns_answer(DNSI, GW), fail=dns_failed(GW),
      when={"hnbgw_is_url": True}, unless="HNB-GW given as an address"),
    S("7", M, HNB, GW, "HNB REGISTER REQUEST/ACCEPT", "registration to the HNB-GW "
      "(TS 25.467 5.2.2)", msg("HNBRegisterRequest", HNB, GW) & msg("HNBRegisterAccept", GW, HNB),
      fail=msg("HNBRegisterReject", GW, HNB)),
))

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
F_5_3_1 = Flow("5.3.1", "CM by file download", "5.3.1 HNB configuration management by "
               "means of file download", (
    S("CR", O, HMS_S, HNB, "Connection Request", "(a later update) the TR-069 manager "
      "issues a connection request", conn_request(HMS_S)),
    S("A", M, HMS_S, HNB, "Download", "Download RPC: start a CM file download",
      msg("Download", HMS_S, HNB), fail=fault(HNB, HMS_S, "Download")),
    S("B", M, HNB, FS, "file request", "HNB requests the CM file from the File server "
      "(FTP, HTTP, ... per the URL)", ev("transfer.download", HNB, peer=FS, state="start")),
    S("C", M, FS, HNB, "CM file", "the CM file (TS 32.584) is downloaded from the File "
      "server", sides(msg("FileDownload", FS, HNB, delivered=False),
                      ev("transfer.download", HNB, peer=FS, state="end", fault_code=0)),
      fail=ev("transfer.download", HNB, state="end", fault_code=Not(0))),
    S("D", M, HNB, HMS_S, "TransferComplete", "HNB indicates success or failure of the "
      "CM file download", msg("TransferComplete", HNB, HMS_S)
      & (ev("hms.task.done", HMS_S, peer=HNB, task_kind="Download") | ev("cm.applied", HNB)),
      fail=ev("hms.task.failed", HMS_S, peer=HNB, task_kind="Download")),
))

# ---- 5.3.2 CM by SetParameterValues -------------------------------------------------------------
F_5_3_2 = Flow("5.3.2", "CM by SetParameterValues", "5.3.2 HNB configuration management "
               "using RPC Set Parameter Value method", (
    S("CR", O, HMS_S, HNB, "Connection Request", "(a later update) the TR-069 manager "
      "issues a connection request", conn_request(HMS_S)),
    S("A", M, HMS_S, HNB, "SetParameterValues", "SetParameterValues with the parameter "
      "list", msg("SetParameterValues", HMS_S, HNB)),
    S("B", M, HNB, HMS_S, "SetParameterValuesResponse", "HNB indicates the status of the "
      "SetParameterValues", msg("SetParameterValuesResponse", HNB, HMS_S),
      fail=fault(HNB, HMS_S, "SetParameterValues")),
))

# ---- 5.4 De-provisioning -------------------------------------------------------------------------
_OPEN = (
    S("CR", O, HMS_S, HNB, "Connection Request", "the TR-069 manager asks the HNB to open "
      "a session", conn_request(HMS_S)),
    S("1", M, HNB, HMS_S, "Inform", "HNB opens a session", msg("Inform", HNB, HMS_S)),
    S("2", M, HMS_S, HNB, "InformResponse", "TR-069 manager accepts the session",
      msg("InformResponse", HMS_S, HNB), fail=fault(HMS_S, HNB, "Inform")),
)
F_5_4_1 = Flow("5.4-1", "De-provisioning by FactoryReset", "5.4 HNB de-provisioning "
               "(figure 5.4-1: FactoryReset RPC method)", (
    *_OPEN,
    S("3", M, HMS_S, HNB, "FactoryReset", "the operator de-provisions the HNB: "
      "FactoryReset RPC", msg("FactoryReset", HMS_S, HNB)),
    S("4", M, HNB, HMS_S, "FactoryResetResponse", "HNB accepts; the TR-069 manager records "
      "it de-provisioned", msg("FactoryResetResponse", HNB, HMS_S)
      & ev("hms.deprovisioned", HMS_S, peer=HNB), fail=fault(HNB, HMS_S, "FactoryReset")),
    S("5", M, HMS_S, HNB, "session end", "the session completes successfully",
      session_end(HMS_S)),
    S("6", M, HNB, HNB, "factory reset", "only after the session the HNB initiates the "
      "factory reset", ev("cwmp.factory_reset", HNB)),
))
F_5_4_2 = Flow("5.4-2", "De-provisioning by SetParameterValues", "5.4 HNB de-provisioning "
               "(figure 5.4-2: SetParameterValue method)", (
    *_OPEN,
    S("3", M, HMS_S, HNB, "SetParameterValues", "reinitialize all or a set of parameters "
      "(operator policy)", msg("SetParameterValues", HMS_S, HNB, purpose="deprovision")),
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
F_5_5_1 = Flow("5.5.1", "Alarm reporting mechanism configuration", "5.5.1 Alarm reporting "
               "mechanism configuration", (
    S("1", M, HMS_S, HNB, "SetParameterValues", "SetParameterValues: which alarms are "
      "reported and how (TS 32.582)", spv(HMS_S, HNB, "alarm-config", SA)),
    S("2", M, HNB, HMS_S, "SetParameterValuesResponse", "HNB confirms (an error code ends "
      "the procedure with failure)", spv(HNB, HMS_S, "alarm-config", SA, response=True),
      fail=fault(HNB, HMS_S, "SetParameterValues")),
))
F_5_5_2 = Flow("5.5.2", "Alarm reporting (by RPC method)", "5.5.2 Alarm reporting procedure "
               "(by RPC method)", (
    S("0", O, HNB, HNB, "alarm raised", "an alarm occurs on the HNB",
      ev("alarm.raise", HNB) | ev("alarm.clear", HNB)),
    S("1", M, HNB, HMS_S, "Inform", "HNB reports the alarm by the Inform method",
      msg("Inform", HNB, HMS_S) & ev("hms.alarm", HMS_S, peer=HNB)),
    S("2", M, HMS_S, HNB, "InformResponse", "TR-069 manager responds with InformResponse",
      msg("InformResponse", HMS_S, HNB), fail=fault(HMS_S, HNB, "Inform")),
))

# ---- 5.6 PM file upload -------------------------------------------------------------------------
F_5_6_1 = Flow("5.6.1", "PM file upload period set", "5.6.1 PM file upload period set "
               "procedure", (
    S("3", M, HMS_S, HNB, "SetParameterValues", "SetParameterValues: the period of PM "
      "file uploading", spv(HMS_S, HNB, "pm-config", PM)),
    S("4", M, HNB, HMS_S, "SetParameterValuesResponse", "HNB confirms (an error code ends "
      "the procedure with failure)", spv(HNB, HMS_S, "pm-config", PM, response=True),
      fail=fault(HNB, HMS_S, "SetParameterValues")),
))
F_5_6_2 = Flow("5.6.2", "PM file uploading", "5.6.2 PM file uploading procedure", (
    S("0", O, HNB, HNB, "PM file", "the HNB closes a measurement period (TS 32.435 file)",
      ev("pm.file", HNB)),
    S("1", M, HNB, FS, "PM file upload", "HNB uploads the PM file to the File server, "
      "periodically", sides(msg("FileUpload", HNB, FS), ev("pm.upload", HNB, peer=FS)),
      fail=ev("pm.upload_failed", HNB)),
))

FLOWS: dict[str, Flow] = {f.id: f for f in (
    F_5_1_1, F_5_1_2, F_5_2_1, F_5_2_2, F_5_3_1, F_5_3_2, F_5_4_1, F_5_4_2, F_5_4_REFUSED,
    F_5_5_1, F_5_5_2, F_5_6_1, F_5_6_2)}


def flow(fid: str) -> Flow:
    try:
        return FLOWS[fid]
    except KeyError:
        raise KeyError(f"no flow {fid!r} (flows: {', '.join(FLOWS)})") from None


# How a scenario's clause list maps to flows: "5.4" is one clause with two figures.
DEPROVISION = {"factory-reset": "5.4-1", "spv": "5.4-2"}


def flows_for(clauses: list[str], options: dict[str, Any] | None = None) -> list[Flow]:
    """The flows that check `clauses` ("5.1.1", "5.4", ...). "5.4" is the figure of
    options["method"] ("factory-reset" by default, or "spv") followed by the refusal
    until the operator allows the HNB again."""
    opts = options or {}
    out: list[Flow] = []
    for c in clauses:
        if c == "5.4":
            method = str(opts.get("method", "factory-reset"))
            if method not in DEPROVISION:
                raise KeyError(f"clause 5.4: method {method!r} not one of "
                               f"{', '.join(DEPROVISION)}")
            out += [FLOWS[DEPROVISION[method]], FLOWS["5.4-refused"]]
        else:
            out.append(flow(c))
    return out
