"""The HNB's resolver against a real UDP responder on 127.0.0.1: garbage, a wrong ID,
NXDOMAIN, SERVFAIL and silence all end in a clear ResolveError (or in the real answer
when it comes after the noise), never in a stray dnslib exception."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from dnslib import QTYPE, RCODE, RR, A, DNSRecord

from lab.evidence.events import EventLog
from lab.nodes.hnb.network import ResolveError, Resolver

NAME = "segw-initial.operator.example"
ADDR = "198.51.100.10"

# A behaviour maps (query, how many queries so far) to the datagrams sent back.
Behaviour = Callable[[DNSRecord, int], list[bytes]]


def answer(q: DNSRecord) -> bytes:
    r = q.reply()
    r.add_answer(RR(str(q.q.qname), QTYPE.A, rdata=A(ADDR), ttl=60))
    return r.pack()


def rcode(q: DNSRecord, code: str) -> bytes:
    r = q.reply()
    r.header.rcode = getattr(RCODE, code)
    return r.pack()


def wrong_id(q: DNSRecord) -> bytes:
    r = DNSRecord.parse(answer(q))
    r.header.id = (q.header.id + 1) & 0xFFFF
    return r.pack()


class Responder(asyncio.DatagramProtocol):
    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.queries: list[DNSRecord] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        q = DNSRecord.parse(data)
        self.queries.append(q)
        assert self.transport is not None
        for out in self.behaviour(q, len(self.queries)):
            self.transport.sendto(out, addr)


Serve = Callable[[Behaviour], Awaitable[tuple[int, Responder]]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Start responders on 127.0.0.1 (an ephemeral port each); closed after the test."""
    transports: list[asyncio.BaseTransport] = []

    async def start(behaviour: Behaviour) -> tuple[int, Responder]:
        r = Responder(behaviour)
        t, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: r, local_addr=("127.0.0.1", 0))
        transports.append(t)
        return int(t.get_extra_info("sockname")[1]), r

    try:
        yield start
    finally:
        for t in transports:
            t.close()


async def _resolver(serve: Serve, behaviour: Behaviour,
                    tries: int = 3) -> tuple[Resolver, Responder]:
    port, r = await serve(behaviour)
    return Resolver("127.0.0.1", EventLog("hnb"), "outer", tries=tries, timeout=0.3,
                    port=port), r


def _kinds(res: Resolver) -> list[str]:
    return [e.kind for e in res.events.memory]


async def test_answer(serve: Serve) -> None:
    res, srv = await _resolver(serve, lambda q, n: [answer(q)])
    assert await res.lookup(NAME) == ADDR
    assert _kinds(res) == ["dns.query", "dns.answer"]
    assert str(srv.queries[0].q.qname).rstrip(".") == NAME


async def test_garbage_only_is_a_resolve_error_naming_server_name_and_attempts(
        serve: Serve) -> None:
    res, srv = await _resolver(serve, lambda q, n: [b"\xff" * 40], tries=2)
    with pytest.raises(ResolveError) as err:
        await res.lookup(NAME)
    msg = str(err.value)
    assert NAME in msg and "127.0.0.1" in msg and "garbled reply" in msg
    assert "after 2 of 2 attempts" in msg
    assert len(srv.queries) == 2  # each attempt asked again
    failed = [e for e in res.events.memory if e.kind == "dns.failed"]
    assert len(failed) == 1 and failed[0].fields["attempts"] == 2
    assert failed[0].fields["qname"] == NAME and failed[0].peer == "127.0.0.1"
    assert _kinds(res).count("dns.ignored") == 2


async def test_garbage_then_the_real_reply_in_the_same_attempt(
        serve: Serve) -> None:
    res, srv = await _resolver(serve, lambda q, n: [b"not dns at all", answer(q)])
    assert await res.lookup(NAME) == ADDR
    assert len(srv.queries) == 1
    assert "dns.ignored" in _kinds(res)


async def test_a_reply_with_the_wrong_id_is_not_taken(
        serve: Serve) -> None:
    res, _ = await _resolver(serve, lambda q, n: [wrong_id(q)], tries=1)
    with pytest.raises(ResolveError, match=r"reply with ID \d+ to query ID \d+"):
        await res.lookup(NAME)
    assert "dns.answer" not in _kinds(res)


async def test_wrong_id_then_right_id(serve: Serve) -> None:
    res, _ = await _resolver(serve, lambda q, n: [wrong_id(q), answer(q)])
    assert await res.lookup(NAME) == ADDR


async def test_nxdomain_is_final_and_reported(serve: Serve) -> None:
    res, srv = await _resolver(serve, lambda q, n: [rcode(q, "NXDOMAIN")])
    with pytest.raises(ResolveError) as err:
        await res.lookup(NAME)
    assert "NXDOMAIN" in str(err.value) and "after 1 of 3 attempts" in str(err.value)
    assert len(srv.queries) == 1


async def test_servfail_is_retried(serve: Serve) -> None:
    res, srv = await _resolver(
        serve, lambda q, n: [rcode(q, "SERVFAIL")] if n == 1 else [answer(q)])
    assert await res.lookup(NAME) == ADDR
    assert len(srv.queries) == 2


async def test_silence_is_retried_then_reported(serve: Serve) -> None:
    res, srv = await _resolver(serve, lambda q, n: [])
    with pytest.raises(ResolveError) as err:
        await res.lookup(NAME)
    msg = str(err.value)
    assert "no answer within 0.3s" in msg and "after 3 of 3 attempts" in msg
    assert NAME in msg and "outer DNS 127.0.0.1" in msg
    assert len(srv.queries) == 3


async def test_nobody_listening() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    res = Resolver("127.0.0.1", EventLog("hnb"), tries=2, timeout=0.3, port=port)
    with pytest.raises(ResolveError, match="after 2 of 2 attempts"):
        await res.lookup(NAME)


async def test_an_ip_literal_needs_no_query() -> None:
    res = Resolver("127.0.0.1", EventLog("hnb"), port=9)
    assert await res.lookup("192.0.2.7") == "192.0.2.7"
    assert not res.events.memory
