"""Synthetic runs for the flow, ladder and JUnit tests: events shaped exactly as the nodes
write them (same kinds, peers and fields as the emit calls in lab/nodes/*), on a fake clock.

`Run` plays each node's part: `dns` the HNB resolver + the DNS server, `ike` the HNB's
Tunnels + the SeGW's VICI events, `session` the HNB CWMP client + the HMS ACS, `hnbap` the
HNB's Iuh client + the HNB-GW. The scenario functions at the bottom compose them into the
TS 32.583 procedures. The tests in this file check the builder against the node code's
field names, so a rename in a node shows up here first.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab import topology
from lab.evidence.events import Event

REPO = Path(__file__).resolve().parents[2]
TOPO = REPO / "topologies"
T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
DEVICE = "00D0B2-HNB0001"
IDENTITY = "100D0B2-HNB0001@hnb.operator.example"
URL_I = "http://hms-initial.mno.operator.example:7547/acs"
URL_S = "http://hms-serving.mno.operator.example:7547/acs"
# what the HNB says when the SeGW refused it (lab/nodes/hnb/network.py HNB_RULES): it never
# knows why; the SeGW's ike.auth_failed does (lab/nodes/segw/auth.py segw_rules)
REFUSED = "authentication failed: the SeGW refused our credentials (AUTHENTICATION_FAILED)"
CERT = f"O=hnblab, CN={IDENTITY}"
FOREIGN_CA = "O=hnblab, CN=hnblab intranet foreign (untrusted) CA"
CLAIMED = "100D0B2-HNB0666@hnb.operator.example"  # scenarios/negative.py hnb-identity-mismatch


@dataclass
class Run:
    topo: topology.Topology
    t: float = T0
    events: list[Event] = field(default_factory=list)
    inner: dict[str, str] = field(default_factory=dict)       # hnb -> current inner address
    leases: dict[str, int] = field(default_factory=dict)      # segw -> next host number
    acs_ids: dict[str, int] = field(default_factory=dict)     # hms -> next acs-N
    cpe_ids: dict[str, int] = field(default_factory=dict)     # hnb -> next cwmp:ID
    sessions: int = 0

    @classmethod
    def load(cls, name: str) -> Run:
        return cls(topology.load(TOPO / name))

    def emit(self, node: str, kind: str, summary: str, peer: str | None = None,
             **fields: Any) -> Event:
        self.t += 0.01
        e = Event(round(self.t, 3), node, kind, peer, summary, fields)
        self.events.append(e)
        return e

    def wait(self, seconds: float) -> None:
        self.t += seconds

    # ---- addresses as the nodes see them --------------------------------------------------------

    def addr(self, node: str, kind: str | None = None) -> str:
        n = self.topo.nodes[node]
        for net, a in n.addresses.items():
            if kind is None or self.topo.networks[net].kind == kind:
                return str(a)
        raise KeyError(f"{node} has no {kind} address")

    def source(self, hnb: str, target: str) -> str:
        """The HNB address `target` sees: inner when the target is on the MNO network only."""
        kinds = {self.topo.networks[n].kind for n in self.topo.nodes[target].addresses}
        if "public" not in kinds and hnb in self.inner:
            return self.inner[hnb]
        return self.addr(hnb, "public")

    def dns_peer(self, client: str) -> str:
        """The DNS node's peer field: node name for known node addresses, else the IP."""
        for n in self.topo.nodes.values():
            if client in {str(a) for a in n.addresses.values()}:
                return n.name
        return client

    # ---- node behaviours -------------------------------------------------------------------------

    def power_on(self, hnb: str = "hnb1") -> None:
        self.emit(hnb, "node.ready", "ready", identity=IDENTITY,
                  outer_dns=self.addr("dns-outer"))
        addr = self.addr(hnb, "public")  # lab/nodes/hnb/node.py _power_on
        self.emit(hnb, "hnb.power_on", f"power on: LAN up on {addr}", msg="PowerOn",
                  address=addr, identity=IDENTITY)

    def dns(self, hnb: str, dns_node: str, qname: str, *, answer: bool = True,
            instead: str | None = None) -> str | None:
        """`instead`: the address a misconfigured zone answers (no node's)."""
        server = self.addr(dns_node)
        label = self.topo.nodes[dns_node].settings["zone"]
        zone_addr = instead or self.topo.resolve(label, qname)
        addr = str(zone_addr) if zone_addr and answer else None
        rcode = "NOERROR" if addr else "NXDOMAIN"
        client = self.source(hnb, dns_node)
        # lab/nodes/hnb/network.py Resolver.lookup
        self.emit(hnb, "dns.query", f"{qname} A? ({label} DNS {server})", peer=server,
                  dir="out", msg="DNSQuery", qname=qname, server=server, dns=label, attempt=1)
        # lab/nodes/dns/server.py ZoneResolver.resolve
        self.emit(dns_node, "dns.query", f"{qname} A -> {addr or rcode}",
                  peer=self.dns_peer(client), dir="in", msg="DNSQuery", qname=qname, qtype="A",
                  rcode=rcode, answer=addr, client=client, transport="udp", zone=label)
        self.emit(hnb, "dns.answer", f"{qname} -> {addr or rcode}", peer=server, dir="in",
                  msg="DNSResponse", qname=qname, rcode=rcode, answer=addr, dns=label)
        if addr is None:
            self.emit(hnb, "dns.failed", f"{qname}: {rcode}", peer=server, qname=qname,
                      reason=f"{qname}: {rcode}")
        return addr

    def ike(self, hnb: str, fqdn: str, *, auth_fail_first: bool = False) -> str:
        segw = next(n.name for n in self.topo.nodes_of("segw") if n.settings["fqdn"] == fqdn)
        outer = self.addr(segw, "public")
        pool = ipaddress.IPv4Network(self.topo.nodes[segw].settings["pool"])
        k = self.leases.get(segw, 1)
        self.leases[segw] = k + 1
        inner = str(pool.network_address + k)
        inner_dns = self.addr("dns-inner")
        hnb_outer = self.addr(hnb, "public")
        # lab/nodes/hnb/network.py Tunnels.establish
        self.emit(hnb, "ike.init", f"IKE_SA_INIT to {fqdn} ({outer})", peer=fqdn, dir="out",
                  msg="IKE_SA_INIT", segw=fqdn, outer=outer)
        if auth_fail_first:
            self.auth_failed(segw, hnb, "the HNB's AUTH signature does not verify with its "
                             "certificate's key", "7")
            self.emit(hnb, "ike.failed", f"IKE to {fqdn} failed: {REFUSED}", peer=fqdn,
                      segw=fqdn, outer=outer, reason=REFUSED)
            self.emit(hnb, "ike.init", f"IKE_SA_INIT to {fqdn} ({outer})", peer=fqdn,
                      dir="out", msg="IKE_SA_INIT", segw=fqdn, outer=outer)
        # lab/nodes/segw/gateway.py on_vici_event
        fields = {"identity": IDENTITY, "outer": hnb_outer, "inner": inner, "ike_sa": str(k),
                  "dir": "in", "state": "ESTABLISHED"}
        self.emit(segw, "ike.up", f"IKE_SA established {IDENTITY} outer {hnb_outer} inner "
                  f"{inner}", peer=IDENTITY, msg="IKE_AUTH", **fields)
        self.emit(segw, "ike.child_up", f"CHILD_SA up {IDENTITY}", peer=IDENTITY,
                  msg="CHILD_SA", remote_ts=[f"{inner}/32"], **fields)
        self.emit(hnb, "ike.up", f"tunnel to {fqdn} up: inner {inner} dns {inner_dns}",
                  peer=fqdn, dir="in", msg="IKE_AUTH", segw=fqdn, outer=outer, inner=inner,
                  inner_dns=inner_dns, identity=IDENTITY, setup_ms=42.0)
        self.inner[hnb] = inner
        return inner

    def auth_failed(self, segw: str, hnb: str, reason: str, ike_sa: str,
                    identity: str = IDENTITY) -> Event:
        """The SeGW's record of a refusal (lab/nodes/segw/gateway.py _record_refusal): the
        identity the HNB claimed, the peer its outer address."""
        outer = self.addr(hnb, "public")
        return self.emit(segw, "ike.auth_failed", f"IKE authentication failed for {identity}: "
                         f"{reason}", peer=outer, identity=identity, outer=outer,
                         reason=reason, ike_sa=ike_sa, dir="in", msg="IKE_AUTH")

    def ike_fail(self, hnb: str, fqdn: str, *, outer: str | None = None,
                 refused: str | None = None, identity: str = IDENTITY, tries: int = 4) -> None:
        """The HNB's attempts to reach SeGW `fqdn` failing, then it gives up
        (lab/nodes/hnb/node.py _establish): nobody answering at `outer`, or the SeGW
        refusing the HNB (lab/nodes/segw/gateway.py) for the reason `refused`, the HNB
        claiming `identity`."""
        segw = next(n.name for n in self.topo.nodes_of("segw") if n.settings["fqdn"] == fqdn)
        addr = outer or self.addr(segw, "public")
        # lab/nodes/hnb/network.py failure_reason of the lines charon logged
        reason = REFUSED if refused else "peer not responding: no answer after 2 retransmits"
        why = f"IKEv2 to {fqdn} ({addr}) failed: {reason}"
        for attempt in range(1, tries + 1):
            self.emit(hnb, "ike.init", f"IKE_SA_INIT to {fqdn} ({addr})", peer=fqdn,
                      dir="out", msg="IKE_SA_INIT", segw=fqdn, outer=addr)
            if refused:
                self.auth_failed(segw, hnb, refused, str(attempt), identity)
            else:
                self.wait(5.0)  # strongSwan's retransmits
            self.emit(hnb, "ike.failed", f"IKE to {fqdn} failed: {reason}", peer=fqdn,
                      segw=fqdn, outer=addr, reason=reason)
            delay = min(2 ** (attempt - 1), 8)
            self.emit(hnb, "hnb.retry", f"attempt {attempt}/{tries} to reach {fqdn} failed "
                      f"({why}); retry in {delay}s", segw=fqdn, attempt=attempt, reason=why)
            self.wait(delay)
        self.emit(hnb, "hnb.failed", f"cannot reach the HMS: {why}", reason=why)

    def ike_down(self, hnb: str, fqdn: str) -> None:
        segw = next(n.name for n in self.topo.nodes_of("segw") if n.settings["fqdn"] == fqdn)
        inner = self.inner.pop(hnb)
        # a real run: the SeGW's record lands before the HNB's own
        self.emit(segw, "ike.down", f"IKE_SA down {IDENTITY} outer {self.addr(hnb, 'public')} "
                  f"inner {inner}", peer=IDENTITY, msg="INFORMATIONAL", identity=IDENTITY,
                  outer=self.addr(hnb, "public"), inner=inner, ike_sa="1", dir="in",
                  state="DELETING")
        self.emit(hnb, "ike.down", f"tunnel to {fqdn} torn down", peer=fqdn, dir="out",
                  msg="INFORMATIONAL", segw=fqdn, inner=inner)

    def _cpe_id(self, hnb: str) -> str:
        n = self.cpe_ids.get(hnb, 1)
        self.cpe_ids[hnb] = n + 1
        return str(n)

    def _acs_id(self, hms: str) -> str:
        n = self.acs_ids.get(hms, 1)
        self.acs_ids[hms] = n + 1
        return f"acs-{n}"

    def cwmp(self, frm: str, to: str, name: str, cid: str | None, url: str, hms: str,
             sess: str, codes: list[str], summary: str = "",
             between: Callable[[], object] | None = None,
             hms_extra: dict[str, Any] | None = None) -> None:
        """One CWMP message, as the sender (cwmp.tx) and the receiver (cwmp.rx) log it;
        `between` runs after the sender's record (the HNB resolves the HMS name then)."""
        text = summary or name
        hnb = frm if frm != hms else to
        ip = self.source(hnb, hms)
        hms_fields = {"dir": "", "msg": name, "cwmp_id": cid, "session": sess,
                      "ns": "urn:dslforum-org:cwmp-1-1", "state": "cpe-requests",
                      **(hms_extra or {})}
        if frm == hnb:  # lab/nodes/hnb/cwmp_client.py _Poster.send, lab/nodes/hms/acs.py
            self.emit(hnb, "cwmp.tx", text, peer=url, dir="out", msg=name, cwmp_id=cid,
                      url=url, events=codes)
            if between is not None:
                between()
            extra = {"events": codes} if name == "Inform" else {}
            self.emit(hms, "cwmp.rx", text, peer=ip, device=DEVICE,
                      **{**hms_fields, "dir": "in"}, **extra)
        else:
            self.emit(hms, "cwmp.tx", text, peer=ip, device=DEVICE,
                      **{**hms_fields, "dir": "out"})
            if name == "empty":
                self.emit(hnb, "cwmp.rx", "empty", peer=url, dir="in", msg="empty",
                          cwmp_id=None, url=url, events=codes, status=204)
            else:
                self.emit(hnb, "cwmp.rx", text, peer=url, dir="in", msg=name, cwmp_id=cid,
                          url=url, events=codes, hold_requests=None)

    def session(self, hnb: str, url: str, hms: str, codes: list[str],
                tasks: Sequence[tuple[str, str]] = (), *,
                cpe_requests: Sequence[tuple[str, str]] = (),
                on_inform: Sequence[tuple[str, str, dict[str, Any]]] = (),
                refuse: bool = False, fail_task: str | None = None,
                resolve: str | None = None,
                names: dict[str, list[str]] | None = None) -> None:
        """A whole CWMP session. `tasks`: (purpose, ACS RPC name) the HMS sends;
        `cpe_requests`: (RPC, summary) the HNB sends after InformResponse; `on_inform`:
        (kind, summary, fields) the HMS writes while it handles the Inform; `resolve`: the
        DNS node the HNB asks for the HMS name, as it does on every session: after it
        logged the session start and its Inform, while connecting (as a real run shows);
        `names`: purpose -> parameter names the HMS's request record carries (the `names`
        field asked of the HMS in docs/events.md)."""
        self.sessions += 1
        sess = f"s{self.sessions:07d}"
        self.emit(hnb, "cwmp.session", f"session {self.sessions} to {url}: {','.join(codes)}",
                  peer=url, url=url, events=codes, retry_count=0, state="start")
        cid = self._cpe_id(hnb)
        host = url.split("/")[2].split(":")[0]
        lookup = (lambda: self.dns(hnb, resolve, host)) if resolve else None
        self.cwmp(hnb, hms, "Inform", cid, url, hms, sess, codes,
                  "Inform " + ",".join(codes), between=lookup)
        ip = self.source(hnb, hms)
        for kind, summary, fields in on_inform:
            self.emit(hms, kind, summary, device=DEVICE, **fields)
        if refuse:
            self.emit(hms, "hms.refused", f"{DEVICE} refused: de-provisioned by the operator",
                      peer=ip, device=DEVICE, fault=8001, reason="de-provisioned by the "
                      "operator", state="deprovisioned")
            self.cwmp(hms, hnb, "Fault", cid, url, hms, sess, codes,
                      "Fault 8001 Request denied")
            self.emit(hnb, "cwmp.session", f"session {self.sessions} failed: ACS sent Fault "
                      "8001", peer=url, url=url, events=codes, ok=False,
                      error="ACS sent Fault 8001", state="end")
            return
        self.emit(hms, "hms.session.start", f"session {sess} for {DEVICE}", peer=ip,
                  device=DEVICE, session=sess, events=codes)
        self.cwmp(hms, hnb, "InformResponse", cid, url, hms, sess, codes, "InformResponse")
        for rpc_name, summary in cpe_requests:
            rid = self._cpe_id(hnb)
            self.cwmp(hnb, hms, rpc_name, rid, url, hms, sess, codes, summary)
            self.cwmp(hms, hnb, rpc_name + "Response", rid, url, hms, sess, codes)
        self.cwmp(hnb, hms, "empty", None, url, hms, sess, codes)
        for n, (purpose, name) in enumerate(tasks, 1):
            kind = {"SetParameterValues": "SPV", "GetParameterValues": "GPV"}.get(name, name)
            self.emit(hms, "hms.task.sent", f"task {n} {kind} ({purpose})", device=DEVICE,
                      task=n, task_kind=kind, purpose=purpose, session=sess)
            aid = self._acs_id(hms)
            extra = {"names": (names or {})[purpose]} if purpose in (names or {}) else None
            self.cwmp(hms, hnb, name, aid, url, hms, sess, codes, f"{name} 3 params",
                      hms_extra=extra)
            if fail_task == purpose:
                self.cwmp(hnb, hms, "Fault", aid, url, hms, sess, codes,
                          "Fault 9005 Invalid parameter name")
                self.emit(hms, "hms.task.failed", f"task {n} {kind} ({purpose}) failed",
                          device=DEVICE, task=n, task_kind=kind, purpose=purpose,
                          result={"fault": 9005})
                continue
            self.cwmp(hnb, hms, name + "Response", aid, url, hms, sess, codes)
            self.emit(hms, "hms.task.done", f"task {n} {kind} ({purpose}) done", device=DEVICE,
                      task=n, task_kind=kind, purpose=purpose, result={})
            self._after(hms, purpose, kind)
        self.emit(hms, "hms.session.end", f"session {sess} ended: no more requests", peer=ip,
                  device=DEVICE, session=sess, reason="no more requests", messages=4)
        self.cwmp(hms, hnb, "empty", None, url, hms, sess, codes, "empty (204: session end)")
        self.emit(hnb, "cwmp.session", f"session {self.sessions} completed", peer=url, url=url,
                  events=codes, ok=True, error="", state="end")

    def serving(self, codes: list[str], tasks: Sequence[tuple[str, str]] = (),
                **kw: Any) -> None:
        """A session of hnb1 with hms-serving through the tunnel (intranet)."""
        self.session("hnb1", URL_S, "hms-serving", codes, tasks, resolve="dns-inner", **kw)

    def _after(self, hms: str, purpose: str, kind: str) -> None:
        """lab/nodes/hms/plans.py after(): the decision events a finished task leads to."""
        settings = self.topo.nodes[hms].settings
        if purpose == "assign":
            rule = settings["policy"][0]
            self.emit(hms, "hms.assigned", f"{DEVICE}: SeGW ...", device=DEVICE,
                      serving_segw=rule["serving_segw"],
                      serving_hms_url=rule["serving_hms_url"], hnbgw=rule.get("hnbgw"))
        elif purpose == "provision" and kind != "Download":
            self.emit(hms, "hms.registered", f"{DEVICE} registered (provisioned by {kind})",
                      device=DEVICE, reason=f"provisioned by {kind}")
        elif purpose == "deprovision":
            self.emit(hms, "hms.deprovisioned", f"{DEVICE} de-provisioned by {kind}",
                      device=DEVICE, method=kind)

    def url_changed(self, hnb: str, old: str, new: str) -> None:
        self.emit(hnb, "cwmp.url_changed", f"ManagementServer.URL {old} -> {new}", old=old,
                  new=new)

    def registration(self, hnb: str, old: str, new: str) -> None:
        self.emit(hnb, "hnb.registration", f"registration: HMS {old} -> {new}", old=old,
                  new=new)

    def hnbap(self, hnb: str, gw: str, *, reject: bool = False) -> None:
        hnb_peer = f"{self.source(hnb, gw)}:40001"
        req = f"HNBRegisterRequest {IDENTITY} plmn 00101 cell 0x0000001 lac 1 rac 1 sac 1"
        # lab/hnbap.py IuhConnection.register, lab/nodes/hnbgw/server.py
        gw_name = self.topo.nodes[gw].settings.get("fqdn") or "hnbgw.mno.operator.example"
        self.emit(hnb, "hnbap.tx", req, peer=gw_name, dir="out",
                  msg="HNBRegisterRequest", identity=IDENTITY, transport="tcp-fallback")
        self.emit(gw, "hnbap.rx", req, peer=hnb_peer, dir="in", transport="tcp-fallback",
                  msg="HNBRegisterRequest", identity=IDENTITY)
        name, text = (("HNBRegisterReject", "HNBRegisterReject unauthorised-HNB") if reject
                      else ("HNBRegisterAccept", "HNBRegisterAccept rnc-id 100"))
        # in a real run the HNB-GW's record of its answer may land after the HNB's
        self.emit(hnb, "hnbap.rx", text, peer=gw_name, dir="in", msg=name,
                  identity=IDENTITY, transport="tcp-fallback")
        self.emit(gw, "hnbap.tx", text, peer=hnb_peer, dir="out", transport="tcp-fallback",
                  msg=name, identity=IDENTITY)
        if not reject:
            self.emit(hnb, "hnb.in_service", f"registered at HNB-GW {gw_name} (RNC-ID 100)",
                      hnbgw=gw_name, rnc_id=100)

    def cm_download(self, hnb: str, hms: str, url_s: str, *, ok: bool = True) -> None:
        """After a Download RPC: the HNB fetches the CM file, then reports TransferComplete
        in a new session (lab/nodes/hnb/cwmp_client.py _transfer, hms/fileserver.py)."""
        file_url = "http://hms-serving.mno.operator.example:8080/cm/cm-00D0B2-HNB0001-1.xml"
        self.emit(hnb, "transfer.download", f"Download 3 Vendor Configuration File {file_url} "
                  "started", peer=file_url, url=file_url, command_key="task-1", state="start")
        if ok:
            self.emit(hms, "file.tx", "http download cm-00D0B2-HNB0001-1.xml",
                      peer=self.source(hnb, hms), device=DEVICE, dir="out", msg="FileDownload",
                      transport="http", name="cm-00D0B2-HNB0001-1.xml", size=900)
            self.emit(hnb, "cm.applied", "CM file applied: 3 changed", url=file_url,
                      changed=["a", "b", "c"])
        code = 0 if ok else 9010
        self.emit(hnb, "transfer.download", f"Download {file_url} "
                  + ("done" if ok else "failed 9010: HTTP 404"), peer=file_url, url=file_url,
                  command_key="task-1", state="end", fault_code=code,
                  fault_string="" if ok else "HTTP 404")
        tc = "TransferComplete ok key=task-1" if ok else "TransferComplete fault 9010"
        self.session(hnb, url_s, hms, ["7 TRANSFER COMPLETE", "M Download"],
                     resolve="dns-inner", cpe_requests=[("TransferComplete", tc)])
        kind = "hms.task.done" if ok else "hms.task.failed"
        self.emit(hms, kind, "task 1 Download (provision) " + ("done" if ok else "failed"),
                  device=DEVICE, task=1, task_kind="Download", purpose="provision", result={})


