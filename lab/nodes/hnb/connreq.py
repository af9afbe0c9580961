"""The HNB's connection-request server (TR-069 3.2.2): an HTTP GET with Digest auth.

The ACS GETs Device.ManagementServer.ConnectionRequestURL; the HNB checks HTTP Digest
(RFC 7616, MD5 or SHA-256, qop=auth) against ConnectionRequestUsername/Password read
from the data model at request time, answers 200 with an empty body *before* it opens the
session, then asks the CWMP client for a session with "6 CONNECTION REQUEST".
A missing or wrong Authorization gets 401 with a fresh challenge (logged as an event);
too many requests in a window get 503 (TR-069 SHOULD rate-limit); anything else on the
port gets 404/405. The server keeps serving after any bad request.

Digest checking is lab.cwmp.digest.DigestVerifier (stateless nonces with a lifetime, a
growing nonce count so a captured request cannot be replayed); an expired nonce gets a
401 with stale=true so the ACS retries without asking its operator. Its nonce carries
its issue time and a random salt, so every challenge has a nonce of its own.
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from aiohttp import web

from lab.cwmp.digest import DigestVerifier
from lab.evidence.events import EventLog

MS = "Device.ManagementServer."


URL_PARAM = MS + "ConnectionRequestURL"

class ConnReqServer:
    """aiohttp server for connection requests; `on_request()` is called after each
    authenticated one (after the 200 is sent)."""

    def __init__(
        self,
        model: Any,
        on_request: Callable[[], None],
        events: EventLog,
        *,
        host: str = "0.0.0.0",
        port: int = 0,
        path: str | None = None,
        advertise_host: str | None = None,
        realm: str = "hnblab-cpe",
        nonce_ttl: float = 300.0,
        max_requests: int = 20,
        window_s: float = 10.0,
    ) -> None:
        self.model = model
        self.on_request = on_request
        self.events = events
        self.host = host
        self.port = port
        # TR-069: the path SHOULD be random so it is unique per CPE
        self.path = "/" + (path or secrets.token_hex(8)).lstrip("/")
        self.advertise_host = advertise_host
        self.realm = realm
        self.nonce_ttl = nonce_ttl
        self.max_requests = max_requests
        self.window_s = window_s
        self._verifier = DigestVerifier(realm=realm, credentials={}, nonce_ttl=nonce_ttl)
        self._recent: deque[float] = deque()
        self._runner: web.AppRunner | None = None
        self.accepted = 0
        self.rejected = 0

    @property
    def url(self) -> str:
        host = self.advertise_host or self.host
        if ":" in host:  # IPv6 literal
            host = f"[{host}]"
        return f"http://{host}:{self.port}{self.path}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        if self.port == 0 and server is not None and getattr(server, "sockets", None):
            self.port = server.sockets[0].getsockname()[1]
        self._publish()
        self.events.emit("connreq.listen", f"connection requests on {self.url}", url=self.url)

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()
            self._runner = None

    def set_advertised_host(self, host: str) -> None:
        """The address the ACS should use changed (e.g. a new inner IPsec address)."""
        self.advertise_host = host
        if self._runner:
            self._publish()

    def _publish(self) -> None:
        # a device-made change: the model raises the notification ConnectionRequestURL has
        self.model.set_internal(URL_PARAM, self.url)

    # ---- request handling ----------------------------------------------------------------

    def _deny(self, request: web.Request, reason: str, *, stale: bool = False) -> web.Response:
        self.rejected += 1
        self.events.emit("connreq.denied", f"connection request refused: {reason}",
                         peer=request.remote, dir="in", msg="ConnectionRequest",
                         status=401, reason=reason)
        return web.Response(status=401,
                            headers={"WWW-Authenticate": self._verifier.challenge(stale)})

    def _check(self, request: web.Request) -> tuple[bool, str, bool]:
        """(ok, why not, stale)."""
        user, password = self._credentials()
        # credentials are read per request: the ACS may have changed them by SPV
        self._verifier.credentials = {user: password} if user else {}
        got = self._verifier.verify(request.method, request.path_qs,
                                    request.headers.get("Authorization"))
        if got is None:
            why = self._verifier.last_error or "authentication failed"
            if not user:
                why += " (ConnectionRequestUsername is empty)"
            return False, why, why.startswith("nonce expired")
        return True, "", False

    def _credentials(self) -> tuple[str, str]:
        # model.get: the raw value (the password is hidden from GetParameterValues)
        return (self.model.get(MS + "ConnectionRequestUsername"),
                self.model.get(MS + "ConnectionRequestPassword"))

    def _rate_limited(self) -> bool:
        now = time.monotonic()
        while self._recent and now - self._recent[0] > self.window_s:
            self._recent.popleft()
        if len(self._recent) >= self.max_requests:
            return True
        self._recent.append(now)
        return False

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.path != self.path:
            return web.Response(status=404)
        if request.method != "GET":
            return web.Response(status=405, headers={"Allow": "GET"})
        try:
            ok, why, stale = self._check(request)
        except Exception as exc:  # a broken model must not kill the server
            self.events.emit("connreq.error", f"connection request check failed: {exc}",
                             peer=request.remote, error=str(exc))
            return web.Response(status=500)
        if not ok:
            # also the first leg of every Digest exchange (no Authorization yet): each
            # refusal is an event, so a wrong password shows in the evidence
            return self._deny(request, why, stale=stale)
        if self._rate_limited():
            self.events.emit("connreq.busy", "connection request refused: rate limit",
                             peer=request.remote, dir="in", msg="ConnectionRequest",
                             status=503)
            return web.Response(status=503, headers={"Retry-After": str(int(self.window_s))})
        self.accepted += 1
        self.events.emit("connreq.rx", "ConnectionRequest accepted", peer=request.remote,
                         dir="in", msg="ConnectionRequest", status=200)
        # answer first (TR-069: respond before starting the session), then trigger it
        resp = web.Response(status=200)
        await resp.prepare(request)
        await resp.write_eof()
        self.on_request()
        return resp
