"""The HNB node: the device's management side (lab.nodes.hnb.device) on top of its network
side (lab.nodes.hnb.network), with the control verbs scenarios use.

Factory settings come from the node's topology settings: serial/oui (identity), dns (the
outer DNS server), segw (SecGWServer1: the SeGW initial; absent = HMS initial reached on
the public internet over TLS, 5.1.2), hms_url (ManagementServer.URL: the HMS initial).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from pathlib import Path
from typing import Any

from lab.nodes import charon
from lab.nodes.common import NodeConfig, signal_ready
from lab.nodes.control import ControlServer
from lab.nodes.hnb.network import RESOLV_FILE, Resolver, Tunnels, note_charon_log

log = logging.getLogger(__name__)


class HnbNode:
    def __init__(self, cfg: NodeConfig) -> None:
        self.cfg = cfg
        self.events = cfg.events()
        topo = cfg.raw.get("topology", {})
        st = cfg.settings
        dns_node = st.get("dns")
        self.outer_dns = (next(iter(topo["nodes"][dns_node]["addresses"].values()))
                          if dns_node else None)
        self.identity: str = cfg.raw.get("identity", "")
        self.resolver = Resolver(self.outer_dns or "127.0.0.1", self.events, "outer")
        self.tunnels = Tunnels(self.identity, cfg.raw.get("pki", {}), self.events)
        self.control = ControlServer()
        self.charon = charon.Charon(resolve_file=RESOLV_FILE)
        self._vici_stop = threading.Event()
        self.state_dir = Path(cfg.run_dir) / "state" / cfg.node

    async def start(self) -> None:
        await asyncio.to_thread(self.charon.start)
        charon.listen(["log"], note_charon_log, self._vici_stop)
        await asyncio.to_thread(self.tunnels.load_credentials)
        for verb in ("tunnel", "resolve", "status", "teardown"):
            self.control.register(verb, getattr(self, f"cmd_{verb}"))
        await self.control.start()
        signal_ready(self.events, identity=self.identity, outer_dns=self.outer_dns)

    async def stop(self) -> None:
        self._vici_stop.set()
        await self.control.stop()
        with contextlib.suppress(Exception):
            await self.tunnels.teardown()
        self.charon.stop()

    # ---- control verbs ------------------------------------------------------------------

    async def cmd_tunnel(self, segw: str) -> dict[str, Any]:
        self.resolver.use(self.outer_dns or "127.0.0.1", "outer")
        addr = await self.resolver.lookup(segw)
        t = await self.tunnels.establish(segw, addr)
        if t.inner_dns:
            self.resolver.use(t.inner_dns, "inner")
        return {"segw": segw, "outer": addr, "inner": t.inner_addr, "inner_dns": t.inner_dns}

    async def cmd_teardown(self) -> str:
        await self.tunnels.teardown()
        self.resolver.use(self.outer_dns or "127.0.0.1", "outer")
        return "down"

    async def cmd_resolve(self, name: str) -> str:
        return await self.resolver.lookup(name)

    async def cmd_status(self) -> dict[str, Any]:
        t = self.tunnels.current
        return {"identity": self.identity, "dns": self.resolver.server,
                "tunnel": None if t is None else {"segw": t.segw_fqdn, "inner": t.inner_addr}}