# ---- the procedures -------------------------------------------------------------------------

def intranet(*, drop: tuple[str, ...] = (), auth_fail: bool = False,
             reject: bool = False, cm: str = "spv") -> Run:
    """5.1.1 + 5.2.1 on topologies/intranet.yaml. `drop`: (node, kind, msg) triples
    written "node/kind/msg" to remove afterwards."""
    r = Run.load("intranet.yaml")
    r.power_on()
    r.dns("hnb1", "dns-outer", "segw-initial.operator.example")
    r.ike("hnb1", "segw-initial.operator.example", auth_fail_first=auth_fail)
    r.session("hnb1", URL_I, "hms-initial", ["0 BOOTSTRAP", "1 BOOT"],
              [("assign", "SetParameterValues")], resolve="dns-inner")
    r.url_changed("hnb1", URL_I, URL_S)
    r.registration("hnb1", URL_I, URL_S)
    r.ike_down("hnb1", "segw-initial.operator.example")
    r.dns("hnb1", "dns-outer", "segw-serving.operator.example")
    r.ike("hnb1", "segw-serving.operator.example")
    if cm == "spv":
        r.session("hnb1", URL_S, "hms-serving", ["0 BOOTSTRAP"],
                  [("provision", "SetParameterValues")], resolve="dns-inner")
    else:
        r.session("hnb1", URL_S, "hms-serving", ["0 BOOTSTRAP"], [("provision", "Download")],
                  resolve="dns-inner")
        r.cm_download("hnb1", "hms-serving", URL_S)
    r.dns("hnb1", "dns-inner", "hnbgw.mno.operator.example")
    r.hnbap("hnb1", "hnbgw", reject=reject)
    for d in drop:
        node, kind, name = d.split("/")
        r.events = [e for e in r.events if not (e.node == node and e.kind == kind
                                                and e.fields.get("msg") == name)]
    return r


