"""The HNB's network side: a resolver that asks a chosen DNS server, and IKEv2 tunnels to
Security Gateways through the HNB's own charon (kernel-libipsec), driven over VICI.

The resolver starts on the outer DNS from the factory settings; once a tunnel is up it
switches to the inner DNS learned from the IKEv2 configuration payload (charon's resolve
plugin writes it to RESOLV_FILE). Every query and every tunnel change is an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import re
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp.abc
import vici
from dnslib import QTYPE, RCODE, DNSRecord

from lab.evidence.events import EventLog
from lab.nodes import charon

log = logging.getLogger(__name__)
RESOLV_FILE = "/run/hnb-inner-resolv.conf"
PROPOSALS = ["aes128gcm16-prfsha256-ecp256", "aes128-sha256-ecp256", "default"]
ESP_PROPOSALS = ["aes128gcm16-ecp256", "aes128gcm16", "default"]


class ResolveError(RuntimeError):
    pass


class TunnelError(RuntimeError):
    pass


class Resolver(aiohttp.abc.AbstractResolver):
    """Asks one DNS server (switchable), over UDP with a retry, for A records.
    Plugs into aiohttp so CWMP and file transfers resolve through it."""

    def __init__(self, server: str, events: EventLog, label: str = "outer",
                 tries: int = 3, timeout: float = 1.0) -> None:
        self.server = server
        self.label = label
        self.outer = server  # the factory (outer) DNS, kept for names reached outside
        self.outside: set[str] = set()  # names always asked at the outer DNS
        self.events = events
        self.tries = tries
        self.timeout = timeout

    def use(self, server: str, label: str) -> None:
        self.server, self.label = server, label

    def resolve_outside(self, name: str) -> None:
        """Ask the outer DNS for `name` even while a tunnel's inner DNS is in use (a
        serving HMS reached outside the tunnel, TS 32.583 5.2.1 step 2)."""
        self.outside.add(name.lower())

    async def lookup(self, name: str) -> str:
        with contextlib.suppress(ValueError):
            return str(ipaddress.IPv4Address(name))
        last = ""
        server, label = ((self.outer, "outer") if name.lower() in self.outside
                         else (self.server, self.label))
        for attempt in range(1, self.tries + 1):
            self.events.emit("dns.query", f"{name} A? ({label} DNS {server})",
                             peer=server, dir="out", msg="DNSQuery", qname=name,
                             server=server, dns=label, attempt=attempt)
            try:
                raw = await asyncio.to_thread(
                    DNSRecord.question(name, "A").send, server, 53, False, self.timeout)
            except (TimeoutError, OSError) as exc:
                last = f"no answer from {label} DNS {server} ({exc or 'timeout'})"
                await asyncio.sleep(0.2 * attempt)
                continue
            reply = DNSRecord.parse(raw)
            rcode = RCODE.get(reply.header.rcode)
            addrs = [str(rr.rdata) for rr in reply.rr if rr.rtype == QTYPE.A]
            self.events.emit("dns.answer", f"{name} -> {addrs[0] if addrs else rcode}",
                             peer=server, dir="in", msg="DNSResponse", qname=name,
                             rcode=rcode, answer=addrs[0] if addrs else None, dns=label)
            if addrs:
                return addrs[0]
            last = f"{name}: {rcode} from {label} DNS {server}"
            if rcode == "NXDOMAIN":
                break
        self.events.emit("dns.failed", last, peer=server, qname=name, reason=last)
        raise ResolveError(last)

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[dict[str, Any]]:
        addr = await self.lookup(host)
        return [{"hostname": host, "host": addr, "port": port, "family": socket.AF_INET,
                 "proto": 0, "flags": socket.AI_NUMERICHOST}]

    async def close(self) -> None:
        return None


@dataclass
class Tunnel:
    segw_fqdn: str
    segw_addr: str
    inner_addr: str
    inner_dns: str | None
    ike_name: str
    unique_id: str


class Tunnels:
    """IKEv2 to Security Gateways with the HNB's device certificate."""

    def __init__(self, identity: str, pki: dict[str, str], events: EventLog) -> None:
        self.identity = identity
        self.pki = {k: Path(v) for k, v in pki.items()}
        self.events = events
        self.current: Tunnel | None = None

    def load_credentials(self) -> None:
        charon.load_credentials(charon.session(), self.pki["ca"], self.pki["cert"],
                                self.pki["key"])

    async def establish(self, fqdn: str, addr: str, timeout: float = 10.0) -> Tunnel:
        name = "segw-" + re.sub(r"[^A-Za-z0-9]", "-", fqdn)
        conn = {name: {
            "version": "2", "remote_addrs": [addr], "vips": ["0.0.0.0"],
            "proposals": PROPOSALS,
            "local": {"auth": "pubkey", "id": self.identity,
                      "certs": [self.pki["cert"].read_bytes()]},
            # The SeGW must prove the name we dialled, under the operator root CA.
            "remote": {"auth": "pubkey", "id": fqdn, "cacerts": [self.pki["ca"].read_bytes()]},
            "children": {"mno": {"remote_ts": ["0.0.0.0/0"], "local_ts": ["dynamic"],
                                 "esp_proposals": ESP_PROPOSALS}},
        }}
        with contextlib.suppress(FileNotFoundError):
            Path(RESOLV_FILE).unlink()
        self.events.emit("ike.init", f"IKE_SA_INIT to {fqdn} ({addr})", peer=fqdn, dir="out",
                         msg="IKE_SA_INIT", segw=fqdn, outer=addr)
        t0 = time.monotonic()

        def initiate() -> None:
            s = charon.session()
            s.load_conn(conn)
            for _ in s.initiate({"child": "mno", "ike": name, "timeout": str(int(timeout * 1000)),
                                 "init-limits": "no"}):
                pass

        try:
            await asyncio.to_thread(initiate)
        except vici.exception.CommandException as exc:
            reason = _auth_reason() or str(exc)
            self.events.emit("ike.failed", f"IKE to {fqdn} failed: {reason}", peer=fqdn,
                             segw=fqdn, reason=reason)
            raise TunnelError(f"IKEv2 to {fqdn} ({addr}) failed: {reason}") from exc
        sa = next((s for s in charon.list_sas() if s["conn"] == name
                   and s.get("state") == "ESTABLISHED"), None)
        if sa is None:
            raise TunnelError(f"IKEv2 to {fqdn}: no established SA after initiate")
        vips = sa.get("local-vips", [])
        if not vips:
            raise TunnelError(f"IKEv2 to {fqdn}: the SeGW assigned no inner address")
        inner_dns = await _read_inner_dns()
        self.current = Tunnel(fqdn, addr, vips[0], inner_dns, name, sa["uniqueid"])
        self.events.emit("ike.up", f"tunnel to {fqdn} up: inner {vips[0]} dns {inner_dns}",
                         peer=fqdn, dir="in", msg="IKE_AUTH", segw=fqdn, outer=addr,
                         inner=vips[0], inner_dns=inner_dns, identity=self.identity,
                         setup_ms=round((time.monotonic() - t0) * 1000, 1))
        return self.current

    async def teardown(self) -> None:
        t = self.current
        if t is None:
            return
        self.current = None

        def terminate() -> None:
            s = charon.session()
            with contextlib.suppress(vici.exception.CommandException):
                for _ in s.terminate({"ike": t.ike_name, "timeout": "3000"}):
                    pass
            with contextlib.suppress(vici.exception.CommandException):
                s.unload_conn({"name": t.ike_name})

        await asyncio.to_thread(terminate)
        self.events.emit("ike.down", f"tunnel to {t.segw_fqdn} torn down", peer=t.segw_fqdn,
                         dir="out", msg="INFORMATIONAL", segw=t.segw_fqdn, inner=t.inner_addr)

    def current_inner(self) -> str | None:
        """The inner address charon holds now (None when no SA is up)."""
        if self.current is None:
            return None
        for sa in charon.list_sas():
            if sa["conn"] == self.current.ike_name and sa.get("state") == "ESTABLISHED":
                vips = sa.get("local-vips", [])
                return vips[0] if vips else None
        return None


async def _read_inner_dns(wait: float = 2.0) -> str | None:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            for line in Path(RESOLV_FILE).read_text().splitlines():
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "nameserver":
                    return parts[1]
        await asyncio.sleep(0.02)
    return None


_last_failure: list[str] = []


def _auth_reason() -> str | None:
    return _last_failure[-1] if _last_failure else None


def note_charon_log(label: str, data: dict[str, Any]) -> None:
    """Fed from the VICI log stream: keeps the last line that says why IKE failed."""
    msg = str(data.get("msg", ""))
    if re.search(r"AUTHENTICATION_FAILED|no trusted|constraint check failed|expired|"
                 r"not valid|no issuer|failed|retransmit|giving up|unreachable", msg, re.I):
        _last_failure.append(msg)
        del _last_failure[:-5]
