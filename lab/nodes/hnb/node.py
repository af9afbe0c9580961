"""The HNB node: the device's management plane (lab.nodes.hnb.device) on top of its network
side (lab.nodes.hnb.network), and the control verbs scenarios and operators use.

Factory settings come from the node's topology settings: serial/oui (identity), dns (the
outer DNS server), segw (SecGWServer1: the SeGW initial; absent = the HMS initial is
reached on the public internet over TLS, 5.1.2), hms_url (ManagementServer.URL: the HMS
initial), location (lat/lon), plmn/lac/cell_id/realm (the factory CellConfig: PLMNID,
LACRAC "<lac>:1", SAC 1, RAN.CellID, HNBIDRealm). The HNBAP HNB REGISTER REQUEST is built
from the data model (`register_request`), so what the HMS provisioned is what it carries.

The node comes up powered off. `power-on` runs the life of TS 32.583:
  5.1.1 1: LAN up; 2.1-2.2 resolve SecGWServer1 at the outer DNS; 2.3 IKEv2 to it; 2.4-2.5
  the HMS name at the inner DNS (learned in the IKEv2 configuration payload); 3-7 the CWMP
  session at the HMS initial (lab.nodes.hnb.cwmp_client). When the HMS changes
  ManagementServer.URL the session ends (8), the initial tunnel goes down (9) and
  registration follows (5.2.1 2-5): the serving SeGW, the serving HMS with 0 BOOTSTRAP.
  After a session that left FAPGWServer1 set: the HNB-GW name at the inner DNS (6.1-6.2)
  and HNBAP HNB REGISTER REQUEST (7).
  5.2.2: when the SeGW drops the tunnel, the HNB reconnects; a different inner address
  is a device-made change of Device.IPsec.IKEv2SA.1.LocalAddress (active notification:
  an Inform with "4 VALUE CHANGE" at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import ssl
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lab import hnbap
from lab.nodes import charon
from lab.nodes.common import NodeConfig, signal_ready
from lab.nodes.control import ControlServer
from lab.nodes.hnb.device import Hnb
from lab.nodes.hnb.network import (
    RESOLV_FILE,
    ResolveError,
    Resolver,
    TunnelError,
    Tunnels,
)

log = logging.getLogger(__name__)

SECGW = "Device.Services.FAPService.1.FAPControl.UMTS.Gateway.SecGWServer1"
FAPGW = "Device.Services.FAPService.1.FAPControl.UMTS.Gateway.FAPGWServer1"
FAPGW_PORT = "Device.Services.FAPService.1.FAPControl.UMTS.Gateway.FAPGWPort"
IPSEC_ENABLE = "Device.IPsec.Enable"
INNER_ADDR = "Device.IPsec.IKEv2SA.1.LocalAddress"
URL = "Device.ManagementServer.URL"
CONNREQ_URL = "Device.ManagementServer.ConnectionRequestURL"
CONNREQ_PORT = 7547
_CELL = "Device.Services.FAPService.1.CellConfig.UMTS."
PLMNID, LACRAC, SAC = _CELL + "CN.PLMNID", _CELL + "CN.LACRAC", _CELL + "CN.SAC"
LAC_IN_USE, RAC_IN_USE = _CELL + "CN.LACInUse", _CELL + "CN.RACInUse"
CELL_ID, HNBID_REALM = _CELL + "RAN.CellID", _CELL + "RAN.HNBIDRealm"
ACCESS_MODE = "Device.Services.FAPService.1.AccessMgmt.UMTS.AccessMode"
CSGID = "Device.Services.FAPService.1.AccessMgmt.UMTS.CSGID"
OUI = "Device.DeviceInfo.ManufacturerOUI"
SERIAL = "Device.DeviceInfo.SerialNumber"
HNBGW_TIMEOUT = 15.0
CONNECT_TRIES = 4  # tunnel/DNS attempts before the HNB reports a clear failure


class HnbNode:
    def __init__(self, cfg: NodeConfig) -> None:
        self.cfg = cfg
        self.events = cfg.events()
        topo = cfg.raw.get("topology", {})
        st = cfg.settings
        dns_node = st.get("dns")
        self.outer_dns = (next(iter(topo["nodes"][dns_node]["addresses"].values()))
                          if dns_node else "127.0.0.1")
        self.public_addr = next(iter(cfg.addresses.values()), "0.0.0.0")
        self.identity: str = cfg.raw.get("identity", "")
        self.pki = cfg.raw.get("pki", {})
        self.resolver = Resolver(self.outer_dns, self.events, "outer")
        self.tunnels = Tunnels(self.identity, self.pki, self.events)
        self.control = ControlServer()
        self.charon = charon.Charon(resolve_file=RESOLV_FILE)
        self._vici_stop = threading.Event()
        self.state_dir = Path(cfg.run_dir) / "state" / cfg.node
        self.hnb: Hnb | None = None
        self._life: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tunnel_lost = asyncio.Event()
        self._hnbgw_registered: str | None = None
        self._connect_lock = asyncio.Lock()

    # ---- node lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await asyncio.to_thread(self.charon.start)
        charon.listen(["ike-updown"], self._on_vici, self._vici_stop)
        await asyncio.to_thread(self.tunnels.load_credentials)
        for verb in ("power_on", "power_off", "status", "raise_alarm", "clear_alarm",
                     "resolve", "tunnel", "teardown", "reboot"):
            self.control.register(verb.replace("_", "-"), getattr(self, f"cmd_{verb}"))
        await self.control.start()
        signal_ready(self.events, identity=self.identity, outer_dns=self.outer_dns,
                     state="powered off")

    async def stop(self) -> None:
        try:
            self._vici_stop.set()
            for t in (self._life, self._watch):
                if t:
                    t.cancel()
            if self.hnb:
                with contextlib.suppress(Exception):
                    await self.hnb.stop()
            await self.control.stop()
            with contextlib.suppress(Exception):
                await self.tunnels.teardown()
            self.charon.stop()
        finally:
            self.events.close()  # last: stopping emits events too

    def factory(self) -> dict[str, str]:
        st = self.cfg.settings
        f = {SERIAL: st.get("serial", self.cfg.node), OUI: st.get("oui", "00D0B2"),
             URL: st.get("hms_url", ""),
             # the cell as it leaves the factory; the HMS may provision other values
             PLMNID: str(st.get("plmn", "00101")), LACRAC: f"{st.get('lac', 1)}:1",
             SAC: "1", CELL_ID: str(st.get("cell_id", 1))}
        if not st.get("identity_override"):
            # HNB-Identity 1<OUI>-<SerialNumber>@<HNBIDRealm>, the one the certificate holds
            f[HNBID_REALM] = self.identity.rpartition("@")[2]
        if st.get("segw"):
            f[SECGW] = st["segw"]
        f[IPSEC_ENABLE] = "true"  # the HNB can do IPsec; SecGWServer1 says where
        loc = st.get("location") or {}
        if "lat" in loc and "lon" in loc:
            f["Device.FAP.GPS.LockedLatitude"] = str(int(float(loc["lat"]) * 1_000_000))
            f["Device.FAP.GPS.LockedLongitude"] = str(int(float(loc["lon"]) * 1_000_000))
        return f

    def ssl_context(self) -> ssl.SSLContext:
        """TLS to the HMS: only the operator root CA is trusted, and the host in the HMS
        URL must match the certificate."""
        ctx = ssl.create_default_context(cafile=self.pki["ca"]) if self.pki.get("ca") \
            else ssl.create_default_context()
        ctx.check_hostname = True
        return ctx

    # ---- the life of the HNB ---------------------------------------------------------------

    async def cmd_power_on(self) -> str:
        if self._life and not self._life.done():
            return "already on"
        self._life = asyncio.create_task(self._power_on(), name="hnb-life")
        self._life.add_done_callback(self._life_ended)
        return "powering on"

    def _life_ended(self, task: asyncio.Task[None]) -> None:
        # Failures the life handles are events already; anything else must not vanish.
        if task.cancelled() or task.exception() is None:
            return
        exc = task.exception()
        log.error("the HNB's life ended", exc_info=exc)
        self.events.emit("hnb.failed", f"HNB stopped on an unexpected error: "
                         f"{type(exc).__name__}: {exc}", reason=f"{type(exc).__name__}: {exc}")

    async def cmd_power_off(self, factory: str = "false") -> str:
        """Power off (state kept, like unplugging); factory=true also wipes the device's
        state, so the next power-on is a first boot (benchmarks, repeated demos)."""
        for t in (self._life, self._watch):
            if t:
                t.cancel()
        self._life = self._watch = None
        if self.hnb:
            await self.hnb.stop()
            self.hnb = None
        await self.tunnels.teardown()
        self.resolver.use(self.outer_dns, "outer")
        self._hnbgw_registered = None
        if factory.lower() in ("true", "1", "yes"):
            shutil.rmtree(self.state_dir, ignore_errors=True)
        self.events.emit("hnb.power_off", "power off" + (" (factory state)"
                                                         if factory == "true" else ""))
        return "off"

    async def _power_on(self) -> None:
        self.events.emit("hnb.power_on", f"power on: LAN up on {self.public_addr}",
                         msg="PowerOn", address=self.public_addr, identity=self.identity)
        ctx = self.ssl_context()
        self.hnb = Hnb(self.events, self.state_dir, factory=self.factory(), ssl=ctx,
                       resolver=self.resolver, connreq_port=CONNREQ_PORT,
                       advertise_host=self.public_addr, on_url_changed=self._on_url_changed,
                       on_reboot=self._on_reboot)
        try:
            await self._connect(self.hnb.url)
        except (TunnelError, ResolveError) as exc:
            self.events.emit("hnb.failed", f"cannot reach the HMS: {exc}", reason=str(exc))
            return
        await self.hnb.start()
        self._watch = asyncio.create_task(self._after_sessions(), name="hnb-after-sessions")
        await self._keep_tunnel()

    async def _connect(self, url: str) -> None:
        """Make the HMS at `url` reachable: through the SeGW in SecGWServer1 when IPsec is
        used (5.1.1 2.x, 5.2.1 2-3), else on the public side (5.1.2)."""
        assert self.hnb is not None
        async with self._connect_lock:
            # Through a tunnel when there is a SeGW to go to (factory: SeGW initial; after
            # discovery: the serving one) and the IPsec usage indicator allows it.
            use_ipsec = self.hnb.get(IPSEC_ENABLE).lower() in ("true", "1")
            segw = self.hnb.get(SECGW) if use_ipsec else ""
            host = urlsplit(url).hostname or ""
            if urlsplit(url).scheme == "https" and segw:
                # An HMS over TLS is reached outside the tunnel (like 5.1.2): its name
                # comes from the outer DNS (5.2.1 step 2), the tunnel carries the rest.
                self.resolver.resolve_outside(host)
                self.events.emit("hnb.hms_outside_tunnel", f"HMS {host} reached outside "
                                 "the tunnel over TLS", url=url, host=host)
            cur = self.tunnels.current
            if cur and cur.segw_fqdn == segw:
                return
            if cur:
                await self.tunnels.teardown()  # 5.1.1 step 9: leave SeGW initial
                self.resolver.use(self.outer_dns, "outer")
            if not segw:
                self.events.emit("hnb.direct", f"HMS {url} reached without a tunnel",
                                 url=url, host=host)
                return
            await self._establish(segw, notify=False)

    async def _establish(self, segw: str, *, notify: bool) -> None:
        assert self.hnb is not None
        last: Exception | None = None
        for attempt in range(1, CONNECT_TRIES + 1):
            self.resolver.use(self.outer_dns, "outer")
            try:
                addr = await self.resolver.lookup(segw)
                t = await self.tunnels.establish(segw, addr)
                break
            except (TunnelError, ResolveError) as exc:
                last = exc
                delay = min(2 ** (attempt - 1), 8)
                self.events.emit("hnb.retry", f"attempt {attempt}/{CONNECT_TRIES} to reach "
                                 f"{segw} failed ({exc}); retry in {delay}s", segw=segw,
                                 attempt=attempt, reason=str(exc))
                if attempt < CONNECT_TRIES:
                    await asyncio.sleep(delay)
        else:
            assert last is not None
            raise last
        if t.inner_dns:
            self.resolver.use(t.inner_dns, "inner")
        old = self.hnb.get(INNER_ADDR)
        self.hnb.set_internal(INNER_ADDR, t.inner_addr)
        self.hnb.connreq.set_advertised_host(t.inner_addr)
        if not notify or old == t.inner_addr:
            # A tunnel made for discovery/registration is not a value change to report:
            # the BOOTSTRAP Inform that follows carries the addresses anyway.
            self.hnb.model.clear_notifications([INNER_ADDR, CONNREQ_URL])
        else:
            self.events.emit("hnb.inner_address_changed", f"inner address {old} -> "
                             f"{t.inner_addr}", old=old, new=t.inner_addr)
        self._tunnel_lost.clear()

    async def _on_url_changed(self, old: str, new: str) -> None:
        self.events.emit("hnb.registration", f"registration: HMS {old} -> {new}", old=old,
                         new=new)
        await self._connect(new)

    async def _on_reboot(self) -> None:
        assert self.hnb is not None
        self._hnbgw_registered = None
        await self._connect(self.hnb.url)

    async def _after_sessions(self) -> None:
        """After each completed session: register with the HNB-GW once it is known
        (5.2.1 6-7), but not while the HNB is moving to another HMS (the HNB-GW is
        reached through the serving SeGW's tunnel, which is not up yet)."""
        assert self.hnb is not None
        after = 0
        while True:
            rec = await self.hnb.wait_session(after=after, ok=True)
            after = rec.index + 1
            gw = self.hnb.get(FAPGW)
            if not gw or gw == self._hnbgw_registered or rec.url != self.hnb.url:
                continue
            try:
                async with self._connect_lock:
                    await asyncio.wait_for(self._register_hnbgw(gw), HNBGW_TIMEOUT)
            except (ResolveError, OSError, hnbap.HnbapError, TimeoutError) as exc:
                self.events.emit("hnb.hnbgw_failed", f"registration at HNB-GW {gw} failed: "
                                 f"{exc or type(exc).__name__}", hnbgw=gw, reason=str(exc))

    async def _register_hnbgw(self, gw: str) -> None:
        assert self.hnb is not None
        addr = await self.resolver.lookup(gw)  # 5.2.1 6.1-6.2 (inner DNS)
        port_s = self.hnb.get(FAPGW_PORT)
        port = int(port_s) if port_s.isdigit() and int(port_s) else 29169
        req = register_request(self.hnb.get, self.identity)
        # TR-196: the FAP picks the LAC and RAC it uses from LACRAC and reports them
        self.hnb.set_internal(LAC_IN_USE, str(req.lac))
        self.hnb.set_internal(RAC_IN_USE, str(req.rac))
        res = await hnbap.register(addr, port, req, self.events, peer=gw)
        if isinstance(res, hnbap.RegisterAccept):
            self._hnbgw_registered = gw
            self.events.emit("hnb.in_service", f"registered at HNB-GW {gw} (RNC-ID "
                             f"{res.rnc_id})", hnbgw=gw, rnc_id=res.rnc_id)

    async def _keep_tunnel(self) -> None:
        """5.2.2: a tunnel the SeGW dropped is re-established; a new inner address is
        reported to the serving HMS by active notification."""
        assert self.hnb is not None
        while True:
            await self._tunnel_lost.wait()
            self._tunnel_lost.clear()
            cur = self.tunnels.current
            if cur is None:
                continue
            self.tunnels.current = None
            self.events.emit("hnb.tunnel_lost", f"tunnel to {cur.segw_fqdn} lost; "
                             "reconnecting", segw=cur.segw_fqdn, inner=cur.inner_addr)
            try:
                async with self._connect_lock:
                    await self._establish(cur.segw_fqdn, notify=True)
            except (TunnelError, ResolveError) as exc:
                self.events.emit("hnb.failed", f"tunnel lost for good: {exc}", reason=str(exc))

    def _on_vici(self, label: str, data: dict[str, Any]) -> None:
        cur = self.tunnels.current
        if label == "ike-updown" and "up" not in data and cur is not None:
            for sa in data.values():
                if isinstance(sa, dict) and sa.get("uniqueid") == cur.unique_id and self._loop:
                    self._loop.call_soon_threadsafe(self._tunnel_lost.set)

    # ---- control verbs --------------------------------------------------------------------

    def _device(self) -> Hnb:
        if self.hnb is None:
            raise RuntimeError("the HNB is powered off (power-on first)")
        return self.hnb

    async def cmd_status(self) -> dict[str, Any]:
        t = self.tunnels.current
        out: dict[str, Any] = {
            "identity": self.identity, "dns": f"{self.resolver.label} {self.resolver.server}",
            "tunnel": None if t is None else {"segw": t.segw_fqdn, "inner": t.inner_addr},
            "hnbgw": self._hnbgw_registered, "powered": self.hnb is not None}
        if self.hnb:
            out.update(self.hnb.status())
        return out

    async def cmd_raise_alarm(self, event_type: str, probable_cause: str,
                              specific_problem: str = "", severity: str = "Major",
                              managed_object_instance: str = "") -> dict[str, Any]:
        r = self._device().raise_alarm(event_type, probable_cause, specific_problem, severity,
                                       managed_object_instance)
        return r.__dict__

    async def cmd_clear_alarm(self, event_type: str, probable_cause: str,
                              specific_problem: str = "",
                              managed_object_instance: str = "") -> dict[str, Any] | None:
        r = self._device().clear_alarm(event_type, probable_cause, specific_problem,
                                       managed_object_instance)
        return None if r is None else r.__dict__

    async def cmd_reboot(self) -> str:
        await self._device().reboot()
        return "rebooting"

    async def cmd_resolve(self, name: str) -> str:
        return await self.resolver.lookup(name)

    async def cmd_tunnel(self, segw: str) -> dict[str, Any]:
        self.resolver.use(self.outer_dns, "outer")
        addr = await self.resolver.lookup(segw)
        t = await self.tunnels.establish(segw, addr)
        if t.inner_dns:
            self.resolver.use(t.inner_dns, "inner")
        return {"segw": segw, "outer": addr, "inner": t.inner_addr, "inner_dns": t.inner_dns}

    async def cmd_teardown(self) -> str:
        await self.tunnels.teardown()
        self.resolver.use(self.outer_dns, "outer")
        return "down"


def register_request(get: Callable[[str], str], fallback_identity: str) -> hnbap.RegisterRequest:
    """HNB REGISTER REQUEST (TS 25.469 9.1.3) from the HNB's data model (`get` reads it):
    PLMNidentity <- CellConfig.UMTS.CN.PLMNID; LAC, RAC <- the first LAC:RAC item of
    CN.LACRAC (a range gives its start, TR-196 lets the FAP choose); SAC <- CN.SAC;
    CellIdentity <- RAN.CellID; CSG-ID <- AccessMgmt.UMTS.CSGID in Closed or Hybrid Access
    only; HNB-Identity <- 1<ManufacturerOUI>-<SerialNumber>@<RAN.HNBIDRealm> (while
    HNBIDRealm is empty: `fallback_identity`, the certificate's); location <- FAP.GPS
    LockedLatitude/LockedLongitude (micro-degrees) when set. HnbapError names a parameter
    whose value cannot be carried."""
    def need(name: str) -> str:
        v = get(name).strip()
        if not v:
            raise hnbap.HnbapError(f"{name} is empty: HNB REGISTER REQUEST needs it")
        return v

    item = need(LACRAC).split(",")[0].strip()
    lac_s, sep, rac_s = item.partition(":")
    try:
        if not sep:
            raise ValueError(item)
        lac, rac = (int(p.split("..")[0]) for p in (lac_s, rac_s))
    except ValueError:
        raise hnbap.HnbapError(f"{LACRAC}={get(LACRAC)!r}: expected <LAC>:<RAC> items "
                               "(a value or <start>..<end> each)") from None
    realm = get(HNBID_REALM).strip()
    identity = (f"1{get(OUI)}-{get(SERIAL)}@{realm}" if realm else fallback_identity)
    csg = None
    if get(ACCESS_MODE) in ("Closed Access", "Hybrid Access"):
        csg = int(need(CSGID))
    lat, lon = (int(get(n) or 0) for n in ("Device.FAP.GPS.LockedLatitude",
                                           "Device.FAP.GPS.LockedLongitude"))
    loc = hnbap.Location(lat / 1e6, lon / 1e6) if lat or lon else hnbap.Location()
    return hnbap.RegisterRequest(identity=identity, plmn=need(PLMNID),
                                 cell_id=int(need(CELL_ID)), lac=lac, rac=rac,
                                 sac=int(need(SAC)), csg_id=csg, location=loc)
