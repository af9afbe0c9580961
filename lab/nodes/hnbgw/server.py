"""The HNB-GW stub: answers HNB REGISTER REQUEST on Iuh (TS 25.467 5.2.2, TS 25.469 8.2).

An HNB whose identity or PLMN matches the allowed list is accepted with the configured
RNC-ID; any other gets REJECT "unauthorised-HNB". Malformed HNBAP gets REJECT with the
protocol cause the decoder names ("transfer-syntax-error", ...) and the connection stays
up; a broken frame (see lab.hnbap) closes that connection only. The server keeps serving
in every case. Each HNBAP message in or out is an event "hnbap.rx" / "hnbap.tx" carrying
its IEs (lab.hnbap.ie_fields: plmn, cell_id, lac, rac, sac, csg_id, location; rnc_id; cause).
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging
from dataclasses import dataclass, field
from typing import Any

from lab.evidence.events import EventLog
from lab.hnbap import (
    IUH_PORT,
    PPID_HNBAP,
    FramingError,
    HnbapError,
    HnbapMessage,
    RegisterAccept,
    RegisterReject,
    RegisterRequest,
    decode,
    describe,
    encode,
    ie_fields,
    recv_pdu,
    send_pdu,
    start_iuh_server,
    transport_kind,
)

log = logging.getLogger(__name__)


class SettingsError(ValueError):
    """A bad HNB-GW setting (the message names it)."""


@dataclass
class Policy:
    """Who may register. `allowed` entries are shell-style patterns (fnmatch, case-
    insensitive) over the HNB identity, "*" admitting every HNB, or 5/6 digits naming a
    PLMN whose HNBs are all admitted. `overload_backoff` (seconds) makes the gateway refuse
    everyone with cause "overload" and that BackoffTimer (a negative-scenario knob)."""
    rnc_id: int
    allowed: list[str] = field(default_factory=list)
    overload_backoff: int | None = None

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> Policy:
        rnc = settings.get("rnc_id")
        if not isinstance(rnc, int) or isinstance(rnc, bool) or not 0 <= rnc <= 0xFFFF:
            raise SettingsError(f"settings.rnc_id={rnc!r}: expected an integer in 0..65535")
        if "allowed" not in settings:
            raise SettingsError('settings.allowed: missing (a list of HNB identities or PLMNs, '
                                'or "*" for any HNB)')
        allowed = settings["allowed"]
        if isinstance(allowed, str):
            allowed = [allowed]
        if not isinstance(allowed, list) or not all(isinstance(a, str) and a for a in allowed):
            raise SettingsError(f"settings.allowed={settings['allowed']!r}: expected a list of "
                                'non-empty strings or "*"')
        backoff = settings.get("overload_backoff")
        if backoff is not None and (not isinstance(backoff, int) or isinstance(backoff, bool)
                                    or not 0 <= backoff <= 3600):
            raise SettingsError(f"settings.overload_backoff={backoff!r}: expected seconds "
                                "in 0..3600")
        return cls(rnc_id=rnc, allowed=list(allowed), overload_backoff=backoff)

    def admits(self, req: RegisterRequest) -> bool:
        ident = req.identity.lower()
        for pattern in self.allowed:
            if pattern.isdigit() and len(pattern) in (5, 6):
                if pattern == req.plmn:
                    return True
            elif fnmatch.fnmatchcase(ident, pattern.lower()):
                return True
        return False

    def decide(self, req: RegisterRequest) -> RegisterAccept | RegisterReject:
        if self.overload_backoff is not None:
            return RegisterReject("overload", self.overload_backoff)
        if self.admits(req):
            return RegisterAccept(self.rnc_id)
        return RegisterReject("unauthorised-HNB")


class HnbGateway:
    """The Iuh listener. `start()`, then `port` is the bound port; `close()` stops it and
    drops every connection."""

    def __init__(self, policy: Policy, events: EventLog) -> None:
        self.policy = policy
        self.events = events
        self.transport = transport_kind()
        self.registered: dict[str, str] = {}   # identity -> peer address
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, host: str | None = "0.0.0.0", port: int = IUH_PORT) -> None:
        self._server = await start_iuh_server(self._handle, host, port)

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("HNB-GW is not listening")
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for w in list(self._writers):
            w.close()  # the handler sees end of stream and finishes
        if self._tasks:
            # Wait for handlers so none is cancelled mid-read when the loop shuts down.
            _, late = await asyncio.wait(list(self._tasks), timeout=5)
            for t in late:
                t.cancel()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    def _emit(self, kind: str, summary: str, peer: str, **fields: Any) -> None:
        self.events.emit(kind, summary, peer=peer, dir="in" if kind == "hnbap.rx" else "out",
                         transport=self.transport, **fields)

    async def _reply(self, writer: asyncio.StreamWriter, peer: str, msg: HnbapMessage,
                     identity: str | None) -> None:
        await send_pdu(writer, PPID_HNBAP, encode(msg))
        self._emit("hnbap.tx", describe(msg), peer, msg=msg.msg_name, identity=identity,
                   **ie_fields(msg))

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        addr = writer.get_extra_info("peername")
        peer = f"{addr[0]}:{addr[1]}" if isinstance(addr, tuple) else str(addr)
        self._writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        mine: set[str] = set()
        try:
            while True:
                try:
                    got = await recv_pdu(reader)
                except FramingError as exc:
                    self._emit("hnbap.rx", f"broken Iuh frame: {exc}", peer, msg="malformed",
                               identity=None, error=str(exc))
                    break
                if got is None:
                    break
                ppid, data = got
                if ppid != PPID_HNBAP:
                    # The stub speaks HNBAP only; RUA (19) and others are noted and dropped.
                    self.events.emit("iuh.ignored", f"payload with PPID {ppid} ignored",
                                     peer=peer, ppid=ppid, length=len(data),
                                     transport=self.transport)
                    continue
                await self._on_hnbap(writer, peer, data, mine)
        except (ConnectionError, OSError) as exc:
            log.info("Iuh connection from %s ended: %s", peer, exc)
        except Exception:
            log.exception("Iuh connection from %s failed; the server keeps serving", peer)
        finally:
            for ident in mine:
                if self.registered.get(ident) == peer:
                    del self.registered[ident]
            self._writers.discard(writer)
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await writer.wait_closed()

    async def _on_hnbap(self, writer: asyncio.StreamWriter, peer: str, data: bytes,
                        mine: set[str]) -> None:
        try:
            msg = decode(data)
        except HnbapError as exc:
            self._emit("hnbap.rx", f"malformed HNBAP: {exc}", peer, msg="malformed",
                       identity=None, error=str(exc), cause=exc.cause)
            await self._reply(writer, peer, RegisterReject(exc.cause), None)
            return
        identity = msg.identity if isinstance(msg, RegisterRequest) else None
        # the received IEs go into the event: what the HNB built from its data model
        self._emit("hnbap.rx", describe(msg), peer, msg=msg.msg_name, identity=identity,
                   **ie_fields(msg))
        if not isinstance(msg, RegisterRequest):
            # An HNB never sends ACCEPT/REJECT; answer as TS 25.469 does for a wrong message.
            await self._reply(writer, peer,
                              RegisterReject("message-not-compatible-with-receiver-state"), None)
            return
        answer = self.policy.decide(msg)
        if isinstance(answer, RegisterAccept):
            self.registered[msg.identity] = peer
            mine.add(msg.identity)
        await self._reply(writer, peer, answer, msg.identity)
