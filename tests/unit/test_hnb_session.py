"""The HNB's CWMP client against a tiny scripted ACS written here (not the real HMS).

Also holds the helpers the other test_hnb_* files use: ScriptedAcs (canned CWMP answers
through the codec, every CPE message checked with cwmp_xsd_check), FileServer (HTTP GET/PUT
with optional Digest), running_hnb (an Hnb on loopback, stopped even on failure).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import ssl
import sys
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from lab.cwmp import envelope, rpc
from lab.cwmp.digest import DigestVerifier
from lab.evidence.events import EventLog
from lab.nodes.hnb.cwmp_client import CwmpClient
from lab.nodes.hnb.device import Hnb

sys.path.insert(0, str(Path(__file__).resolve().parents[2].parent / "shared" / "tools"))
import cwmp_xsd_check

WAIT = 10.0  # generous bound on waits; nothing here measures speed
NS = envelope.NS_1_1
MS = "Device.ManagementServer."


# ---- scripted ACS -------------------------------------------------------------------------


@dataclass
class Step:
    """One ACS request to send (or raw bytes), with its header options."""

    body: Any = None
    id: str | None = None
    hold: bool | None = None
    raw: bytes | None = None


@dataclass
class AcsSession:
    index: int
    inform: rpc.Inform
    script: deque[Any]
    received: list[Any] = field(default_factory=list)  # CPE messages (body or None)
    received_ids: list[str | None] = field(default_factory=list)
    cookies: list[str | None] = field(default_factory=list)  # cookie on each POST after Inform
    answers: dict[str, Any] = field(default_factory=dict)  # our request id -> CPE answer
    failed: bool = False
    done: bool = False
    ns: str = NS

    def names(self) -> list[str]:
        return [envelope.msg_name(b) for b in self.received]


class ScriptedAcs:
    """Answers Inform, TransferComplete; after the CPE's empty POST plays the next planned
    session's steps, then 204. `fail_informs` answers that many Informs with HTTP 500."""

    def __init__(self) -> None:
        self.sessions: list[AcsSession] = []
        self.plans: deque[list[Any]] = deque()
        self.fail_informs = 0
        self.hold_on_inform = False
        self.auth: DigestVerifier | None = None  # when set, every POST needs Digest
        self.auth_users: list[str] = []
        self.basic: str | None = None  # when set, every POST needs this Basic header
        self.problems: list[str] = []
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._cond = asyncio.Condition()
        self._ids = itertools.count(1)

    def plan(self, *steps: Any) -> None:
        """Steps for the next session that has none yet (rpc objects, Step, or callables
        taking the AcsSession and returning one of those)."""
        self.plans.append(list(steps))

    async def start(self, ssl_context: ssl.SSLContext | None = None,
                    host: str = "127.0.0.1") -> str:
        app = web.Application()
        app.router.add_post("/acs", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"{'https' if ssl_context else 'http'}://{host}:{port}/acs"
        return self.url

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def wait(self, pred: Callable[[ScriptedAcs], bool]) -> None:
        async with self._cond:
            await asyncio.wait_for(self._cond.wait_for(lambda: pred(self)), WAIT)

    async def wait_done(self, n: int) -> AcsSession:
        """Session number n (0-based) once it ended with 204."""
        await self.wait(lambda a: len(a.sessions) > n and a.sessions[n].done)
        return self.sessions[n]

    async def _notify(self) -> None:
        async with self._cond:
            self._cond.notify_all()

    def _reply(self, body: Any, *, id: str | None, hold: bool | None = None,
               status: int = 200) -> web.Response:
        # answer in the namespace the CPE used for its Inform
        ns = self.sessions[-1].ns if self.sessions else NS
        data = envelope.encode(body, ns=ns, id=id, hold_requests=hold)
        return web.Response(status=status, body=data, content_type="text/xml")

    async def _handle(self, request: web.Request) -> web.Response:
        if self.auth is not None:
            user = self.auth.verify("POST", request.path_qs,
                                    request.headers.get("Authorization"))
            if user is None:
                return web.Response(status=401,
                                    headers={"WWW-Authenticate": self.auth.challenge()})
            self.auth_users.append(user)
        if self.basic is not None:
            if request.headers.get("Authorization") != self.basic:
                return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="a"'})
            self.auth_users.append("basic")
        raw = await request.read()
        env = None
        if raw.strip():
            self.problems += cwmp_xsd_check.check(raw)
            env = envelope.decode(raw)
        try:
            return await self._dispatch(request, env)
        finally:
            await self._notify()

    async def _dispatch(self, request: web.Request,
                        env: envelope.Envelope | None) -> web.Response:
        if env is not None and isinstance(env.body, rpc.Inform):
            s = AcsSession(len(self.sessions), env.body, deque(), ns=env.ns)
            self.sessions.append(s)
            if self.fail_informs > 0:
                self.fail_informs -= 1
                s.failed = True
                return web.Response(status=500, text="scripted failure")
            s.script = deque(self.plans.popleft() if self.plans else [])
            resp = self._reply(rpc.InformResponse(1), id=env.id,
                               hold=True if self.hold_on_inform else None)
            resp.set_cookie("acs-session", f"s{s.index}")
            return resp
        s = self.sessions[-1]
        s.received.append(None if env is None else env.body)
        s.received_ids.append(None if env is None else env.id)
        s.cookies.append(request.cookies.get("acs-session"))
        if env is not None and isinstance(env.body, rpc.TransferComplete):
            return self._reply(rpc.TransferCompleteResponse(), id=env.id)
        if env is not None and env.id is not None:
            s.answers[env.id] = env.body
        while s.script:
            step = s.script.popleft()
            if callable(step):
                step = step(s)
            if step is None:
                continue
            if not isinstance(step, Step):
                step = Step(step)
            if step.raw is not None:
                return web.Response(body=step.raw, content_type="text/xml")
            return self._reply(step.body, id=step.id or f"acs-{next(self._ids)}",
                               hold=step.hold)
        s.done = True
        return web.Response(status=204)


# ---- file server ------------------------------------------------------------------------


class FileServer:
    """GET serves `files`, PUT stores into `stored`; `fail_put` answers PUT with that
    status; with `credentials` every request needs HTTP Digest."""

    def __init__(self, credentials: dict[str, str] | None = None) -> None:
        self.files: dict[str, bytes] = {}
        self.stored: dict[str, bytes] = {}
        self.fail_put: int | None = None
        self.verifier = DigestVerifier("files", credentials) if credentials else None
        self.base = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}"
        return self.base

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        if self.verifier and self.verifier.verify(
                request.method, request.path_qs, request.headers.get("Authorization")) is None:
            return web.Response(status=401,
                                headers={"WWW-Authenticate": self.verifier.challenge()})
        if request.method == "GET":
            data = self.files.get(request.path)
            return web.Response(body=data) if data is not None else web.Response(status=404)
        if request.method == "PUT":
            if self.fail_put:
                return web.Response(status=self.fail_put)
            self.stored[request.path] = await request.read()
            return web.Response(status=201)
        return web.Response(status=405)


