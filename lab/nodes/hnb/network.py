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
from dnslib import QTYPE, RCODE, DNSError, DNSRecord

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
    Plugs into aiohttp so CWMP and file transfers resolve through it.

    Every way a lookup can go wrong ends in a ResolveError naming the name, the server and
    the attempts: no answer (retried), a garbled reply or one whose ID is not the query's
    (ignored, the wait for the real one goes on: a stray datagram must not end the lookup),
    SERVFAIL and the like (retried); NXDOMAIN or an answer without an A record is final."""

    def __init__(self, server: str, events: EventLog, label: str = "outer",
                 tries: int = 3, timeout: float = 1.0, port: int = 53) -> None:
        self.server = server
        self.label = label
        self.outer = server  # the factory (outer) DNS, kept for names reached outside
        self.outside: set[str] = set()  # names always asked at the outer DNS
        self.events = events
        self.tries = tries
        self.timeout = timeout
        self.port = port

    def use(self, server: str, label: str) -> None:
        self.server, self.label = server, label

    def resolve_outside(self, name: str) -> None:
        """Ask the outer DNS for `name` even while a tunnel's inner DNS is in use (a
        serving HMS reached outside the tunnel, TS 32.583 5.2.1 step 2)."""
        self.outside.add(name.lower())

    async def lookup(self, name: str) -> str:
        with contextlib.suppress(ValueError):
            return str(ipaddress.IPv4Address(name))
        server, label = ((self.outer, "outer") if name.lower() in self.outside
                         else (self.server, self.label))
        where = f"{label} DNS {server}" + (f":{self.port}" if self.port != 53 else "")
        last = ""
        attempt = 0
        for attempt in range(1, self.tries + 1):
            self.events.emit("dns.query", f"{name} A? ({where})",
                             peer=server, dir="out", msg="DNSQuery", qname=name,
                             server=server, dns=label, attempt=attempt)
            query = DNSRecord.question(name, "A")
            reply, ignored, why = await asyncio.to_thread(
                _exchange, server, self.port, query, self.timeout)
            for note in ignored:
                self.events.emit("dns.ignored", f"{name}: {note} from {where}", peer=server,
                                 dir="in", qname=name, dns=label, attempt=attempt, reason=note)
            if reply is None:
                last = why
                if attempt < self.tries:
                    await asyncio.sleep(0.2 * attempt)
                continue
            rcode = RCODE.get(reply.header.rcode)
            addrs = [str(rr.rdata) for rr in reply.rr if rr.rtype == QTYPE.A]
            self.events.emit("dns.answer", f"{name} -> {addrs[0] if addrs else rcode}",
                             peer=server, dir="in", msg="DNSResponse", qname=name,
                             rcode=rcode, answer=addrs[0] if addrs else None, dns=label)
            if addrs:
                return addrs[0]
            if rcode in ("NXDOMAIN", "NOERROR"):
                # An authoritative "no such name" / "no A record": asking again changes nothing.
                last = "NXDOMAIN" if rcode == "NXDOMAIN" else "NOERROR without an A record"
                break
            last = f"{rcode}"
            if attempt < self.tries:
                await asyncio.sleep(0.2 * attempt)
        reason = (f"cannot resolve {name} (A) at {where}: {last} "
                  f"(after {attempt} of {self.tries} attempt{'s' if self.tries > 1 else ''})")
        self.events.emit("dns.failed", reason, peer=server, qname=name, server=server,
                         dns=label, attempts=attempt, reason=reason)
        raise ResolveError(reason)

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[dict[str, Any]]:
        addr = await self.lookup(host)
        return [{"hostname": host, "host": addr, "port": port, "family": socket.AF_INET,
                 "proto": 0, "flags": socket.AI_NUMERICHOST}]

    async def close(self) -> None:
        return None


def _exchange(server: str, port: int, query: DNSRecord,
              timeout: float) -> tuple[DNSRecord | None, list[str], str]:
    """One UDP query: (the reply to it or None, datagrams ignored, why there is no reply).
    Blocking; run it in a thread. Datagrams that are not the reply to `query` (garbled, a
    wrong ID, not a response) are noted and the wait for the real reply goes on."""
    ignored: list[str] = []
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(server).version == 6 \
            else socket.AF_INET
    except ValueError:
        return None, ignored, f"DNS server {server!r} is not an IP address"
    qid = query.header.id
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        try:
            s.connect((server, port))  # a connected socket only hears from the server
            s.send(query.pack())
            deadline = time.monotonic() + timeout
            while (left := deadline - time.monotonic()) > 0:
                s.settimeout(left)
                try:
                    data = s.recv(65535)
                except TimeoutError:
                    break
                try:
                    reply = DNSRecord.parse(data)
                except DNSError as exc:
                    ignored.append(f"garbled reply ({len(data)} bytes: {exc})")
                    continue
                if reply.header.id != qid:
                    ignored.append(f"reply with ID {reply.header.id} to query ID {qid}")
                    continue
                if not reply.header.qr:
                    ignored.append(f"a query, not a reply (ID {qid})")
                    continue
                return reply, ignored, ""
        except OSError as exc:  # ICMP port unreachable, no route, ...
            return None, ignored, f"no answer ({exc.strerror or exc})"
    why = f"no answer within {timeout:g}s"
    if ignored:
        why += f" (ignored {len(ignored)} datagram(s): {ignored[-1]})"
    return None, ignored, why


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

        lines: list[str] = []  # this attempt's charon log (VICI control-log of initiate)

        def initiate() -> list[dict[str, Any]]:
            s = charon.session()
            s.load_conn(conn)
            for entry in s.initiate({"child": "mno", "ike": name,
                                     "timeout": str(int(timeout * 1000)),
                                     "init-limits": "no"}):
                lines.append(str(charon.decode(entry).get("msg", "")))
            return charon.list_sas()

        try:
            sas = await asyncio.to_thread(initiate)
        except vici.exception.CommandException as exc:
            reason = failure_reason(lines) or f"{exc} (charon logged no reason)"
            self.events.emit("ike.failed", f"IKE to {fqdn} failed: {reason}", peer=fqdn,
                             segw=fqdn, outer=addr, reason=reason)
            raise TunnelError(f"IKEv2 to {fqdn} ({addr}) failed: {reason}") from exc
        except (OSError, vici.exception.SessionException) as exc:
            raise TunnelError(f"IKEv2 to {fqdn}: the HNB's charon does not answer on VICI "
                              f"({exc})") from exc
        sa = next((s for s in sas if s["conn"] == name and s.get("state") == "ESTABLISHED"),
                  None)
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


# The HNB's table (lab.nodes.charon: the mechanism both ends share) of charon log lines
# that say why its IKE attempt failed. Matched against one attempt's own log only, so a
# reason never comes from an earlier attempt.
HNB_RULES: list[charon.Rule] = [
    charon.rule(r"received AUTHENTICATION_FAILED notify", "auth", "authentication failed: the "
                "SeGW refused our credentials (AUTHENTICATION_FAILED)"),
    charon.rule(r"certificate invalid \(valid from (.*)\)", "validity",
                r"certificate not valid now (valid from \1): expired or not yet valid"),
    charon.rule(r"no issuer certificate found for (.*)", "issuer", r"certificate untrusted: no "
                r"issuer certificate for \1 under the operator root CA"),
    # what an unknown issuer or an invalid certificate ends in: said only when nothing else is
    charon.rule(r"no trusted (\S+) public key found for '([^']*)'", "trust",
                r"certificate untrusted: no trusted \1 public key for '\2'", consequence=True),
    charon.rule(r"constraint check failed: (.*)", "identity", r"SeGW identity mismatch: \1"),
    charon.rule(r"no private key found for '([^']*)'", "key",
                r"no private key for our identity '\1'"),
    charon.rule(r"received NO_PROPOSAL_CHOSEN notify", "proposal", "no proposal chosen: the "
                "SeGW accepts none of our algorithms (NO_PROPOSAL_CHOSEN)"),
    charon.rule(r"received (TS_UNACCEPTABLE|INTERNAL_ADDRESS_FAILURE|FAILED_CP_REQUIRED) "
                r"notify", "child", r"the SeGW refused the CHILD_SA (\1)"),
    # "giving up after N retransmits" comes first; "... failed, peer not responding" follows
    charon.rule(r"giving up after (\d+) retransmits", "silent",
                r"peer not responding: no answer after \1 retransmits"),
    charon.rule(r"peer not responding", "silent", "peer not responding"),
    charon.rule(r"error writing to socket: (.*)", "send", r"cannot send to the SeGW: \1"),
]


def failure_reason(lines: list[str]) -> str | None:
    """Why one IKE attempt failed, from its charon log lines: the first reason of each kind,
    in the order they happened; None when no line says."""
    return charon.explain(lines, HNB_RULES)
