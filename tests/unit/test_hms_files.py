"""The HMS file server over real sockets: HTTP(S) PUT/POST/GET, FTP, FTPS, SFTP; whole
uploads only; traversal and bad passwords refused."""

from __future__ import annotations

import asyncio
import contextlib
import ftplib
import hashlib
import io
import socket
import ssl
import struct
from pathlib import Path
from typing import Any

import aiohttp
import asyncssh
import pytest

from lab.nodes.hms.server import HmsHandle
from lab.pki import Pki
from tests.unit import test_hms_support
from tests.unit.test_hms_support import kinds

hms_factory = test_hms_support.hms_factory  # the fixture, shared

USER, PW = "hnb", "files-pw"
PM = b"<measCollecFile>" + b"x" * 5000 + b"</measCollecFile>"
PM_NAME = "A20261203.1200+0000-1215+0000_00005A-SER0001.xml"


@pytest.fixture
def pki(tmp_path: Path) -> Any:
    return Pki.create(tmp_path / "pki", "test").issue_server(
        "hms", dns=["localhost"], ips=["127.0.0.1"])


@pytest.fixture
async def fs(hms_factory, pki: Any) -> HmsHandle:
    return await hms_factory(tls_cert=str(pki.cert), tls_key=str(pki.key), files={
        "http_port": 0, "https_port": 0, "ftp_port": 0, "ftps_port": 0, "sftp_port": 0,
        "max_upload": 64 << 10, "auth_failed_delay": 0.1})


def basic() -> dict[str, str]:
    return {"Authorization": aiohttp.encode_basic_auth(USER, PW)}


async def stored(h: HmsHandle, name: str) -> Any:
    """The files-table record of `name` (FTP commits right after its 226 reply)."""
    for _ in range(200):
        recs = [f for f in h.store.list_files("pm") if f.name == name]
        if recs:
            return recs[0]
        await asyncio.sleep(0.025)
    raise AssertionError(f"{name} never recorded")


async def incomplete(h: HmsHandle, n: int = 1) -> None:
    for _ in range(400):  # 10 s: pyftpdlib's thread notices a cut late on a loaded machine
        if len(kinds(h, "file.incomplete")) >= n:
            return
        await asyncio.sleep(0.025)
    seen = [(e.kind, e.summary) for e in h.ctx.events.memory if e.kind.startswith("file.")]
    raise AssertionError(f"no file.incomplete event; file events: {seen}")


def assert_nothing_stored(h: HmsHandle) -> None:
    assert list(h.area.dir("pm").iterdir()) == []
    assert list(h.area.partial.iterdir()) == []
    assert h.store.list_files("pm") == []


def check_record(h: HmsHandle, rec: Any, transport: str, data: bytes = PM) -> None:
    assert rec.transport == transport and rec.size == len(data)
    assert rec.sha256 == hashlib.sha256(data).hexdigest()
    assert Path(rec.path).read_bytes() == data
    assert rec.device is None or rec.device == "00005A-SER0001"
    ev = [e for e in kinds(h, "file.rx") if e.fields["name"] == rec.name][-1]
    assert ev.fields["transport"] == transport and ev.fields["sha256"] == rec.sha256
    assert ev.fields["size"] == len(data)


async def raw_http(port: int, head: bytes, body: bytes = b"", *, close_early: bool = False,
                   ) -> bytes:
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(head + body)
    await w.drain()
    if close_early:
        w.transport.abort()
        return b""
    data = await r.read()
    w.close()
    return data


def _auth_line() -> bytes:
    return f"Authorization: {basic()['Authorization']}\r\n".encode()


# ---- HTTP / HTTPS -------------------------------------------------------------------------


async def test_http_put_basic_and_digest_and_post(fs: HmsHandle) -> None:
    base = fs.urls["files_http"]
    async with aiohttp.ClientSession() as s:
        async with s.put(f"{base}/pm/{PM_NAME}", data=PM, headers=basic()) as r:
            assert r.status == 201 and (await r.json())["size"] == len(PM)
        check_record(fs, await stored(fs, PM_NAME), "http")
    mw = (aiohttp.DigestAuthMiddleware(USER, PW),)
    async with aiohttp.ClientSession(middlewares=mw) as s:
        async with s.put(f"{base}/pm/digest.xml", data=PM) as r:
            assert r.status == 201
        async with s.post(f"{base}/pm/posted.xml", data=PM) as r:
            assert r.status == 201
        form = aiohttp.FormData()
        form.add_field("file", io.BytesIO(PM), filename="multi.xml")
        async with s.post(f"{base}/pm/", data=form) as r:
            assert r.status == 201
    for name in ("digest.xml", "posted.xml", "multi.xml"):
        check_record(fs, await stored(fs, name), "http")


