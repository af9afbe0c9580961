"""The ACS side of the connection request (TR-069 3.2.2): HTTP GET to the device's
ConnectionRequestURL with Digest authentication (lab.cwmp.digest). The device answers
200/204 and then opens a session with "6 CONNECTION REQUEST"."""

from __future__ import annotations

import ssl as ssl_mod
from dataclasses import dataclass

import aiohttp
from yarl import URL

from lab.cwmp import digest


@dataclass
class ConnReqResult:
    ok: bool
    status: int | None
    detail: str


async def connection_request(url: str, username: str, password: str, *, timeout: float = 10.0,
                             ssl: ssl_mod.SSLContext | None = None) -> ConnReqResult:
    """GET `url`, answering a Digest challenge (once more if the nonce was stale)."""
    try:
        u = URL(url)
    except ValueError as exc:
        return ConnReqResult(False, None, f"bad ConnectionRequestURL {url!r}: {exc}")
    if u.scheme not in ("http", "https") or not u.host:
        return ConnReqResult(False, None, f"ConnectionRequestURL {url!r} is not an HTTP URL")
    uri = u.raw_path_qs or "/"
    tmo = aiohttp.ClientTimeout(total=timeout)
    ssl_arg: ssl_mod.SSLContext | bool = ssl if ssl is not None else True
    try:
        async with aiohttp.ClientSession(timeout=tmo) as s:
            headers: dict[str, str] = {}
            for attempt in range(3):
                async with s.get(u, headers=headers, ssl=ssl_arg, allow_redirects=False) as r:
                    await r.read()
                    if r.status in (200, 204):
                        how = "with Digest" if headers else "without authentication"
                        return ConnReqResult(True, r.status, f"accepted ({how})")
                    if r.status == 503:
                        return ConnReqResult(False, 503, "device refused: too many connection "
                                                         "requests (503)")
                    if r.status != 401:
                        return ConnReqResult(False, r.status, f"unexpected HTTP {r.status}")
                    challenges = r.headers.getall("WWW-Authenticate", [])
                    try:
                        ch = digest.parse_challenge(challenges)
                    except digest.DigestError as exc:
                        return ConnReqResult(False, 401, f"device asks for no usable Digest: "
                                                         f"{exc}")
                    if headers and ch.get("stale", "").lower() != "true":
                        return ConnReqResult(False, 401, "device refused the credentials "
                                                         f"for user {username!r}")
                    if not username:
                        return ConnReqResult(False, 401, "device requires authentication and "
                                                         "no ConnectionRequestUsername is known")
                    headers = {"Authorization": digest.authorization(
                        ch, "GET", uri, username, password, nc=attempt + 1)}
            return ConnReqResult(False, 401, "device kept answering 401")
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        return ConnReqResult(False, None, f"cannot reach {url}: {exc or type(exc).__name__}")
