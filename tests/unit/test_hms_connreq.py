"""Connection request: the ACS's HTTP GET with Digest to a device's ConnectionRequestURL
(a test server here), after which the device opens a "6 CONNECTION REQUEST" session."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from lab.cwmp.digest import DigestVerifier
from lab.nodes.hms.connreq import connection_request
from tests.unit import test_hms_support
from tests.unit.test_hms_support import TOKEN, Cpe, kinds

hms_factory = test_hms_support.hms_factory  # the fixture, shared


class CrServer:
    """The device's connection-request endpoint: Digest, then a session via `on_ok`."""

    def __init__(self, user: str, password: str, nonce_ttl: float = 300) -> None:
        self.verifier = DigestVerifier(realm="cpe", credentials={user: password},
                                       nonce_ttl=nonce_ttl)
        self.accepted = 0
        self.refused: list[str] = []
        self.on_ok: Any = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        user = self.verifier.verify(request.method, request.path_qs,
                                    request.headers.get("Authorization"))
        if user is None:
            self.refused.append(self.verifier.last_error)
            stale = self.verifier.last_error == "nonce expired"
            return web.Response(status=401,
                                headers={"WWW-Authenticate": self.verifier.challenge(stale)})
        self.accepted += 1
        if self.on_ok is not None:
            asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(self.on_ok()))
        return web.Response(status=200)


@pytest.fixture
async def cr_server() -> AsyncIterator[CrServer]:
    srv = CrServer("acs", "cr-secret")
    app = web.Application()
    app.router.add_get("/cr/{token}", srv.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    srv.url = f"http://127.0.0.1:{port}/cr/a1b2c3?x=1"
    yield srv
    await runner.cleanup()


async def test_connection_request_digest_then_session(hms_factory, cr_server: CrServer) -> None:
    h = await hms_factory(connection_request={"username": "acs", "password": "cr-secret"})
    done = asyncio.Event()
    async with Cpe(h.urls["cwmp"]) as cpe, aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {TOKEN}"}) as api:
        await cpe.session(["1 BOOT"], {"Device.ManagementServer.ConnectionRequestURL":
                                       cr_server.url})
        seen: list[Any] = []

        async def device_session() -> None:
            seen.extend(await cpe.session(["6 CONNECTION REQUEST"]))
            done.set()

        cr_server.on_ok = device_session
        async with api.post(f"{h.urls['api']}/devices/{cpe.device_id}/tasks",
                            json={"kind": "Reboot", "connection_request": True}) as r:
            assert r.status == 201
            body = await r.json()
        assert body["connection_request"]["ok"] is True
        assert body["connection_request"]["status"] == 200
        await asyncio.wait_for(done.wait(), 10)
    assert [type(q).__name__ for q in seen] == ["Reboot"]
    assert seen[0].command_key == f"hms-task-{body['task']['id']}"
    assert cr_server.accepted == 1
    ev = kinds(h, "hms.connection_request")[0]
    assert ev.fields["ok"] is True and ev.fields["dir"] == "out"


async def test_connection_request_wrong_password(hms_factory, cr_server: CrServer) -> None:
    h = await hms_factory(connection_request={"username": "acs", "password": "not-it"})
    async with Cpe(h.urls["cwmp"]) as cpe, aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {TOKEN}"}) as api:
        await cpe.session(["1 BOOT"], {"Device.ManagementServer.ConnectionRequestURL":
                                       cr_server.url})
        async with api.post(f"{h.urls['api']}/devices/{cpe.device_id}/connection-request") as r:
            assert r.status == 502
            body = await r.json()
    assert body["ok"] is False and "refused the credentials" in body["detail"]
    assert cr_server.refused[-1] == "wrong digest response (bad password?)"


async def test_connection_request_without_url(hms_factory) -> None:
    h = await hms_factory()
    async with Cpe(h.urls["cwmp"]) as cpe, aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {TOKEN}"}) as api:
        await cpe.session(["1 BOOT"])
        async with api.post(f"{h.urls['api']}/devices/{cpe.device_id}/connection-request") as r:
            assert r.status == 502
            assert "no ConnectionRequestURL" in (await r.json())["detail"]


async def test_stale_nonce_retried(cr_server: CrServer) -> None:
    # the device says the nonce it issued has expired: the ACS asks once more
    calls = 0
    real = cr_server.verifier.verify

    def first_stale(method: str, uri: str, header: str | None) -> str | None:
        nonlocal calls
        if header is not None:
            calls += 1
            if calls == 1:
                cr_server.verifier.last_error = "nonce expired"
                return None
        return real(method, uri, header)

    cr_server.verifier.verify = first_stale  # type: ignore[method-assign]
    res = await connection_request(cr_server.url, "acs", "cr-secret")
    assert res.ok and calls == 2


async def test_unreachable_and_bad_url() -> None:
    res = await connection_request("http://127.0.0.1:1/cr", "a", "b", timeout=2)
    assert not res.ok and "cannot reach" in res.detail
    res = await connection_request("ftp://x/cr", "a", "b")
    assert not res.ok and "not an HTTP URL" in res.detail
