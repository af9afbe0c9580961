"""What the procedure tests (test_procedures_cwmp.py) run on: real HMS nodes
(`start_hms`) and real HNB management planes (`Hnb`) talking real HTTP on 127.0.0.1,
through a CWMP tap that records every message so the tests can check it against the
CWMP schemas. No mocks: the tap forwards bytes untouched.

`ProcLab` (the `proc` fixture) starts what a test asks for and stops all of it at teardown,
even when the test failed.
"""

from __future__ import annotations

import asyncio
import ssl
import sys
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
from aiohttp import web
from multidict import CIMultiDict

from lab.cwmp import envelope
from lab.evidence.events import Event, EventLog
from lab.nodes.common import NodeConfig
from lab.nodes.hms.server import HmsHandle, start_hms
from lab.nodes.hnb.device import Hnb
from lab.pki import CertPaths, Pki

sys.path.insert(0, str(Path(__file__).resolve().parents[2].parent / "shared" / "tools"))
import cwmp_xsd_check

T = TypeVar("T")

WAIT = 20.0  # upper bound on any wait (a hang fails instead of blocking); not a speed check
TOKEN = "proc-token"
OUI = "00A0B1"
MS = "Device.ManagementServer."
GATEWAY = "Device.Services.FAPService.1.FAPControl.UMTS.Gateway."
LAT = "Device.FAP.GPS.LockedLatitude"
LON = "Device.FAP.GPS.LockedLongitude"
# the HNB's factory connection-request credentials, and the ones the serving HMS provisions
FACTORY_CR = ("factory-cr", "factory-cr-pw")
HMS_CR = ("hms-cr", "hms-cr-pw")
FILES_USER, FILES_PW = "hnb", "files-pw"


# ---- the tap ---------------------------------------------------------------------------------


@dataclass
class Exchange:
    """One HTTP POST the tap forwarded: the CPE's bytes and the ACS's answer."""

    route: str
    request: bytes
    status: int
    response: bytes


