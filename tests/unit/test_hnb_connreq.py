"""Connection requests to the HNB: HTTP Digest, 200 then a "6 CONNECTION REQUEST" session."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from lab.cwmp import digest
from tests.unit.test_hnb_session import MS, WAIT, running_hnb, scripted_acs


async def _get(url: str, user: str | None = None, password: str = "",
               auth_header: str | None = None) -> aiohttp.ClientResponse:
    mw = (aiohttp.DigestAuthMiddleware(user, password),) if user else ()
    headers = {"Authorization": auth_header} if auth_header else {}
    async with aiohttp.ClientSession(middlewares=mw) as s, s.get(url, headers=headers) as r:
        await r.read()
        return r


async def test_good_digest_gets_200_and_a_session(tmp_path: Path) -> None:
    async with scripted_acs() as acs, running_hnb(tmp_path, acs.url) as hnb:
        await asyncio.wait_for(hnb.wait_session(["0 BOOTSTRAP"]), WAIT)
        n = len(hnb.sessions)
        url = hnb.get(MS + "ConnectionRequestURL")
        assert url == hnb.connection_request_url and url.startswith("http://127.0.0.1:")
        r = await _get(url, "acs", "cr-secret")
        assert r.status == 200
        rec = await asyncio.wait_for(hnb.wait_session(["6 CONNECTION REQUEST"], after=n), WAIT)
        assert rec.events == ["6 CONNECTION REQUEST"]
        assert acs.sessions[-1].inform.event_codes() == ["6 CONNECTION REQUEST"]


async def test_bad_or_missing_digest_gets_401_and_no_session(tmp_path: Path) -> None:
    async with scripted_acs() as acs, running_hnb(tmp_path, acs.url) as hnb:
        await asyncio.wait_for(hnb.wait_session(["0 BOOTSTRAP"]), WAIT)
        url = hnb.connection_request_url
        n_sessions = len(acs.sessions)

        r = await _get(url)  # no Authorization at all
        assert r.status == 401
        assert r.headers["WWW-Authenticate"].startswith("Digest ")

        r = await _get(url, "acs", "wrong-password")
        assert r.status == 401
        fresh = digest.parse_challenge(r.headers["WWW-Authenticate"])
        assert fresh["nonce"]

        r = await _get(url, auth_header='Basic YWNzOmNyLXNlY3JldA==')  # Basic is not enough
        assert r.status == 401

        # a replayed Authorization (same nonce, same nc) is refused
        ch = digest.parse_challenge((await _get(url)).headers["WWW-Authenticate"])
        path = url.split(":", 2)[2].split("/", 1)[1]
        hdr = digest.authorization(ch, "GET", "/" + path, "acs", "cr-secret")
        assert (await _get(url, auth_header=hdr)).status == 200
        assert (await _get(url, auth_header=hdr)).status == 401

        # the server kept serving, and only the one good request opened a session
        await asyncio.wait_for(hnb.wait_session(["6 CONNECTION REQUEST"]), WAIT)
        assert len(acs.sessions) == n_sessions + 1
        denied = [e for e in hnb.events.memory if e.kind == "connreq.denied"]
        assert len(denied) >= 4
        assert any("wrong digest" in e.summary for e in denied)
        assert any("no Authorization" in e.summary for e in denied)


async def test_wrong_path_and_method(tmp_path: Path) -> None:
    async with scripted_acs() as acs, running_hnb(tmp_path, acs.url) as hnb:
        base = hnb.connection_request_url.rsplit("/", 1)[0]
        assert (await _get(base + "/not-the-path", "acs", "cr-secret")).status == 404
        async with aiohttp.ClientSession() as s, s.post(hnb.connection_request_url) as r:
            assert r.status == 405


async def test_credentials_follow_the_model(tmp_path: Path) -> None:
    async with scripted_acs() as acs, running_hnb(tmp_path, acs.url) as hnb:
        await asyncio.wait_for(hnb.wait_session(["0 BOOTSTRAP"]), WAIT)
        from lab.cwmp import rpc
        hnb.model.set_values([rpc.ParameterValue(MS + "ConnectionRequestPassword", "new")])
        url = hnb.connection_request_url
        assert (await _get(url, "acs", "cr-secret")).status == 401
        assert (await _get(url, "acs", "new")).status == 200


async def test_advertised_address_change_notifies(tmp_path: Path) -> None:
    """A new address (e.g. a new inner IPsec address) changes ConnectionRequestURL, which
    is active-notify by default: a session with "4 VALUE CHANGE" follows."""
    async with scripted_acs() as acs, running_hnb(tmp_path, acs.url) as hnb:
        await asyncio.wait_for(hnb.wait_session(["0 BOOTSTRAP"]), WAIT)
        n = len(hnb.sessions)
        hnb.connreq.set_advertised_host("127.0.0.1" if "localhost" in hnb.connreq.url
                                        else "localhost")
        rec = await asyncio.wait_for(hnb.wait_session(["4 VALUE CHANGE"], after=n), WAIT)
        assert rec.inform is not None
        assert "localhost" in (rec.inform.param(MS + "ConnectionRequestURL") or "")


async def test_two_managers_in_the_same_second_both_authenticate(tmp_path: Path) -> None:
    """Each challenge has its own nonce, so a second ACS client starting again at nc=1
    is not mistaken for a replay."""
    async with scripted_acs() as acs, running_hnb(tmp_path, acs.url) as hnb:
        url = hnb.connection_request_url
        results = await asyncio.gather(*(_get(url, "acs", "cr-secret") for _ in range(3)))
        assert [r.status for r in results] == [200, 200, 200]
