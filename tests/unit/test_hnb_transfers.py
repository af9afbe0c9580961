"""Download of CM files (applied all or nothing) and Upload, over real sockets."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer

from lab.cwmp import rpc
from lab.datamodel.cmfile import parse_cm_file, write_cm_file
from lab.nodes.hnb import transfers
from tests.unit.test_hnb_session import MS, WAIT, FileServer, running_hnb, scripted_acs

CM = "3 Vendor Configuration File"
SECGW = "Device.Services.FAPService.1.FAPControl.UMTS.Gateway.SecGWServer1"


@contextlib.asynccontextmanager
async def file_server(credentials: dict[str, str] | None = None) -> AsyncIterator[FileServer]:
    fs = FileServer(credentials)
    await fs.start()
    try:
        yield fs
    finally:
        await fs.stop()


@contextlib.contextmanager
def ftp_server(root: Path) -> Iterator[str]:
    auth = DummyAuthorizer()
    auth.add_user("ftpuser", "ftppass", str(root), perm="elradfmw")
    # no 3 s penalty after a bad password: the tests try one on purpose
    handler = type("Handler", (FTPHandler,), {"authorizer": auth, "auth_failed_timeout": 0})
    server = FTPServer(("127.0.0.1", 0), handler)
    port = server.socket.getsockname()[1]
    t = threading.Thread(target=server.serve_forever, kwargs={"timeout": 0.1}, daemon=True)
    t.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.close_all()
        t.join(5)


async def _download_result(tmp_path: Path, url: str, **kw: object) -> tuple[rpc.TransferComplete,
                                                                           list[str], object]:
    """Run a Download through a real session; return the TransferComplete the ACS got,
    the next Inform's events, and the HNB (stopped)."""
    async with scripted_acs() as acs:
        acs.plan(rpc.Download("key-1", CM, url, **kw))  # type: ignore[arg-type]
        async with running_hnb(tmp_path, acs.url) as hnb:
            await asyncio.wait_for(hnb.wait_session(["7 TRANSFER COMPLETE"]), WAIT)
            s = acs.sessions[1]
    tc = s.received[0]
    assert isinstance(tc, rpc.TransferComplete)
    return tc, s.inform.event_codes(), hnb


async def test_download_good_cm_file_applies_everything(tmp_path: Path) -> None:
    async with file_server() as fs:
        fs.files["/cm/good.xml"] = write_cm_file({MS + "PeriodicInformInterval": "1234",
                                                  SECGW: "segw.serving.lab"})
        tc, events, hnb = await _download_result(tmp_path, fs.base + "/cm/good.xml")
    assert (tc.command_key, tc.fault_code) == ("key-1", 0)
    assert {"7 TRANSFER COMPLETE", "M Download"} <= set(events)
    assert hnb.get(MS + "PeriodicInformInterval") == "1234"  # type: ignore[attr-defined]
    assert hnb.get(SECGW) == "segw.serving.lab"  # type: ignore[attr-defined]
    assert tc.start_time != rpc.UNKNOWN_TIME and tc.complete_time != rpc.UNKNOWN_TIME


@pytest.mark.parametrize("content, why", [
    (b"<configDataFile><configData><managedElement><Device>", "not well-formed"),
    (b"this is not xml at all", "garbage"),
])
async def test_download_corrupt_cm_file_applies_nothing(tmp_path: Path, content: bytes,
                                                        why: str) -> None:
    async with file_server() as fs:
        fs.files["/cm/bad.xml"] = content
        tc, _, hnb = await _download_result(tmp_path, fs.base + "/cm/bad.xml")
    assert tc.fault_code == 9018, why
    assert "nothing applied" in tc.fault_string
    assert hnb.get(MS + "PeriodicInformInterval") == "3600"  # type: ignore[attr-defined]


async def test_download_one_invalid_parameter_applies_nothing(tmp_path: Path) -> None:
    async with file_server() as fs:
        fs.files["/cm/one-bad.xml"] = write_cm_file({
            MS + "PeriodicInformInterval": "1234",
            SECGW: "segw.serving.lab",
            MS + "CWMPRetryMinimumWaitInterval": "not-a-number"})
        tc, _, hnb = await _download_result(tmp_path, fs.base + "/cm/one-bad.xml")
    assert tc.fault_code == 9018
    assert "CWMPRetryMinimumWaitInterval" in tc.fault_string
    assert hnb.get(MS + "PeriodicInformInterval") == "3600"  # type: ignore[attr-defined]
    assert hnb.get(SECGW) == ""  # type: ignore[attr-defined]