class CwmpTap:
    """A reverse proxy in front of the ACSes: `route(name, target)` gives the URL the HNB
    uses (http://127.0.0.1:P/<name>/) and forwards to `target`. Cookies and auth headers
    pass through; each upstream request gets its own connection so the ACS never mixes
    two HNBs' requests on one keep-alive connection. While a target is down the tap
    answers 502, as an unreachable ACS would fail the session."""

    def __init__(self) -> None:
        self.targets: dict[str, str] = {}
        self.exchanges: list[Exchange] = []
        self.base = ""
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(force_close=True),
            cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False)
        app = web.Application(client_max_size=4 << 20)
        app.router.add_route("*", "/{route}/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()
        if self._http:
            await self._http.close()

    def route(self, name: str, target: str) -> str:
        self.targets[name] = target.rstrip("/")
        return f"{self.base}/{name}/"

    def messages(self, route: str | None = None) -> list[tuple[str, bytes]]:
        """Every CWMP envelope seen, both directions, as ("cpe"|"acs", bytes)."""
        out = []
        for x in self.exchanges:
            if route is not None and x.route != route:
                continue
            if x.request.strip():
                out.append(("cpe", x.request))
            if x.response.strip():
                out.append(("acs", x.response))
        return out

    async def _handle(self, request: web.Request) -> web.Response:
        route = request.match_info["route"]
        target = self.targets.get(route)
        if target is None:
            return web.Response(status=404, text=f"no route {route!r}\n")
        body = await request.read()
        headers = {k: request.headers[k] for k in
                   ("Content-Type", "SOAPAction", "Cookie", "Authorization")
                   if k in request.headers}
        assert self._http is not None
        try:
            async with self._http.request(request.method,
                                          f"{target}/{request.match_info['tail']}",
                                          data=body, headers=headers) as r:
                data = await r.read()
                out: CIMultiDict[str] = CIMultiDict()
                for k in ("Content-Type", "Set-Cookie", "WWW-Authenticate"):
                    for v in r.headers.getall(k, []):
                        out.add(k, v)
                status = r.status
        except (aiohttp.ClientError, OSError) as exc:
            return web.Response(status=502, text=f"tap: {route} unreachable: {exc}\n")
        self.exchanges.append(Exchange(route, body, status, data))
        return web.Response(status=status, body=data, headers=out)


def schema_problems(messages: Iterable[tuple[str, bytes]]) -> list[str]:
    """cwmp_xsd_check over every message; each problem names the message."""
    problems = []
    for i, (who, data) in enumerate(messages):
        for p in cwmp_xsd_check.check(data):
            problems.append(f"message {i} from {who}: {p}\n{data.decode(errors='replace')}")
    return problems


def message_names(messages: Iterable[tuple[str, bytes]]) -> list[str]:
    return [f"{who}:{envelope.msg_name(envelope.decode(data).body)}" for who, data in messages]


# ---- settings --------------------------------------------------------------------------------


def hms_settings(tmp: Path, node: str, **over: Any) -> dict[str, Any]:
    s: dict[str, Any] = {
        "role": "serving", "host": "127.0.0.1", "http_port": 0, "api_port": 0,
        "api_token": TOKEN, "state_dir": str(tmp / f"{node}-state"),
        "session_timeout": 30,
        "files": {"host": "127.0.0.1", "http_port": 0, "ftp_port": None, "sftp_port": None,
                  "user": FILES_USER, "password": FILES_PW, "auth_failed_delay": 0.1},
    }
    files = over.pop("files", None)
    s.update(over)
    if files:
        s["files"] = {**s["files"], **files}
    return s


def hnb_factory(url: str, serial: str, gps: tuple[float, float] | None,
                **extra: str) -> dict[str, str]:
    f = {
        MS + "URL": url,
        MS + "PeriodicInformEnable": "false",  # only the procedures open sessions
        MS + "ConnectionRequestUsername": FACTORY_CR[0],
        MS + "ConnectionRequestPassword": FACTORY_CR[1],
        "Device.DeviceInfo.SerialNumber": serial,
        "Device.DeviceInfo.ManufacturerOUI": OUI,
    }
    if gps is not None:  # TR-262 LockedLatitude/Longitude are micro-degrees
        f[LAT], f[LON] = str(round(gps[0] * 1e6)), str(round(gps[1] * 1e6))
    f.update(extra)
    return f


# ---- the lab ---------------------------------------------------------------------------------


@dataclass
class ProcLab:
    tmp: Path
    tap: CwmpTap
    hmses: list[HmsHandle] = field(default_factory=list)
    hnbs: list[Hnb] = field(default_factory=list)
    configs: dict[int, NodeConfig] = field(default_factory=dict)
    http: aiohttp.ClientSession | None = None
    _pki: Pki | None = None
    _cert: CertPaths | None = None

    # ---- nodes -------------------------------------------------------------------------------

    def pki(self) -> tuple[CertPaths, Path]:
        """The HMS certificate (for 127.0.0.1) and the operator root CA that signed it."""
        if self._pki is None:
            self._pki = Pki.create(self.tmp / "pki", "proc")
            self._cert = self._pki.issue_server("hms", dns=["localhost"], ips=["127.0.0.1"])
        assert self._cert is not None
        return self._cert, self._pki.ca_path

    def client_tls(self) -> ssl.SSLContext:
        _, ca = self.pki()
        return ssl.create_default_context(cafile=str(ca))

    async def hms(self, node: str, **over: Any) -> HmsHandle:
        """An HMS on free ports with the settings `over` (on top of hms_settings)."""
        cfg = NodeConfig.from_dict({
            "node": node, "role": "hms", "run_dir": str(self.tmp),
            "events": str(self.tmp / "events" / f"{node}.jsonl"),
            "settings": hms_settings(self.tmp, node, **over)})
        h = await start_hms(cfg)
        self.hmses.append(h)
        self.configs[id(h)] = cfg
        return h

    async def restart(self, old: HmsHandle) -> HmsHandle:
        """Stop `old` and start a new HMS on the same state_dir and the same ports."""
        cfg = self.configs[id(old)]
        await old.stop()
        s = dict(cfg.settings)
        s["http_port"], s["api_port"] = old.ports["cwmp"], old.ports["api"]
        new_cfg = NodeConfig.from_dict({**cfg.raw, "settings": s})
        h = await start_hms(new_cfg)
        self.hmses.append(h)
        self.configs[id(h)] = new_cfg
        return h

    async def hnb(self, url: str, serial: str = "HNB0001", *,
                  gps: tuple[float, float] | None = (48.8566, 2.3522),
                  time_scale: float = 0.0005, tls: bool = False, **extra: str) -> Hnb:
        """A started HNB whose factory ManagementServer.URL is `url`. time_scale shrinks
        the TR-069 retry waits (5-10 s, 10-20 s, ...) and the PM period timer."""
        hnb = Hnb(EventLog(serial), self.tmp / serial,
                  factory=hnb_factory(url, serial, gps, **extra), time_scale=time_scale,
                  ssl=self.client_tls() if tls else None, connreq_host="127.0.0.1",
                  http_timeout=10.0)
        await hnb.start()
        self.hnbs.append(hnb)
        return hnb

    def device_id(self, hnb: Hnb) -> str:
        return f"{OUI}-{hnb.serial}"

    # ---- operator API ------------------------------------------------------------------------

    async def api(self, h: HmsHandle, method: str, path: str, body: Any = None,
                  expect: int | Iterable[int] = (200, 201, 202)) -> Any:
        assert self.http is not None
        want = {expect} if isinstance(expect, int) else set(expect)
        async with self.http.request(method, h.urls["api"].removesuffix("/api") + path, json=body,
                                     headers={"Authorization": f"Bearer {TOKEN}"}) as r:
            data = await r.json()
            assert r.status in want, f"{method} {path}: HTTP {r.status} {data}"
            return data

    # ---- waiting -----------------------------------------------------------------------------

    async def until(self, probe: Callable[[], T | None], what: str,
                    timeout: float = WAIT) -> T:
        """Poll `probe` until it returns something truthy (a state reached by other tasks)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            got = probe()
            if got:
                return got
            if loop.time() > end:
                raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
            await asyncio.sleep(0.02)

    async def session(self, hnb: Hnb, events: Iterable[str] = (), *, after: int = 0,
                      ok: bool | None = True) -> Any:
        return await asyncio.wait_for(hnb.wait_session(events, after=after, ok=ok), WAIT)

    async def settled(self, h: HmsHandle, dev: str) -> None:
        """Until the device has no task queued or sent (done or failed, all of them)."""
        await self.until(lambda: not [t for t in h.store.list_tasks(dev)
                                      if t.state in ("queued", "sent")],
                         f"{dev}'s task queue to drain")

    async def quiet(self, hnb: Hnb) -> None:
        """Until the HNB is between sessions (every session it began has ended): the HMS
        finishes its last task before the HNB has recorded the session that carried it."""
        def between() -> bool:
            marks = [e.fields.get("state") for e in hnb.events.memory
                     if e.kind == "cwmp.session"]
            return marks.count("start") == marks.count("end")
        await self.until(between, f"{hnb.serial} between sessions")

    # ---- teardown ----------------------------------------------------------------------------

    async def close(self) -> None:
        errors: list[BaseException] = []
        for hnb in self.hnbs:
            try:
                await hnb.stop()
            except Exception as exc:  # keep stopping the rest
                errors.append(exc)
        for h in self.hmses:
            try:
                await h.stop()
            except Exception as exc:
                errors.append(exc)
        await self.tap.stop()
        if self.http:
            await self.http.close()
        if errors:
            raise errors[0]


def events_of(log: EventLog | HmsHandle, kind: str, **fields: Any) -> list[Event]:
    """Events of `kind` (a prefix when it ends with ".") whose fields match."""
    mem = log.ctx.events.memory if isinstance(log, HmsHandle) else log.memory
    return [e for e in mem
            if (e.kind.startswith(kind) if kind.endswith(".") else e.kind == kind)
            and all(e.fields.get(k) == v for k, v in fields.items())]


@pytest.fixture
async def proc(tmp_path: Path) -> AsyncIterator[ProcLab]:
    tap = CwmpTap()
    await tap.start()
    lab = ProcLab(tmp_path, tap, http=aiohttp.ClientSession())
    try:
        yield lab
    finally:
        await lab.close()