async def test_https_put_and_cm_get(fs: HmsHandle, pki: Any) -> None:
    fs.area.add_cm("cm-1.xml", b"<configDataFile/>")
    ctx = ssl.create_default_context(cafile=str(pki.ca))
    base = fs.urls["files_https"].replace("127.0.0.1", "localhost")
    async with aiohttp.ClientSession() as s:
        async with s.put(f"{base}/pm/{PM_NAME}", data=PM, headers=basic(), ssl=ctx) as r:
            assert r.status == 201
        async with s.get(f"{base}/cm/cm-1.xml", headers=basic(), ssl=ctx) as r:
            assert r.status == 200 and await r.read() == b"<configDataFile/>"
        async with s.get(f"{base}/cm/nope.xml", headers=basic(), ssl=ctx) as r:
            assert r.status == 404 and "nope.xml" in await r.text()
    check_record(fs, await stored(fs, PM_NAME), "https")
    assert kinds(fs, "file.tx")[0].fields["name"] == "cm-1.xml"


async def test_http_auth_required_and_wrong_password(fs: HmsHandle) -> None:
    base = fs.urls["files_http"]
    async with aiohttp.ClientSession() as s:
        async with s.put(f"{base}/pm/x.xml", data=PM) as r:
            assert r.status == 401
            schemes = [v.split()[0] for v in r.headers.getall("WWW-Authenticate")]
            assert schemes == ["Digest", "Basic"]
        bad = {"Authorization": aiohttp.encode_basic_auth(USER, "nope")}
        async with s.put(f"{base}/pm/x.xml", data=PM, headers=bad) as r:
            assert r.status == 401
    assert "wrong user or password" in kinds(fs, "file.rejected")[-1].fields["reason"]
    assert_nothing_stored(fs)


@pytest.mark.parametrize("path", [
    b"/pm/..%2f..%2fetc%2fpasswd", b"/pm/../../etc/passwd", b"/cm/%2e%2e/hms.sqlite3",
    b"/pm//etc/passwd", b"/pm/..\\x.xml", b"/pm/.hidden", b"/cm/a%00b"])
async def test_http_traversal_rejected(fs: HmsHandle, path: bytes) -> None:
    port = fs.ports["files_http"]
    body = b"evil"
    head = (b"PUT " + path + b" HTTP/1.1\r\nHost: x\r\n" + _auth_line()
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode())
    resp = await raw_http(port, head, body)
    assert resp.startswith(b"HTTP/1.1 400"), resp[:200]
    assert b"not allowed" in resp or b"file name" in resp
    assert kinds(fs, "file.rejected")
    assert_nothing_stored(fs)


async def test_http_interrupted_and_oversized_upload_leave_nothing(fs: HmsHandle) -> None:
    port = fs.ports["files_http"]
    head = (b"PUT /pm/broken.xml HTTP/1.1\r\nHost: x\r\n" + _auth_line()
            + b"Content-Length: 50000\r\n\r\n")
    await raw_http(port, head, PM[:3000], close_early=True)
    await incomplete(fs)
    async with aiohttp.ClientSession() as s:
        async with s.put(f"{fs.urls['files_http']}/pm/big.xml", data=b"x" * (65 << 10),
                         headers=basic()) as r:
            assert r.status == 413

        async def chunks():  # no Content-Length: the limit holds while streaming
            for _ in range(70):
                yield b"y" * 1024

        async with s.put(f"{fs.urls['files_http']}/pm/big2.xml", data=chunks(),
                         headers=basic()) as r:
            assert r.status == 413
    assert_nothing_stored(fs)


# ---- FTP / FTPS ---------------------------------------------------------------------------


def _ftp(port: int, tls_ca: Path | None = None, user: str = USER, pw: str = PW) -> ftplib.FTP:
    if tls_ca is not None:
        ftp: ftplib.FTP = ftplib.FTP_TLS(context=ssl.create_default_context(cafile=str(tls_ca)),
                                         timeout=10)
    else:
        ftp = ftplib.FTP(timeout=10)
    try:
        ftp.connect("localhost" if tls_ca else "127.0.0.1", port)
        ftp.login(user, pw)
        if isinstance(ftp, ftplib.FTP_TLS):
            ftp.prot_p()
    except BaseException:
        ftp.close()
        raise
    return ftp


async def test_ftp_upload_download_and_refusals(fs: HmsHandle) -> None:
    fs.area.add_cm("cm-2.xml", b"<cm/>")

    def session() -> tuple[bytes, list[str]]:
        ftp = _ftp(fs.ports["ftp"])
        ftp.storbinary(f"STOR /pm/{PM_NAME}", io.BytesIO(PM))
        errors = []
        for cmd in ("STOR ../../etc/passwd", "STOR /cm/evil.xml", "STOR /pm/sub/x.xml",
                    "APPE /pm/x.xml"):
            try:
                ftp.storbinary(cmd, io.BytesIO(b"evil"))
            except ftplib.error_perm as exc:
                errors.append(str(exc))
        got = io.BytesIO()
        ftp.retrbinary("RETR /cm/cm-2.xml", got.write)
        ftp.quit()
        return got.getvalue(), errors

    cm, errors = await asyncio.to_thread(session)
    assert cm == b"<cm/>"
    assert errors[0].startswith("553") and "'..' (path traversal)" in errors[0]
    assert errors[1].startswith("553") and "uploads go to /pm/" in errors[1]
    assert errors[2].startswith("553")
    assert errors[3].startswith("550") and "stored whole" in errors[3]
    check_record(fs, await stored(fs, PM_NAME), "ftp")
    assert len(fs.store.list_files("pm")) == 1