async def test_download_failures_name_url_and_cause(tmp_path: Path) -> None:
    async with file_server({"fsuser": "fspass"}) as fs:
        fs.files["/cm/a.xml"] = write_cm_file({MS + "PeriodicInformInterval": "77"})
        url = fs.base + "/cm/a.xml"
        # digest-protected file: right credentials work
        data = await transfers.download(url, "fsuser", "fspass")
        assert parse_cm_file(data) == [(MS + "PeriodicInformInterval", "77")]
        with pytest.raises(transfers.TransferError) as e:
            await transfers.download(url, "fsuser", "wrong")
        assert e.value.code == 9012 and url in e.value.message
        with pytest.raises(transfers.TransferError) as e:
            await transfers.download(fs.base + "/cm/missing.xml", "fsuser", "fspass")
        assert e.value.code == 9016 and "404" in e.value.message
        with pytest.raises(transfers.TransferError) as e:
            await transfers.download(url, "fsuser", "fspass", file_size=len(data) + 1)
        assert e.value.code == 9017 and "FileSize" in e.value.message
    with pytest.raises(transfers.TransferError) as e:
        await transfers.download("http://127.0.0.1:9/cm/a.xml")
    assert e.value.code == 9015 and "127.0.0.1:9" in e.value.message


async def test_download_via_session_reports_fetch_failure(tmp_path: Path) -> None:
    async with file_server() as fs:
        tc, _, _ = await _download_result(tmp_path, fs.base + "/cm/nope.xml")
    assert tc.fault_code == 9016 and "/cm/nope.xml" in tc.fault_string


async def test_download_over_ftp(tmp_path: Path) -> None:
    root = tmp_path / "ftp"
    root.mkdir()
    (root / "cm.xml").write_bytes(write_cm_file({MS + "PeriodicInformInterval": "4321"}))
    with ftp_server(root) as hostport:
        tc, _, hnb = await _download_result(
            tmp_path, f"ftp://{hostport}/cm.xml", username="ftpuser", password="ftppass")
        with pytest.raises(transfers.TransferError) as e:
            await transfers.download(f"ftp://{hostport}/cm.xml", "ftpuser", "bad")
        assert e.value.code == 9012
        with pytest.raises(transfers.TransferError) as e:
            await transfers.download(f"ftp://ftpuser:ftppass@{hostport}/none.xml")
        assert e.value.code == 9016
    assert tc.fault_code == 0
    assert hnb.get(MS + "PeriodicInformInterval") == "4321"  # type: ignore[attr-defined]


async def test_upload_config_over_http_put(tmp_path: Path) -> None:
    async with file_server() as fs, scripted_acs() as acs:
        acs.plan(rpc.Upload("up-1", "1 Vendor Configuration File", fs.base + "/up/cfg.xml"),
                 rpc.Upload("up-2", "2 Vendor Log File", fs.base + "/up/log.txt"))
        async with running_hnb(tmp_path, acs.url) as hnb:
            await asyncio.wait_for(hnb.wait_session(["7 TRANSFER COMPLETE"]), WAIT)
            await acs.wait(lambda a: sum(isinstance(b, rpc.TransferComplete)
                                         for s in a.sessions for b in s.received) == 2)
        tcs = [b for s in acs.sessions for b in s.received if isinstance(b, rpc.TransferComplete)]
        assert sorted((t.command_key, t.fault_code) for t in tcs) == [("up-1", 0), ("up-2", 0)]
        pairs = dict(parse_cm_file(fs.stored["/up/cfg.xml"]))
        assert pairs[MS + "URL"] == acs.url
        assert MS + "ConnectionRequestPassword" not in pairs  # secrets stay on the device
        assert b"cwmp.tx" in fs.stored["/up/log.txt"]
        m_upload = [e for s in acs.sessions for e in s.inform.events if e.code == "M Upload"]
        assert {e.command_key for e in m_upload} == {"up-1", "up-2"}


async def test_upload_failures(tmp_path: Path) -> None:
    async with file_server() as fs:
        fs.fail_put = 500
        with pytest.raises(transfers.TransferError) as e:
            await transfers.upload(fs.base + "/up/x", b"data")
        assert e.value.code == 9011 and "500" in e.value.message
        fs.fail_put = 403
        with pytest.raises(transfers.TransferError) as e:
            await transfers.upload(fs.base + "/up/x", b"data", "u", "p")
        assert e.value.code == 9012
    with pytest.raises(transfers.TransferError) as e:
        await transfers.upload("http://127.0.0.1:9/up/x", b"data")
    assert e.value.code == 9011 and "cannot reach" in e.value.message
    with pytest.raises(transfers.TransferError) as e:
        await transfers.upload("gopher://host/x", b"data")
    assert e.value.code == 9013


async def test_upload_over_ftp(tmp_path: Path) -> None:
    root = tmp_path / "ftp"
    root.mkdir()
    with ftp_server(root) as hostport:
        await transfers.upload(f"ftp://{hostport}/pm.xml", b"<x/>", "ftpuser", "ftppass")
        with pytest.raises(transfers.TransferError) as e:
            await transfers.upload(f"ftp://{hostport}/no/such/dir/pm.xml", b"<x/>",
                                   "ftpuser", "ftppass")
        assert e.value.code == 9011 and "no/such/dir" in e.value.message
    assert (root / "pm.xml").read_bytes() == b"<x/>"