def same_hms() -> Run:
    r = Run.load("intranet-same-hms.yaml")
    url = "http://hms.mno.operator.example:7547/acs"
    r.power_on()
    r.dns("hnb1", "dns-outer", "segw.operator.example")
    r.ike("hnb1", "segw.operator.example")
    r.session("hnb1", url, "hms", ["0 BOOTSTRAP", "1 BOOT"],
              [("assign", "SetParameterValues"), ("provision", "SetParameterValues")],
              resolve="dns-inner")
    r.dns("hnb1", "dns-inner", "hnbgw.mno.operator.example")
    r.hnbap("hnb1", "hnbgw")
    return r


def internet(*, https: bool = True) -> Run:
    r = Run.load("internet.yaml")
    url_i = f"{'https' if https else 'http'}://hms-initial.operator.example:7548/acs"
    url_s = "http://hms-serving.mno.operator.example:7547/acs"
    r.power_on()
    r.session("hnb1", url_i, "hms-initial", ["0 BOOTSTRAP", "1 BOOT"],
              [("assign", "SetParameterValues")], resolve="dns-outer")
    r.url_changed("hnb1", url_i, url_s)
    r.registration("hnb1", url_i, url_s)
    r.dns("hnb1", "dns-outer", "segw-serving.operator.example")
    r.ike("hnb1", "segw-serving.operator.example")
    r.session("hnb1", url_s, "hms-serving", ["0 BOOTSTRAP"],
              [("provision", "SetParameterValues")], resolve="dns-inner")
    r.dns("hnb1", "dns-inner", "hnbgw.mno.operator.example")
    r.hnbap("hnb1", "hnbgw")
    return r