# ---- running an HNB ------------------------------------------------------------------------


def factory_settings(acs_url: str, **extra: str) -> dict[str, str]:
    return {
        MS + "URL": acs_url,
        MS + "PeriodicInformEnable": "false",  # no surprise sessions in tests
        MS + "ConnectionRequestUsername": "acs",
        MS + "ConnectionRequestPassword": "cr-secret",
        "Device.DeviceInfo.SerialNumber": "HNB0001",
        "Device.DeviceInfo.ManufacturerOUI": "00A0B1",
        **extra,
    }


@contextlib.asynccontextmanager
async def running_hnb(tmp_path: Path, acs_url: str, *, name: str = "hnb",
                      time_scale: float = 0.001, **kw: Any) -> AsyncIterator[Hnb]:
    factory = factory_settings(acs_url, **kw.pop("factory", {}))
    hnb = Hnb(EventLog(name), tmp_path / name, factory=factory, time_scale=time_scale,
              connreq_host="127.0.0.1", http_timeout=5.0, **kw)
    await hnb.start()
    try:
        yield hnb
    finally:
        await hnb.stop()


@contextlib.asynccontextmanager
async def scripted_acs(ssl_context: ssl.SSLContext | None = None,
                       host: str = "127.0.0.1") -> AsyncIterator[ScriptedAcs]:
    acs = ScriptedAcs()
    await acs.start(ssl_context, host)
    try:
        yield acs
        assert acs.problems == [], f"CWMP the HNB sent is not schema-valid: {acs.problems}"
    finally:
        await acs.stop()


# ---- tests: the session ---------------------------------------------------------------------


