"""Assembles the HMS in one process: store, ACS (HTTP/HTTPS), operator API, file server
(HTTP/HTTPS, FTP/FTPS, SFTP). `start_hms` is also the in-process entry tests use.

The HTTP(S) file server can be taken off the air and brought back by the operator
(FileOutage, API /api/files/outage): a file-server outage the HNB's PM backlog must ride
out (TS 32.583 5.6.2)."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from dataclasses import dataclass, field
from typing import Any

import asyncssh
from aiohttp import web

from lab.nodes.common import NodeConfig, signal_ready
from lab.nodes.hms.acs import Acs
from lab.nodes.hms.api import Api
from lab.nodes.hms.context import HmsContext
from lab.nodes.hms.fileserver import FileArea, FtpServers, HttpFiles, start_sftp, tls_context
from lab.nodes.hms.settings import HmsSettings
from lab.nodes.hms.store import Store

log = logging.getLogger(__name__)


class FileOutage:
    """Takes the HTTP/HTTPS file server listeners down and up again on the same ports.
    Down, the listening socket is closed: a client's connection is refused, as when the
    file server's host is down. The ACS and the API keep running."""

    TRANSPORTS = ("http", "https")

    def __init__(self, ctx: HmsContext) -> None:
        self.ctx = ctx
        self.runner: web.AppRunner | None = None
        self._where: dict[str, tuple[str, int, ssl.SSLContext | None]] = {}
        self._sites: dict[str, web.SockSite] = {}
        self.down: set[str] = set()

    @property
    def transports(self) -> list[str]:
        return sorted(self._where)

    async def add(self, transport: str, host: str, sock: socket.socket,
                  tls: ssl.SSLContext | None) -> None:
        assert self.runner is not None
        self._where[transport] = (host, sock.getsockname()[1], tls)
        site = web.SockSite(self.runner, sock, ssl_context=tls)
        await site.start()
        self._sites[transport] = site

    async def set(self, transports: list[str], down: bool) -> list[str]:
        """Take `transports` down (or bring them up); the transports now down. ValueError
        names a transport this file server does not serve over HTTP(S)."""
        for t in transports:
            if t not in self._where:
                raise ValueError(f"transport {t!r}: the outage control covers "
                                 f"{', '.join(self.transports) or 'no listener'} (HTTP(S) "
                                 "file server listeners of this HMS)")
        changed = []
        for t in transports:
            # the state changes before each await: two requests at once must not both act
            if down and t not in self.down:
                site = self._sites.pop(t)
                self.down.add(t)
                changed.append(t)
                await site.stop()
            elif not down and t in self.down:
                self.down.discard(t)
                host, port, tls = self._where[t]
                try:
                    site = web.SockSite(self.runner, _listen(host, port), ssl_context=tls)
                    await site.start()
                except BaseException:
                    self.down.add(t)  # still down: say so, and let the error be seen
                    raise
                self._sites[t] = site
                changed.append(t)
        if changed:
            ports = {t: self._where[t][1] for t in changed}
            self.ctx.emit("file.outage", f"file server {', '.join(changed)} "
                          f"{'down (listener closed)' if down else 'up again'}",
                          state="down" if down else "up", transports=changed, ports=ports)
        return sorted(self.down)


@dataclass
class HmsHandle:
    ctx: HmsContext
    acs: Acs
    area: FileArea
    ports: dict[str, int]  # "cwmp", "cwmps", "api", "files_http", "files_https", "ftp", ...
    outage: FileOutage
    _runners: list[web.AppRunner] = field(default_factory=list)
    _ftp: FtpServers | None = None
    _sftp: asyncssh.SSHAcceptor | None = None
    _stopped: bool = False

    @property
    def store(self) -> Store:
        return self.ctx.store

    @property
    def urls(self) -> dict[str, str]:
        return self.ctx.urls

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        try:
            if self._sftp is not None:
                self._sftp.close()
                await self._sftp.wait_closed()
            if self._ftp is not None:
                await asyncio.to_thread(self._ftp.stop)
            for r in self._runners:
                await r.cleanup()
        finally:
            try:
                self.ctx.store.close()
            finally:
                self.ctx.events.close()  # last: stopping emits events too


def _listen(host: str, port: int) -> socket.socket:
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=fam, reuse_port=False)


async def _serve(app: web.Application, socks: list[tuple[socket.socket, ssl.SSLContext | None]],
                 ) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
    await runner.setup()
    for sock, ctx in socks:
        # a stop waits at most 5 s for requests in flight (a CWMP exchange is short)
        await web.SockSite(runner, sock, ssl_context=ctx).start()
    return runner


def _url_host(config: NodeConfig, host: str) -> str:
    if host not in ("0.0.0.0", "::", ""):
        return f"[{host}]" if ":" in host else host
    addrs = list(config.addresses.values())
    return addrs[0] if addrs else "127.0.0.1"