async def test_ftp_wrong_password(fs: HmsHandle) -> None:
    with pytest.raises(ftplib.error_perm, match="530"):
        await asyncio.to_thread(_ftp, fs.ports["ftp"], None, USER, "wrong")
    for _ in range(200):  # the FTP thread may log it just after the 530 went out
        if kinds(fs, "file.rejected"):
            break
        await asyncio.sleep(0.025)
    assert "login refused" in kinds(fs, "file.rejected")[-1].fields["reason"]


@pytest.mark.parametrize("how", ["abort", "reset"])
async def test_ftp_interrupted_upload_leaves_nothing(fs: HmsHandle, how: str) -> None:
    def broken() -> None:
        ftp = _ftp(fs.ports["ftp"])
        ftp.voidcmd("TYPE I")
        conn = ftp.transfercmd("STOR /pm/broken.xml")
        conn.sendall(PM[:2000])
        if how == "abort":  # ABOR while the data connection is still open
            with contextlib.suppress(ftplib.Error, OSError):
                ftp.abort()
            conn.close()
            ftp.close()
        else:  # the client dies: RST on both connections
            for sock in (conn, ftp.sock):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()

    await asyncio.to_thread(broken)
    await incomplete(fs)
    assert_nothing_stored(fs)


async def test_ftps_truncated_upload_leaves_nothing(fs: HmsHandle, pki: Any) -> None:
    def broken() -> None:
        ftp = _ftp(fs.ports["ftps"], tls_ca=pki.ca)
        ftp.voidcmd("TYPE I")
        conn = ftp.transfercmd("STOR /pm/broken.xml")
        conn.sendall(PM[:2000])
        conn.close()  # TCP close without TLS close_notify: a truncation
        with contextlib.suppress(ftplib.Error, OSError):
            ftp.voidresp()
        ftp.close()

    await asyncio.to_thread(broken)
    await incomplete(fs)
    assert "without close_notify" in kinds(fs, "file.incomplete")[0].fields["reason"]
    assert_nothing_stored(fs)


async def test_ftps_upload_and_plain_login_refused(fs: HmsHandle, pki: Any) -> None:
    def session() -> None:
        ftp = _ftp(fs.ports["ftps"], tls_ca=pki.ca)
        ftp.storbinary(f"STOR /pm/{PM_NAME}", io.BytesIO(PM))
        ftp.quit()

    await asyncio.to_thread(session)
    check_record(fs, await stored(fs, PM_NAME), "ftps")
    with pytest.raises(ftplib.error_perm, match="SSL/TLS required"):
        await asyncio.to_thread(_ftp, fs.ports["ftps"])


# ---- SFTP ---------------------------------------------------------------------------------


def _sftp(h: HmsHandle, pw: str = PW) -> Any:
    return asyncssh.connect("127.0.0.1", h.ports["sftp"], username=USER, password=pw,
                            known_hosts=None, client_keys=None)


async def test_sftp_upload_and_refusals(fs: HmsHandle) -> None:
    async with _sftp(fs) as conn, conn.start_sftp_client() as sftp:
        async with sftp.open(f"/pm/{PM_NAME}", "wb") as f:
            await f.write(PM)
        for path in ("/pm/../../etc/passwd", "/cm/evil.xml", "/etc/passwd", "pm/.x"):
            with pytest.raises(asyncssh.SFTPPermissionDenied):
                await sftp.open(path, "wb")
        with pytest.raises(asyncssh.SFTPPermissionDenied):
            await sftp.remove(f"/pm/{PM_NAME}")
    check_record(fs, await stored(fs, PM_NAME), "sftp")
    assert (fs.ctx.settings.state_dir / "ssh_host_ed25519_key").exists()


async def test_sftp_wrong_password(fs: HmsHandle) -> None:
    with pytest.raises(asyncssh.PermissionDenied):
        async with _sftp(fs, "wrong"):
            pass
    assert kinds(fs, "file.rejected")


async def test_sftp_interrupted_upload_leaves_nothing(fs: HmsHandle) -> None:
    conn = await _sftp(fs)
    sftp = await conn.start_sftp_client()
    f = await sftp.open("/pm/broken.xml", "wb")
    await f.write(PM[:2000])
    conn.abort()  # the client dies mid-transfer, without closing the file
    await incomplete(fs)
    assert_nothing_stored(fs)