async def test_bootstrap_inform_empty_post_spv_then_204(tmp_path: Path) -> None:
    async with scripted_acs() as acs:
        acs.plan(rpc.SetParameterValues(
            [rpc.ParameterValue(MS + "PeriodicInformInterval", "600", "xsd:unsignedInt")],
            parameter_key="k1"))
        async with running_hnb(tmp_path, acs.url) as hnb:
            s = await acs.wait_done(0)
            rec = await asyncio.wait_for(hnb.wait_session(["0 BOOTSTRAP"]), WAIT)
            assert hnb.get(MS + "PeriodicInformInterval") == "600"
            assert hnb.get(MS + "ParameterKey") == "k1"
    assert s.inform.event_codes() == ["0 BOOTSTRAP", "1 BOOT"]
    assert s.inform.device_id.serial_number == "HNB0001"
    assert s.inform.retry_count == 0
    assert s.names() == ["empty", "SetParameterValuesResponse"]
    assert s.received[1].status == 0
    assert rec.ok and rec.sent == ["Inform", "empty", "SetParameterValuesResponse"]
    assert rec.received == ["InformResponse", "SetParameterValues", "empty"]
    # forced-inform parameters ride in the Inform
    assert s.inform.param(MS + "ConnectionRequestURL") == hnb.connection_request_url


async def test_cwmp_id_echoed_and_cookie_kept_within_session_only(tmp_path: Path) -> None:
    async with scripted_acs() as acs:
        acs.plan(Step(rpc.GetParameterValues([MS + "PeriodicInformInterval"]), id="acs-42"),
                 Step(rpc.GetRPCMethods(), id="acs-43"))
        async with running_hnb(tmp_path, acs.url) as hnb:
            s0 = await acs.wait_done(0)
            n = len(hnb.sessions)
            hnb.client.request_session("6 CONNECTION REQUEST")
            s1 = await acs.wait_done(1)
            await asyncio.wait_for(hnb.wait_session(after=n), WAIT)
    assert s0.received_ids == [None, "acs-42", "acs-43"]
    assert isinstance(s0.answers["acs-42"], rpc.GetParameterValuesResponse)
    assert s0.answers["acs-42"].parameters[0].value == "3600"
    assert set(s0.answers["acs-43"].methods) == set(rpc.CPE_METHODS)
    # the cookie set with InformResponse came back on every later POST of that session
    assert s0.cookies == ["s0", "s0", "s0"]
    # a new session starts with an empty jar: its Inform carried no cookie, its POSTs
    # carry the new session's cookie, never s0
    assert s1.cookies == ["s1"]


async def test_hold_requests_defers_transfer_complete(tmp_path: Path) -> None:
    files = FileServer()
    await files.start()
    try:
        from lab.datamodel.cmfile import write_cm_file
        files.files["/cm/a.xml"] = write_cm_file({MS + "PeriodicInformInterval": "900"})
        async with scripted_acs() as acs:
            acs.plan(rpc.Download("dl-1", "3 Vendor Configuration File",
                                  files.base + "/cm/a.xml"))
            async with running_hnb(tmp_path, acs.url) as hnb:
                await acs.wait_done(0)
                acs.hold_on_inform = True
                acs.plan(Step(rpc.GetParameterValues([MS + "URL"]), hold=True))
                rec = await asyncio.wait_for(hnb.wait_session(["7 TRANSFER COMPLETE"]), WAIT)
                s1 = acs.sessions[1]
    finally:
        await files.stop()
    # held: empty POST first, answer the held-state request, then (after the empty
    # response lifted the hold) the TransferComplete, then the closing empty POST
    assert s1.names() == ["empty", "GetParameterValuesResponse", "TransferComplete", "empty"]
    tc = s1.received[2]
    assert tc.command_key == "dl-1" and tc.fault_code == 0
    assert rec.ok
    assert {"7 TRANSFER COMPLETE", "M Download"} <= set(s1.inform.event_codes())
    m = [e for e in s1.inform.events if e.code == "M Download"]
    assert m[0].command_key == "dl-1"


async def test_transfer_complete_sent_before_empty_post_without_hold(tmp_path: Path) -> None:
    files = FileServer()
    await files.start()
    try:
        from lab.datamodel.cmfile import write_cm_file
        files.files["/cm/a.xml"] = write_cm_file({MS + "PeriodicInformInterval": "901"})
        async with scripted_acs() as acs:
            acs.plan(rpc.Download("dl-2", "3 Vendor Configuration File",
                                  files.base + "/cm/a.xml"))
            async with running_hnb(tmp_path, acs.url) as hnb:
                await acs.wait_done(0)
                await asyncio.wait_for(hnb.wait_session(["7 TRANSFER COMPLETE"]), WAIT)
                s1 = acs.sessions[1]
    finally:
        await files.stop()
    assert s1.names() == ["TransferComplete", "empty"]


