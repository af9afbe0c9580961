"""Helpers for the HMS tests: an HMS started in-process on 127.0.0.1 port 0, and a small
scripted CPE (the codec + an aiohttp client, not a full HNB) that checks every message
the HMS sends against the CWMP schemas."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from lab.cwmp import envelope as E
from lab.cwmp import rpc
from lab.nodes.common import NodeConfig
from lab.nodes.hms.server import HmsHandle, start_hms

sys.path.insert(0, str(Path(__file__).resolve().parents[2].parent / "shared" / "tools"))
import cwmp_xsd_check

TOKEN = "test-token"
OUI = "00005A"


def base_settings(tmp: Path, **over: Any) -> dict[str, Any]:
    s: dict[str, Any] = {
        "role": "serving", "host": "127.0.0.1", "http_port": 0, "api_port": 0,
        "api_token": TOKEN, "state_dir": str(tmp / "hms-state"),
        "files": {"host": "127.0.0.1", "http_port": 0, "ftp_port": None, "sftp_port": None,
                  "user": "hnb", "password": "files-pw"},
    }
    files_over = over.pop("files", None)
    s.update(over)
    if files_over:
        s["files"] = {**s["files"], **files_over}
    return s


def node_config(tmp: Path, settings: dict[str, Any], node: str = "hms") -> NodeConfig:
    return NodeConfig.from_dict({"node": node, "role": "hms", "run_dir": str(tmp),
                                 "events": str(tmp / "events" / f"{node}.jsonl"),
                                 "settings": settings})


@pytest.fixture
async def hms_factory(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[HmsHandle]]]:
    """start(**settings overrides) -> a running HMS; all stopped at teardown."""
    handles: list[HmsHandle] = []

    async def start(node: str = "hms", **over: Any) -> HmsHandle:
        h = await start_hms(node_config(tmp_path, base_settings(tmp_path, **over), node))
        handles.append(h)
        return h

    yield start
    for h in handles:
        await h.stop()


def kinds(h: HmsHandle, prefix: str) -> list[Any]:
    return [e for e in h.ctx.events.memory if e.kind.startswith(prefix)]


class Reply:
    """One HTTP exchange as the CPE saw it."""

    def __init__(self, status: int, raw: bytes, env: E.Envelope | None) -> None:
        self.status, self.raw, self.env = status, raw, env

    @property
    def body(self) -> Any:
        return self.env.body if self.env else None


class Cpe:
    """A scripted CPE. `answer` is its tiny device: a dict of parameter values."""

    def __init__(self, url: str, serial: str = "SER0001", *, ns: str = E.NS_1_1,
                 oui: str = OUI, cookies: bool = True, ssl: Any = True,
                 middlewares: tuple[Any, ...] = ()) -> None:
        self.url, self.serial, self.ns, self.oui = url, serial, ns, oui
        self.cookies, self.ssl, self.middlewares = cookies, ssl, middlewares
        self.values: dict[str, str] = {}
        self.requests: list[Any] = []  # every ACS request seen
        self.fail: dict[str, rpc.Fault] = {}  # RPC name -> the Fault to answer with
        self._n = 0
        self.http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Cpe:
        jar = aiohttp.CookieJar(unsafe=True) if self.cookies else aiohttp.DummyCookieJar()
        self.http = aiohttp.ClientSession(cookie_jar=jar, middlewares=self.middlewares)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self.http is not None
        await self.http.close()

    @property
    def device_id(self) -> str:
        return f"{self.oui}-{self.serial}"

    def new_session(self) -> None:
        assert self.http is not None
        self.http.cookie_jar.clear()

    async def post_raw(self, data: bytes, headers: dict[str, str] | None = None) -> Reply:
        assert self.http is not None
        async with self.http.post(self.url, data=data, ssl=self.ssl, headers=headers or {
                "Content-Type": 'text/xml; charset="utf-8"'}) as r:
            raw = await r.read()
            env = None
            if raw and r.content_type == "text/xml":
                problems = cwmp_xsd_check.check(raw)
                assert not problems, f"HMS sent invalid CWMP: {problems}\n{raw.decode()}"
                env = E.decode(raw, fault_base=9000)
            return Reply(r.status, raw, env)

    async def post(self, body: Any, id: str | None = None) -> Reply:
        if body is None:
            return await self.post_raw(b"")
        if id is None:
            self._n += 1
            id = f"cpe-{self._n}"
        return await self.post_raw(E.encode(body, ns=self.ns, id=id))

    def inform_msg(self, events: list[str], params: dict[str, str] | None = None,
                   command_key: str = "") -> rpc.Inform:
        return rpc.Inform(
            device_id=rpc.DeviceId("hnblab", self.oui, "HNB", self.serial),
            events=[rpc.EventStruct(e, command_key if e.startswith("M ") else "")
                    for e in events],
            current_time="2026-12-03T12:00:00Z",
            parameters=[rpc.ParameterValue(k, v) for k, v in (params or {}).items()])

    async def inform(self, events: list[str], params: dict[str, str] | None = None) -> Reply:
        self.new_session()
        return await self.post(self.inform_msg(events, params))

    def answer(self, req: Any) -> Any:
        self.requests.append(req)
        name = type(req).__name__
        if name in self.fail:
            return self.fail[name]
        if isinstance(req, rpc.SetParameterValues):
            for p in req.parameters:
                self.values[p.name] = p.value
            return rpc.SetParameterValuesResponse(0)
        if isinstance(req, rpc.GetParameterValues):
            out = [rpc.ParameterValue(k, v) for k, v in self.values.items()
                   if any(k == n or (n.endswith(".") and k.startswith(n)) for n in req.names)]
            return rpc.GetParameterValuesResponse(out)
        if isinstance(req, rpc.Download):
            return rpc.DownloadResponse(1)
        if isinstance(req, rpc.Upload):
            return rpc.UploadResponse(1)
        if isinstance(req, rpc.FactoryReset):
            return rpc.FactoryResetResponse()
        if isinstance(req, rpc.Reboot):
            return rpc.RebootResponse()
        if isinstance(req, rpc.AddObject):
            return rpc.AddObjectResponse(instance_number=2)
        return rpc.Fault(9000, f"method not supported: {name}")

    async def session(self, events: list[str], params: dict[str, str] | None = None, *,
                      cpe_requests: list[Any] | None = None, limit: int = 20) -> list[Any]:
        """Inform, the CPE's own requests, empty POST, then answer every ACS request until
        the HMS ends the session with 204. Returns the ACS requests of this session."""
        r = await self.inform(events, params)
        assert r.status == 200 and isinstance(r.body, rpc.InformResponse), (r.status, r.raw)
        for req in cpe_requests or []:
            r = await self.post(req)
            assert r.status == 200, (r.status, r.raw)
        seen: list[Any] = []
        r = await self.post(None)
        for _ in range(limit):
            if r.status == 204:
                assert r.raw == b""
                return seen
            assert r.status == 200 and r.env is not None, (r.status, r.raw)
            seen.append(r.body)
            r = await self.post(self.answer(r.body), id=r.env.id)
        raise AssertionError(f"session did not end after {limit} requests: {seen}")
