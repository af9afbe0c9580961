"""An authoritative DNS server for one zone of the topology (dnslib, UDP and TCP).

Answers A queries for the zone's names with the AA bit; NXDOMAIN for names it does not
hold; an empty NOERROR for other types of a name it holds. Every query is an event
"dns.query" with the question, the answer and the client's address.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping

from dnslib import QTYPE, RCODE, RR, A, DNSRecord
from dnslib.server import BaseResolver, DNSLogger, DNSServer

from lab.evidence.events import EventLog

log = logging.getLogger(__name__)
TTL = 60


class ZoneResolver(BaseResolver):
    def __init__(self, zone: str, records: Mapping[str, str], events: EventLog,
                 peers: Mapping[str, str] | None = None) -> None:
        self.zone = zone
        self.records = {k.rstrip(".").lower(): str(ipaddress.IPv4Address(v))
                        for k, v in records.items()}
        self.events = events
        self.peers = dict(peers or {})

    def resolve(self, request: DNSRecord, handler: object) -> DNSRecord:
        reply = request.reply()  # sets QR and copies the question and id
        reply.header.aa = 1
        q = request.q
        qname = str(q.qname).rstrip(".").lower()
        qtype = QTYPE.get(q.qtype, str(q.qtype))
        addr = self.records.get(qname)
        if addr is None:
            reply.header.rcode = RCODE.NXDOMAIN
        elif q.qtype in (QTYPE.A, QTYPE.ANY):
            reply.add_answer(RR(q.qname, QTYPE.A, rdata=A(addr), ttl=TTL))
        client = handler.client_address[0] if hasattr(handler, "client_address") else "?"
        proto = getattr(handler, "protocol", "udp")
        rcode = RCODE.get(reply.header.rcode)
        self.events.emit(
            "dns.query", f"{qname} {qtype} -> {addr if addr else rcode}",
            peer=self.peers.get(client, client), dir="in", msg="DNSQuery", qname=qname,
            qtype=qtype, rcode=rcode, answer=addr if q.qtype in (QTYPE.A, QTYPE.ANY) else None,
            client=client, transport=proto, zone=self.zone)
        return reply


class _QuietLogger(DNSLogger):
    # dnslib prints every packet to stdout by default; our events already say it all.
    def __init__(self) -> None:
        super().__init__(log="-request,-reply,-truncated,-data,-recv,-send", prefix=False)

    def log_error(self, handler: object, e: Exception) -> None:
        log.warning("malformed DNS packet ignored: %s", e)


def serve(resolver: ZoneResolver, address: str, port: int = 53) -> list[DNSServer]:
    servers = [DNSServer(resolver, address=address, port=port, tcp=tcp, logger=_QuietLogger())
               for tcp in (False, True)]
    for s in servers:
        s.start_thread()
    return servers