async def test_retry_after_http_500_with_backoff_and_retry_count(tmp_path: Path) -> None:
    async with scripted_acs() as acs:
        acs.fail_informs = 2
        async with running_hnb(tmp_path, acs.url) as hnb:
            s2 = await acs.wait_done(2)
            rec = await asyncio.wait_for(hnb.wait_session(["0 BOOTSTRAP"]), WAIT)
            n = len(hnb.sessions)
            hnb.client.request_session("6 CONNECTION REQUEST")
            s3 = await acs.wait_done(3)
            await asyncio.wait_for(hnb.wait_session(after=n), WAIT)
    assert [s.inform.retry_count for s in acs.sessions[:3]] == [0, 1, 2]
    assert [s.failed for s in acs.sessions[:3]] == [True, True, False]
    # the events were retained across the failed attempts
    assert s2.inform.event_codes() == ["0 BOOTSTRAP", "1 BOOT"]
    assert rec.retry_count == 2
    assert s3.inform.retry_count == 0  # reset after the session completed
    assert "0 BOOTSTRAP" not in s3.inform.event_codes()
    retries = [e for e in hnb.events.memory if e.kind == "cwmp.retry"]
    assert [e.fields["retry_count"] for e in retries] == [1, 2]


def test_retry_wait_intervals_follow_tr069_table() -> None:
    from lab.datamodel import DataModel

    client = CwmpClient(DataModel.factory(), EventLog("t"))
    for n, (lo, hi) in {1: (5, 10), 2: (10, 20), 3: (20, 40), 10: (2560, 5120),
                        15: (2560, 5120)}.items():
        waits = [client.retry_delay(n) for _ in range(50)]
        assert all(lo <= w <= hi for w in waits), (n, min(waits), max(waits))
    client.model.set_values([rpc.ParameterValue(MS + "CWMPRetryMinimumWaitInterval", "1"),
                             rpc.ParameterValue(MS + "CWMPRetryIntervalMultiplier", "3000")])
    assert all(9 <= client.retry_delay(3) <= 27 for _ in range(50))


async def test_connection_request_event_not_retried(tmp_path: Path) -> None:
    async with scripted_acs() as acs, running_hnb(tmp_path, acs.url) as hnb:
        await acs.wait_done(0)
        acs.fail_informs = 1
        n = len(hnb.sessions)
        hnb.client.request_session("6 CONNECTION REQUEST")
        rec = await asyncio.wait_for(hnb.wait_session(after=n, ok=False), WAIT)
        assert "6 CONNECTION REQUEST" in rec.events
        # nothing else was pending, so there is nothing to retry
        assert hnb.client.queue.events == []


async def test_unknown_method_9000_and_malformed_9003_with_id_echo(tmp_path: Path) -> None:
    unknown = (b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
               b'xmlns:cwmp="urn:dslforum-org:cwmp-1-1"><soap:Header>'
               b'<cwmp:ID soap:mustUnderstand="1">u-1</cwmp:ID></soap:Header><soap:Body>'
               b'<cwmp:X_Frobnicate/></soap:Body></soap:Envelope>')
    malformed = (b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
                 b'xmlns:cwmp="urn:dslforum-org:cwmp-1-1"><soap:Header>'
                 b'<cwmp:ID soap:mustUnderstand="1">m-1</cwmp:ID></soap:Header><soap:Body>'
                 b'<cwmp:SetParameterValues><ParameterKey>x</ParameterKey>'
                 b'</cwmp:SetParameterValues></soap:Body></soap:Envelope>')
    async with scripted_acs() as acs:
        acs.plan(Step(raw=unknown), Step(raw=malformed),
                 Step(rpc.GetParameterValues(["Device.NoSuchThing"]), id="g-1"),
                 Step(rpc.Upload("u", "1 Vendor Configuration File", "tftp://x/y"),
                      id="up-1"))
        async with running_hnb(tmp_path, acs.url):
            s = await acs.wait_done(0)
    faults = s.received[1:]
    assert [f.code for f in faults] == [9000, 9003, 9005, 9013]
    assert s.received_ids[1:] == ["u-1", "m-1", "g-1", "up-1"]
    assert "ParameterList" in faults[1].string
    assert "tftp" in faults[3].string