def segw_unreachable() -> Run:
    """scenarios/negative.py segw-unreachable: the outer zone sends the HNB to an address
    where no SeGW answers."""
    r = Run.load("intranet.yaml")
    r.power_on()
    r.dns("hnb1", "dns-outer", "segw-initial.operator.example", instead="198.51.100.99")
    r.ike_fail("hnb1", "segw-initial.operator.example", outer="198.51.100.99")
    return r


def _refused(reason: str, identity: str = IDENTITY) -> Run:
    r = Run.load("intranet.yaml")
    r.power_on()
    r.dns("hnb1", "dns-outer", "segw-initial.operator.example")
    r.ike_fail("hnb1", "segw-initial.operator.example", refused=reason, identity=identity)
    return r


def hnb_not_accepted() -> Run:
    """scenarios/negative.py hnb-not-accepted: the SeGW refuses the HNB's certificate, issued
    by a foreign CA."""
    return _refused(f'unknown CA: the HNB certificate "{CERT}" is issued by "{FOREIGN_CA}", '
                    "not by the operator root CA")


def hnb_cert_expired() -> Run:
    """scenarios/negative.py hnb-cert-expired."""
    return _refused("HNB certificate expired on Jan 01 00:00:00 2021 (valid from Jan 01 "
                    "00:00:00 2020)")