async def start_hms(config: NodeConfig) -> HmsHandle:
    """Start every listener of the settings (port 0 = any free port; None = off) and emit
    node.ready with the bound ports. Raises SettingsError on bad settings."""
    s = HmsSettings.from_dict(config.settings, config.run_dir, config.node)
    s.state_dir.mkdir(parents=True, exist_ok=True)
    store = Store.open(s.state_dir / "hms.sqlite3")
    ctx = HmsContext(node=config.node, settings=s, store=store, events=config.events())
    area = FileArea(s.state_dir / "files", ctx)
    acs = Acs(ctx, area, hold_requests=s.hold_requests)
    handle = HmsHandle(ctx=ctx, acs=acs, area=area, ports={}, outage=FileOutage(ctx))
    try:
        await _start_listeners(handle, config, s)
    except BaseException:
        await handle.stop()
        raise
    signal_ready(ctx.events, role=s.role, ports=handle.ports, urls=ctx.urls)
    return handle


async def _start_listeners(h: HmsHandle, config: NodeConfig, s: HmsSettings) -> None:
    ctx, area, f = h.ctx, h.area, s.files
    tls = tls_context(s.tls_cert, s.tls_key) if s.tls_cert and s.tls_key else None
    host = _url_host(config, s.host)
    fhost = _url_host(config, f.host)

    # ACS
    cwmp = web.Application(client_max_size=s.max_body)
    cwmp.router.add_route("*", "/{tail:.*}", h.acs.handle)
    socks: list[tuple[socket.socket, ssl.SSLContext | None]] = []
    if s.http_port is not None:
        sock = _listen(s.host, s.http_port)
        h.ports["cwmp"] = sock.getsockname()[1]
        ctx.urls["cwmp"] = f"http://{host}:{h.ports['cwmp']}/"
        socks.append((sock, None))
    if s.https_port is not None and tls is not None:
        sock = _listen(s.host, s.https_port)
        h.ports["cwmps"] = sock.getsockname()[1]
        ctx.urls["cwmps"] = f"https://{host}:{h.ports['cwmps']}/"
        socks.append((sock, tls))
    if socks:
        h._runners.append(await _serve(cwmp, socks))

    # operator API
    if s.api_port is not None:
        sock = _listen(s.host, s.api_port)
        h.ports["api"] = sock.getsockname()[1]
        ctx.urls["api"] = f"http://{host}:{h.ports['api']}/api"
        h._runners.append(await _serve(Api(ctx, area, h.outage).app(), [(sock, None)]))

    # file server: HTTP(S), each listener under the outage control
    socks = []
    if f.http_port is not None:
        sock = _listen(f.host, f.http_port)
        h.ports["files_http"] = sock.getsockname()[1]
        ctx.urls["files_http"] = f.public_http or f"http://{fhost}:{h.ports['files_http']}"
        socks.append(("http", sock, None))
    if f.https_port is not None:
        if tls is None:
            raise ValueError("settings.files.https_port needs settings.tls_cert and tls_key")
        sock = _listen(f.host, f.https_port)
        h.ports["files_https"] = sock.getsockname()[1]
        ctx.urls["files_https"] = f"https://{fhost}:{h.ports['files_https']}"
        socks.append(("https", sock, tls))
    if socks:
        runner = web.AppRunner(HttpFiles(area, f.user, f.password, f.max_upload).app(),
                               access_log=None, shutdown_timeout=5.0)
        await runner.setup()
        h._runners.append(runner)
        h.outage.runner = runner
        for transport, sock, ctx_tls in socks:
            await h.outage.add(transport, f.host, sock, ctx_tls)

    # file server: FTP / FTPS
    if f.ftp_port is not None or f.ftps_port is not None:
        h._ftp = FtpServers(area, host=f.host, user=f.user, password=f.password,
                            ftp_port=f.ftp_port, ftps_port=f.ftps_port, certfile=s.tls_cert,
                            keyfile=s.tls_key, passive_ports=f.passive_ports,
                            masquerade=f.masquerade_address,
                            auth_failed_delay=f.auth_failed_delay)
        h._ftp.start()
        for t, p in h._ftp.ports.items():
            h.ports[t] = p
            ctx.urls[f"files_{t}"] = (f.public_ftp if t == "ftp" and f.public_ftp
                                      else f"{t}://{fhost}:{p}")

    # file server: SFTP
    if f.sftp_port is not None:
        h._sftp = await start_sftp(area, host=f.host, port=f.sftp_port, user=f.user,
                                   password=f.password, state_dir=s.state_dir)
        h.ports["sftp"] = h._sftp.get_port()
        ctx.urls["files_sftp"] = f.public_sftp or f"sftp://{fhost}:{h.ports['sftp']}"


def describe(h: HmsHandle) -> dict[str, Any]:
    return {"ports": h.ports, "urls": h.ctx.urls}