async def test_periodic_inform(tmp_path: Path) -> None:
    async with scripted_acs() as acs, running_hnb(tmp_path, acs.url, time_scale=0.02, factory={
            MS + "PeriodicInformEnable": "true", MS + "PeriodicInformInterval": "1"}) \
                as hnb:
        rec = await asyncio.wait_for(hnb.wait_session(["2 PERIODIC"]), WAIT)
        rec2 = await asyncio.wait_for(hnb.wait_session(["2 PERIODIC"], after=rec.index + 1),
                                      WAIT)
        # disabling stops it: the ACS turns it off, later sessions carry no PERIODIC
        acs.plan(rpc.SetParameterValues(
            [rpc.ParameterValue(MS + "PeriodicInformEnable", "false", "xsd:boolean")]))
        n = len(acs.sessions)
        await acs.wait_done(n)
        assert hnb.get(MS + "PeriodicInformEnable") == "false"
    assert rec2.index > rec.index


async def test_every_message_is_an_event(tmp_path: Path) -> None:
    async with scripted_acs() as acs:
        acs.plan(rpc.GetParameterValues([MS + "URL"]))
        async with running_hnb(tmp_path, acs.url) as hnb:
            await acs.wait_done(0)
            await asyncio.wait_for(hnb.wait_session(["0 BOOTSTRAP"]), WAIT)
    msgs = [(e.kind, e.fields["msg"]) for e in hnb.events.memory
            if e.kind in ("cwmp.tx", "cwmp.rx")]
    assert msgs == [("cwmp.tx", "Inform"), ("cwmp.rx", "InformResponse"),
                    ("cwmp.tx", "empty"), ("cwmp.rx", "GetParameterValues"),
                    ("cwmp.tx", "GetParameterValuesResponse"), ("cwmp.rx", "empty")]
    first = next(e for e in hnb.events.memory if e.kind == "cwmp.tx")
    assert first.fields["dir"] == "out" and first.fields["url"] == acs.url
    assert first.fields["events"] == ["0 BOOTSTRAP", "1 BOOT"]
    assert first.fields["cwmp_id"]


@pytest.mark.parametrize("status", [401, 404])
async def test_http_error_on_inform_fails_session(tmp_path: Path, status: int) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status)

    app = web.Application()
    app.router.add_post("/acs", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with running_hnb(tmp_path, f"http://127.0.0.1:{port}/acs") as hnb:
            rec = await asyncio.wait_for(hnb.wait_session(ok=False), WAIT)
            assert str(status) in rec.error
            assert hnb.client.queue.events  # BOOT kept for the retry
    finally:
        await runner.cleanup()


async def test_digest_auth_towards_acs(tmp_path: Path) -> None:
    async with scripted_acs() as acs:
        acs.auth = DigestVerifier("acs", {"hnb-user": "hnb-pass"})
        async with running_hnb(tmp_path, acs.url, factory={
                MS + "Username": "hnb-user", MS + "Password": "hnb-pass"}) as hnb:
            s = await acs.wait_done(0)
            await asyncio.wait_for(hnb.wait_session(["0 BOOTSTRAP"]), WAIT)
    assert acs.auth_users and set(acs.auth_users) == {"hnb-user"}
    assert s.names() == ["empty"]


async def test_basic_auth_towards_acs(tmp_path: Path) -> None:
    import base64

    async with scripted_acs() as acs:
        acs.basic = "Basic " + base64.b64encode(b"hnb-user:hnb-pass").decode()
        async with running_hnb(tmp_path, acs.url, factory={
                MS + "Username": "hnb-user", MS + "Password": "hnb-pass"}) as hnb:
            await acs.wait_done(0)
            await asyncio.wait_for(hnb.wait_session(["0 BOOTSTRAP"]), WAIT)
    assert acs.auth_users.count("basic") == 2  # the Inform and the empty POST


async def test_stop_during_retry_wait_leaves_no_task(tmp_path: Path) -> None:
    async with running_hnb(tmp_path, "http://127.0.0.1:9/acs", time_scale=1.0) as hnb:
        rec = await asyncio.wait_for(hnb.wait_session(ok=False), WAIT)
        assert "Cannot connect" in rec.error or "9" in rec.error
    assert hnb.client._tasks == set()
    assert hnb.client._run_task is None


async def test_stop_mid_session_still_logs_the_session_end(tmp_path: Path) -> None:
    # an ACS that never answers the Inform: the HNB is stopped with the session open
    arrived = asyncio.Event()

    async def handler(request: web.Request) -> web.Response:
        arrived.set()
        await asyncio.sleep(WAIT * 10)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/acs", handler)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with running_hnb(tmp_path, f"http://127.0.0.1:{port}/acs") as hnb:
            await asyncio.wait_for(arrived.wait(), WAIT)
    finally:
        await runner.cleanup()
    states = [(e.fields["state"], e.fields.get("ok"), e.fields.get("error"))
              for e in hnb.events.memory if e.kind == "cwmp.session"]
    assert states == [("start", None, None), ("end", False, "cancelled")]