def hnb_identity_mismatch() -> Run:
    """scenarios/negative.py hnb-identity-mismatch: the HNB claims in IKE an identity its
    certificate does not carry."""
    return _refused(f"identity mismatch: the HNB claims '{CLAIMED}' in IKE but its "
                    f'certificate is "{CERT}"', CLAIMED)


CERT_ERROR = ("Cannot connect to host hms-initial.operator.example:7548 ssl:True "
              "[SSLCertVerificationError: (1, \"[SSL: CERTIFICATE_VERIFY_FAILED] certificate "
              "verify failed: Hostname mismatch, certificate is not valid for "
              "'hms-initial.operator.example'. (_ssl.c:992)\")]")


def cert_mismatch() -> Run:
    """scenarios/negative.py hms-cert-mismatch: HMS initial's certificate names another
    host; the HNB's TLS session fails (lab/nodes/hnb/cwmp_client.py) and it retries."""
    r = Run.load("internet.yaml")
    url = "https://hms-initial.operator.example:7548/acs"
    codes = ["0 BOOTSTRAP", "1 BOOT"]
    r.power_on()
    r.emit("hnb1", "cwmp.session", f"session 0 to {url}: {','.join(codes)}", peer=url,
           url=url, events=codes, retry_count=0, state="start")
    r.dns("hnb1", "dns-outer", "hms-initial.operator.example")
    r.emit("hnb1", "cwmp.session", f"session 0 failed: {CERT_ERROR}", peer=url, url=url,
           events=codes, ok=False, error=CERT_ERROR, state="end")
    r.emit("hnb1", "cwmp.retry", "session retry 1 in 7.72 s", retry_count=1, delay=7.72)
    return r