async def test_upload_over_sftp(tmp_path: Path) -> None:
    import asyncssh

    root = tmp_path / "sftp"
    root.mkdir()
    key = asyncssh.generate_private_key("ssh-ed25519")

    class Server(asyncssh.SSHServer):
        def begin_auth(self, username: str) -> bool:
            return True

        def password_auth_supported(self) -> bool:
            return True

        def validate_password(self, username: str, password: str) -> bool:
            return (username, password) == ("sftpuser", "sftppass")

    def sftp_factory(chan: asyncssh.SSHServerChannel) -> asyncssh.SFTPServer:
        return asyncssh.SFTPServer(chan, chroot=str(root))

    server = await asyncssh.listen("127.0.0.1", 0, server_host_keys=[key],
                                   server_factory=Server, sftp_factory=sftp_factory)
    port = server.sockets[0].getsockname()[1]
    try:
        await transfers.upload(f"sftp://127.0.0.1:{port}/pm.xml", b"<pm/>", "sftpuser",
                               "sftppass")
        with pytest.raises(transfers.TransferError) as e:
            await transfers.upload(f"sftp://127.0.0.1:{port}/pm.xml", b"<pm/>", "sftpuser",
                                   "nope")
        assert e.value.code == 9012
    finally:
        server.close()
        await server.wait_closed()
    assert (root / "pm.xml").read_bytes() == b"<pm/>"


async def test_unsupported_scheme_is_a_synchronous_9013(tmp_path: Path) -> None:
    async with scripted_acs() as acs:
        acs.plan(rpc.Download("k", CM, "tftp://127.0.0.1/cm.xml"),
                 rpc.Download("k2", "1 Firmware Upgrade Image", "http://127.0.0.1/fw.bin"))
        async with running_hnb(tmp_path, acs.url):
            s = await acs.wait_done(0)
    assert [f.code for f in s.received[1:]] == [9013, 9003]
    assert "tftp" in s.received[1].string


async def test_cwmp_1_0_session_folds_transfer_fault_codes(tmp_path: Path) -> None:
    """A CWMP 1.0 TransferComplete knows only 9010 for download failures."""
    from lab.cwmp import envelope

    async with file_server() as fs, scripted_acs() as acs:
        fs.files["/cm/bad.xml"] = b"<broken"
        acs.plan(rpc.Download("k10", CM, fs.base + "/cm/bad.xml"))
        async with running_hnb(tmp_path, acs.url, ns=envelope.NS_1_0) as hnb:
            await asyncio.wait_for(hnb.wait_session(["7 TRANSFER COMPLETE"]), WAIT)
        tc = acs.sessions[1].received[0]
    assert acs.sessions[1].ns == envelope.NS_1_0
    assert (tc.command_key, tc.fault_code) == ("k10", 9010)
    assert "nothing applied" in tc.fault_string


async def test_upload_over_ftps(tmp_path: Path) -> None:
    import ssl

    from pyftpdlib.handlers import TLS_FTPHandler

    from lab.pki import Pki

    pki = Pki.create(tmp_path / "pki", "unit")
    leaf = pki.issue_server("files", ["localhost"], ["127.0.0.1"])
    root = tmp_path / "ftps"
    root.mkdir()
    auth = DummyAuthorizer()
    auth.add_user("ftpuser", "ftppass", str(root), perm="elradfmw")
    handler = type("Handler", (TLS_FTPHandler,), {
        "authorizer": auth, "certfile": str(leaf.cert), "keyfile": str(leaf.key),
        "tls_control_required": True, "tls_data_required": True})
    server = FTPServer(("127.0.0.1", 0), handler)
    port = server.socket.getsockname()[1]
    t = threading.Thread(target=server.serve_forever, kwargs={"timeout": 0.1}, daemon=True)
    t.start()
    try:
        opts = transfers.TransferOptions(ssl=ssl.create_default_context(cafile=str(pki.ca_path)))
        await transfers.upload(f"ftps://127.0.0.1:{port}/pm.xml", b"<tls/>", "ftpuser",
                               "ftppass", options=opts)
        # a server the HNB does not trust: refused before any credentials are sent
        with pytest.raises(transfers.TransferError) as e:
            await transfers.upload(f"ftps://127.0.0.1:{port}/pm2.xml", b"<tls/>", "ftpuser",
                                   "ftppass")
        assert e.value.code == 9011
    finally:
        server.close_all()
        t.join(5)
    assert (root / "pm.xml").read_bytes() == b"<tls/>"
    assert not (root / "pm2.xml").exists()


async def test_download_with_basic_auth(tmp_path: Path) -> None:
    import base64

    from aiohttp import web

    want = "Basic " + base64.b64encode(b"bu:bp").decode()

    async def handler(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != want:
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="f"'})
        return web.Response(body=b"payload")

    app = web.Application()
    app.router.add_get("/f", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        assert await transfers.download(f"http://127.0.0.1:{port}/f", "bu", "bp") == b"payload"
        with pytest.raises(transfers.TransferError) as e:
            await transfers.download(f"http://127.0.0.1:{port}/f", "bu", "nope")
        assert e.value.code == 9012
    finally:
        await runner.cleanup()