def registered_intranet() -> Run:
    """An intranet HNB already registered (the tunnel to SeGW serving is up)."""
    r = intranet()
    r.wait(5.0)
    return r


def conn_request(r: Run, hms: str = "hms-serving", hnb: str = "hnb1") -> None:
    """lab/nodes/hms/api.py _kick + lab/nodes/hnb/connreq.py: the HNB logs the request as it
    answers it, the HMS once the HTTP exchange is over."""
    url = f"http://{r.inner[hnb]}:7548/cr"
    r.emit(hnb, "connreq.rx", "ConnectionRequest accepted", peer=r.addr(hms), dir="in",
           msg="ConnectionRequest", status=200)
    r.emit(hms, "hms.connection_request", f"connection request to {DEVICE}: 200",
           device=DEVICE, dir="out", msg="ConnectionRequest", url=url, status=200, ok=True)


def factory_reset(*, allow: bool = True) -> Run:
    """5.4-1 on a registered intranet HNB, then the refusal until allowed (5.4)."""
    r = registered_intranet()
    r.emit("hms-serving", "hms.deprovision_requested", f"operator de-provisions {DEVICE} by "
           "factory-reset", device=DEVICE, method="factory-reset", task=9)
    conn_request(r)
    r.serving(["6 CONNECTION REQUEST"],
              [("deprovision", "FactoryReset")])
    r.emit("hnb1", "cwmp.factory_reset", "FactoryReset: model reset, rebooting")
    r.wait(1.0)
    r.serving(["0 BOOTSTRAP", "1 BOOT"], refuse=True)
    if allow:
        r.emit("hms-serving", "hms.allowed", f"operator allows {DEVICE} (state deprovisioned)",
               device=DEVICE, state="deprovisioned")
        r.serving(["0 BOOTSTRAP", "1 BOOT"],
                  [("provision", "SetParameterValues")])
    return r


def spv_deprovision() -> Run:
    r = registered_intranet()
    conn_request(r)
    r.serving(["6 CONNECTION REQUEST"],
              [("deprovision", "SetParameterValues")])
    return r


def readdress() -> Run:
    """5.2.2: the SeGW moves the HNB to another inner address; it reconnects and informs."""
    r = registered_intranet()
    old = r.inner["hnb1"]
    pool = ipaddress.IPv4Network(r.topo.nodes["segw-serving"].settings["pool"])
    addr = str(pool.network_address + 129)  # the first of the pool's readdress half
    # lab/nodes/segw/gateway.py Gateway.readdress
    r.emit("segw-serving", "segw.readdress", f"{IDENTITY}: next inner address {addr}",
           peer=IDENTITY, identity=IDENTITY, address=addr, previous=None, pool=f"{addr}/32")
    r.emit("segw-serving", "segw.disconnect", f"{IDENTITY}: 1 IKE SA(s) terminated",
           peer=IDENTITY, identity=IDENTITY, count=1)
    r.emit("segw-serving", "ike.down", f"IKE_SA down {IDENTITY}", peer=IDENTITY,
           msg="INFORMATIONAL", identity=IDENTITY, outer=r.addr("hnb1", "public"), inner=old,
           ike_sa="2", dir="in", state="DELETING")
    # lab/nodes/hnb/node.py _keep_tunnel / _establish
    r.emit("hnb1", "hnb.tunnel_lost", "tunnel to segw-serving.operator.example lost; "
           "reconnecting", segw="segw-serving.operator.example", inner=old)
    del r.inner["hnb1"]
    r.dns("hnb1", "dns-outer", "segw-serving.operator.example")
    r.leases["segw-serving"] = 129
    new = r.ike("hnb1", "segw-serving.operator.example")
    assert new == addr, (new, addr)
    r.emit("hnb1", "hnb.inner_address_changed", f"inner address {old} -> {new}", old=old,
           new=new)
    r.serving(["4 VALUE CHANGE"], on_inform=[
        ("hms.inner_ip", f"{DEVICE} inner IPsec address {old} -> {new}",
         {"old": old, "new": new, "parameter": "Device.IPsec.IKEv2SA.1.LocalAddress",
          "value_change": True})])
    return r


def alarm_and_pm_config(*, operator: bool = False, names: bool = False) -> Run:
    """5.5.1 then 5.6.1 in one session: by the HMS's own tasks, or (`operator`) by the
    operator's SPV tasks, with or without the parameter names on the HMS's records."""
    r = registered_intranet()
    alarm, pm = ("operator", "operator") if operator else ("alarm-config", "pm-config")
    if names and operator:  # two operator tasks: tell them apart by their names
        r.serving(["2 PERIODIC"], [(alarm, "SetParameterValues")], names={alarm: [
            "Device.FaultMgmt.SupportedAlarm.3.ReportingMechanism"]})
        r.serving(["2 PERIODIC"], [(pm, "SetParameterValues")], names={pm: [
            "Device.FAP.PerfMgmt.Config.1.Enable", "Device.FAP.PerfMgmt.Config.1.URL"]})
        return r
    r.serving(["2 PERIODIC"], [(alarm, "SetParameterValues"), (pm, "SetParameterValues")])
    return r


def alarm_report() -> Run:
    r = registered_intranet()
    r.emit("hnb1", "alarm.raise", "NewAlarm 1 Major cell outage (0 Expedited)", alarm_id="1",
           notification_type="NewAlarm", mechanism="0 Expedited", severity="Major",
           event_type="Quality of service", probable_cause="Cell outage",
           specific_problem="cell outage")
    r.serving(["4 VALUE CHANGE"], on_inform=[
        ("hms.alarm", f"{DEVICE} NewAlarm 1 Major cell outage",
         {"alarm_id": "1", "notification_type": "NewAlarm", "source": "expedited",
          "event_time": "2026-01-01T00:00:05Z", "severity": "Major"})])
    return r


def pm_upload(*, ok: bool = True) -> Run:
    r = registered_intranet()
    name = "A20260101.0000+0000-0015+0000_HNB0001.xml"
    dest = f"http://hms-serving.mno.operator.example:8080/pm/{name}"
    r.emit("hnb1", "pm.file", f"PM file {name}", file=name, bytes=2048)
    if ok:
        r.emit("hms-serving", "file.rx", f"http upload {name} (2048 bytes)",
               peer=r.inner["hnb1"], device=DEVICE, dir="in", msg="FileUpload",
               transport="http", name=name, size=2048, sha256="0" * 64, user="hnb")
        r.emit("hnb1", "pm.upload", f"PM file {name} uploaded to {dest}", peer=dest,
               file=name, url=dest)
    else:
        r.emit("hnb1", "pm.upload_failed", f"PM upload of {name} to {dest} failed: HTTP 401",
               peer=dest, file=name, error="HTTP 401", backlog=1)
    return r


def operator_spv(*, fault: bool = False, also: Sequence[str] = ()) -> Run:
    """5.3.2 by an operator task; `also`: RPCs the HMS sends after it in that session (a
    Download, a read-back GetParameterValues: none of them a step of 5.3.2)."""
    r = registered_intranet()
    conn_request(r)
    r.serving(["6 CONNECTION REQUEST"],
              [("operator", "SetParameterValues"), *(("operator", a) for a in also)],
              fail_task="operator" if fault else None)
    return r


# ---- the builder matches the node code -------------------------------------------------------

def _emit_kinds(path: Path) -> set[str]:
    import re
    text = path.read_text()
    return set(re.findall(r'emit\(\s*"([a-z_.]+)"', text))


def test_builder_kinds_exist_in_node_code() -> None:
    """Every kind the builder writes is one a node writes (the hnb.power_on the lead adds
    is the one exception, listed in docs/events.md as requested)."""
    node_kinds: set[str] = set()
    for p in (REPO / "lab").rglob("*.py"):
        node_kinds |= _emit_kinds(p)
    # kinds the code builds at run time (f-strings, variables)
    node_kinds |= {"hnbap.tx", "hnbap.rx", "transfer.download", "transfer.upload",
                   "hms.task.done", "hms.task.failed", "node.ready"}
    runs = [intranet(cm="download", auth_fail=True, reject=True), same_hms(), internet(),
            factory_reset(), spv_deprovision(), readdress(), alarm_and_pm_config(),
            alarm_report(), pm_upload(), pm_upload(ok=False), operator_spv(fault=True),
            segw_unreachable(), hnb_not_accepted(), hnb_cert_expired(),
            hnb_identity_mismatch(), cert_mismatch()]
    built = {e.kind for r in runs for e in r.events}
    assert built - node_kinds <= {"hnb.power_on"}, built - node_kinds


def test_builder_messages_carry_dir_and_msg() -> None:
    r = intranet()
    for e in r.events:
        if e.kind.startswith(("cwmp.tx", "cwmp.rx", "hnbap.", "dns.answer")):
            assert e.fields.get("dir") in ("in", "out") and e.fields.get("msg"), e
