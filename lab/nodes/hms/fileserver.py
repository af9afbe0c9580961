"""The HMS file server (TS 32.583 4.2.1, 5.3.1, 5.6.2): CM files out, PM files in.

Layout under <state_dir>/files/:  cm/  files the HNB downloads (GET / RETR / SFTP read)
                                  pm/  files the HNB uploads (PUT, POST, STOR, SFTP write)
                                  .partial/  uploads in progress
Transports: HTTP and HTTPS (aiohttp), FTP and explicit FTPS (pyftpdlib, one thread for
both; FTPS uses the HMS certificate and requires TLS on control and data), SFTP (asyncssh,
host key generated into the state dir). Every transport authenticates with the one
user/password of the settings (HTTP: Digest or Basic).

Paths: only "/cm/<name>" and "/pm/<name>" exist ("cm/<name>" also, for FTP/SFTP relative
names); <name> is [A-Za-z0-9][A-Za-z0-9._+,=@-]*. A ".." segment, an absolute path inside
the name, a backslash or NUL is refused with an error that says which (HTTP 400, FTP 553,
SFTP permission denied) and a "file.rejected" event.

An upload is stored whole or not at all: it is written under .partial/, fsynced, then
renamed into pm/ when the transfer completed (HTTP: all Content-Length bytes arrived;
FTP: the data connection closed after the whole file; SFTP: the client closed the handle);
a broken transfer leaves nothing (and .partial/ is emptied at start). Each stored file is
recorded in the store (files table) and as a "file.rx" event with transport, size, sha256.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import re
import ssl
import sys
import threading
import uuid
from base64 import b64decode
from pathlib import Path
from typing import Any

import asyncssh
from aiohttp import web
from multidict import CIMultiDict
from OpenSSL import SSL
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.exceptions import _RetryError
from pyftpdlib.handlers import DTPHandler, FTPHandler, TLS_FTPHandler
from pyftpdlib.ioloop import _ERRNOS_DISCONNECTED, _ERRNOS_RETRY, IOLoop
from pyftpdlib.servers import FTPServer

from lab.cwmp.digest import DigestVerifier
from lab.nodes.hms.context import HmsContext
from lab.nodes.hms.pmfiles import check_file
from lab.nodes.hms.store import FileRecord

log = logging.getLogger(__name__)
# pyftpdlib logs every command at INFO and, when it finds logging unconfigured, installs
# its own stderr handler: a NullHandler keeps it from doing so; our events say what matters.
logging.getLogger("pyftpdlib").setLevel(logging.WARNING)
logging.getLogger("pyftpdlib").addHandler(logging.NullHandler())

USER_KEY = web.RequestKey("user", str)
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+,=@-]{0,199}")
DIRS = ("cm", "pm")


class PathRejected(ValueError):
    """A path the file server refuses; the message says why."""


def _check_chars(path: str) -> None:
    if "\x00" in path or "\\" in path:
        raise PathRejected(f"path {path!r}: backslash or NUL not allowed")
    if ".." in path.split("/"):
        raise PathRejected(f"path {path!r}: '..' (path traversal) not allowed")


def check_name(name: str) -> str:
    _check_chars(name)
    if name.startswith("/"):
        raise PathRejected(f"file name {name!r}: absolute paths not allowed")
    if "/" in name:
        raise PathRejected(f"file name {name!r}: subdirectories not allowed")
    if not NAME_RE.fullmatch(name):
        raise PathRejected(f"file name {name!r}: use letters, digits and . _ + , = @ - "
                           "(first a letter or digit), at most 200 characters")
    return name


class FileArea:
    """The directories and the whole-or-nothing commit shared by every transport."""

    def __init__(self, root: Path, ctx: HmsContext) -> None:
        self.root = root.resolve()
        self.ctx = ctx
        self.partial = self.root / ".partial"
        for d in (*DIRS, ".partial"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        for leftover in self.partial.iterdir():  # a crash mid-upload: not a file
            leftover.unlink(missing_ok=True)

    def dir(self, kind: str) -> Path:
        return self.root / kind

    def resolve(self, path: str, *, write: bool) -> tuple[str, str]:
        """(kind, name) of an FTP/SFTP-style path "/pm/x", "pm/x"; raises PathRejected."""
        _check_chars(path)
        rel = path[1:] if path.startswith("/") else path
        if rel.startswith("/"):
            raise PathRejected(f"path {path!r}: absolute paths outside the file area not allowed")
        segs = rel.split("/")
        if len(segs) != 2 or segs[0] not in DIRS:
            raise PathRejected(f"path {path!r}: files are /cm/<name> (download) and "
                               "/pm/<name> (upload)")
        if write and segs[0] != "pm":
            raise PathRejected(f"path {path!r}: uploads go to /pm/<name>")
        return segs[0], check_name(segs[1])

    def start(self) -> Path:
        return self.partial / f"{uuid.uuid4().hex}.part"

    def commit(self, tmp: Path, name: str, *, transport: str, user: str = "",
               peer: str | None = None) -> FileRecord:
        """fsync, rename into pm/, record; the file is visible only once whole."""
        h, size = hashlib.sha256(), 0
        with tmp.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 16), b""):
                h.update(chunk)
                size += len(chunk)
            os.fsync(f.fileno())
        final = self.dir("pm") / name
        os.replace(tmp, final)
        _fsync_dir(final.parent)
        device = self.device_for(name, peer)
        rec = self.ctx.store.add_file(kind="pm", name=name, path=str(final), size=size,
                                      sha256=h.hexdigest(), transport=transport, device=device,
                                      user=user)
        # is it a TS 32.435 measCollec file? (5.6.2: the HMS lists the files and they parse)
        meas = check_file(final)
        self.ctx.emit("file.rx", f"{transport} upload {name} ({size} bytes)", peer=peer,
                      device=device, dir="in", msg="FileUpload", transport=transport,
                      name=name, size=size, sha256=rec.sha256, user=user, **meas)
        return rec

    def abort(self, tmp: Path, name: str, *, transport: str, reason: str,
              peer: str | None = None) -> None:
        tmp.unlink(missing_ok=True)
        self.ctx.emit("file.incomplete", f"{transport} upload {name} discarded: {reason}",
                      peer=peer, dir="in", msg="FileUpload", transport=transport, name=name,
                      reason=reason)

    def add_cm(self, name: str, data: bytes, *, transport: str = "api", user: str = "",
               device: str | None = None) -> FileRecord:
        """Offer a CM file for download (written atomically too)."""
        check_name(name)
        tmp = self.start()
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        final = self.dir("cm") / name
        os.replace(tmp, final)
        _fsync_dir(final.parent)
        rec = self.ctx.store.add_file(kind="cm", name=name, path=str(final), size=len(data),
                                      sha256=hashlib.sha256(data).hexdigest(),
                                      transport=transport, device=device, user=user)
        self.ctx.emit("file.cm_offered", f"CM file {name} ({len(data)} bytes)", device=device,
                      name=name, size=len(data), sha256=rec.sha256)
        return rec

    def device_for(self, name: str, peer: str | None) -> str | None:
        """The device a received file belongs to: its id or serial in the name, else its
        (inner) address."""
        devices = self.ctx.store.list_devices()
        for d in devices:
            if d.id in name or (len(d.serial) >= 4 and d.serial in name):
                return d.id
        for d in devices:
            if peer and peer in (d.ip, d.inner_ip):
                return d.id
        return None

    def rejected(self, transport: str, reason: str, peer: str | None) -> None:
        self.ctx.emit("file.rejected", f"{transport}: {reason}", peer=peer,
                      transport=transport, reason=reason)


def _fsync_dir(d: Path) -> None:
    fd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ---- HTTP / HTTPS -----------------------------------------------------------------------------

_BAD_RAW = re.compile(r"(^|/)(\.|%2e){2}(/|$)|%2f|%5c|%00|\\|//", re.IGNORECASE)


class HttpFiles:
    def __init__(self, area: FileArea, user: str, password: str, max_upload: int) -> None:
        self.area, self.user, self.password, self.max_upload = area, user, password, max_upload
        self.digest = DigestVerifier(realm="hms-files", credentials={user: password})

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard], client_max_size=self.max_upload)
        app.router.add_get("/cm/{name}", self.get_cm)
        app.router.add_put("/pm/{name}", self.put_pm)
        app.router.add_post("/pm/{name}", self.put_pm)
        app.router.add_post("/pm/", self.post_multipart)
        return app

    def _auth_ok(self, request: web.Request) -> tuple[str | None, str]:
        hdr = request.headers.get("Authorization", "")
        if hdr[:6].lower() == "basic ":
            try:
                user, _, pw = b64decode(hdr[6:].strip()).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                return None, "malformed Basic credentials"
            ok = (hmac.compare_digest(user.encode(), self.user.encode())
                  and hmac.compare_digest(pw.encode(), self.password.encode()))
            return (user, "") if ok else (None, f"wrong user or password for {user!r}")
        if hdr[:7].lower() == "digest ":
            user = self.digest.verify(request.method, request.path_qs, hdr)
            return (user, "") if user else (None, self.digest.last_error)
        return None, "no credentials"

    @web.middleware
    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        raw = request.raw_path.split("?", 1)[0]
        if _BAD_RAW.search(raw):
            reason = f"path {raw!r} refused: '..', encoded '/' or '\\', or '//' not allowed"
            self.area.rejected("http", reason, request.remote)
            return web.Response(status=400, text=reason + "\n")
        user, why = self._auth_ok(request)
        if user is None:
            if why != "no credentials":
                self.area.rejected("http", f"{request.method} {raw}: authentication failed: "
                                   f"{why}", request.remote)
            headers = CIMultiDict([("WWW-Authenticate", self.digest.challenge()),
                                   ("WWW-Authenticate", 'Basic realm="hms-files"')])
            return web.Response(status=401, headers=headers,
                                text=f"authentication required ({why})\n")
        request[USER_KEY] = user
        return await handler(request)

    def _name(self, request: web.Request) -> str:
        try:
            return check_name(request.match_info["name"])
        except PathRejected as exc:
            self.area.rejected("http", str(exc), request.remote)
            raise web.HTTPBadRequest(text=f"{exc}\n") from None

    async def get_cm(self, request: web.Request) -> web.StreamResponse:
        name = self._name(request)
        path = self.area.dir("cm") / name
        if not path.is_file():
            raise web.HTTPNotFound(text=f"no CM file {name!r} on this server\n")
        self.area.ctx.emit("file.tx", f"http download {name}", peer=request.remote,
                           device=self.area.device_for(name, request.remote), dir="out",
                           msg="FileDownload", transport=request.scheme, name=name,
                           size=path.stat().st_size)
        return web.FileResponse(path)

    async def put_pm(self, request: web.Request) -> web.Response:
        name = self._name(request)
        return await self._receive(request, name, request.content, request.content_length)

    async def post_multipart(self, request: web.Request) -> web.Response:
        if not request.content_type.startswith("multipart/"):
            raise web.HTTPBadRequest(text="POST /pm/ needs multipart/form-data with a file; "
                                          "or PUT/POST the body to /pm/<name>\n")
        reader = await request.multipart()
        async for part in reader:
            if getattr(part, "filename", None):
                try:
                    name = check_name(part.filename or "")
                except PathRejected as exc:
                    self.area.rejected("http", str(exc), request.remote)
                    raise web.HTTPBadRequest(text=f"{exc}\n") from None
                return await self._receive(request, name, part, None)
        raise web.HTTPBadRequest(text="multipart body has no file part (no filename)\n")

    async def _receive(self, request: web.Request, name: str, source: Any,
                       expected: int | None) -> web.Response:
        if expected is not None and expected > self.max_upload:
            raise web.HTTPRequestEntityTooLarge(max_size=self.max_upload, actual_size=expected)
        tmp = self.area.start()
        transport = request.scheme
        total = 0
        try:
            with tmp.open("wb") as f:
                while True:
                    chunk = await (source.read_chunk(1 << 16) if hasattr(source, "read_chunk")
                                   else source.readany())
                    if not chunk:
                        break
                    total += len(chunk)
                    if total > self.max_upload:
                        raise web.HTTPRequestEntityTooLarge(max_size=self.max_upload,
                                                            actual_size=total)
                    f.write(chunk)
            if expected is not None and total != expected:
                raise ConnectionResetError(f"got {total} of {expected} bytes")
        except (Exception, asyncio.CancelledError) as exc:
            self.area.abort(tmp, name, transport=transport, peer=request.remote,
                            reason=f"{type(exc).__name__}: {exc}")
            raise
        rec = await asyncio.to_thread(self.area.commit, tmp, name, transport=transport,
                                      user=request.get(USER_KEY, ""), peer=request.remote)
        return web.json_response({"name": rec.name, "size": rec.size, "sha256": rec.sha256},
                                 status=201)


# ---- FTP / FTPS (pyftpdlib in one thread) ------------------------------------------------------

_PATH_CMDS = {"STOR", "APPE", "RETR", "CWD", "XCWD", "LIST", "NLST", "MLSD", "MLST", "SIZE",
              "MDTM", "DELE", "RNFR", "RNTO", "MKD", "XMKD", "RMD", "XRMD", "STAT", "SITE CHMOD"}


def _dtp_handler(base: type[DTPHandler]) -> type[DTPHandler]:
    """A data channel that tells a cut connection from the end of a file.

    FTP (stream mode) ends a file by closing the data connection, so an orderly close
    (FIN) is the end of the upload; a reset is a broken transfer. Over TLS the end is the
    sender's close_notify; a TCP close without it (or a reset) is a truncated upload.
    pyftpdlib treats all of these as "complete", hence this recv()."""

    class Dtp(base):  # type: ignore[valid-type,misc]
        def recv(self, buffer_size: int) -> bytes:
            if not self.receive:
                return super().recv(buffer_size)
            try:
                data = self.socket.recv(buffer_size)
            except SSL.ZeroReturnError:  # close_notify: the sender's orderly end
                DTPHandler.handle_close(self)
                return b""
            except SSL.WantReadError as err:
                self._ssl_want_read = True
                raise _RetryError from err
            except SSL.WantWriteError as err:
                self._ssl_want_write = True
                raise _RetryError from err
            except SSL.SysCallError as err:
                return self._broken(f"TLS data connection cut without close_notify ({err})")
            except OSError as err:
                if err.errno in _ERRNOS_DISCONNECTED:
                    return self._broken("data connection reset")
                if err.errno in _ERRNOS_RETRY:
                    raise _RetryError from err
                raise
            if not data:
                if isinstance(self.socket, SSL.Connection):
                    return self._broken("TLS data connection closed without close_notify")
                self.handle_close()
                return b""
            return data

        def _broken(self, why: str) -> bytes:
            self._resp = (f"426 {why}: upload discarded.", log.debug)
            self.cmd_channel.broken_reason = why
            self.close()  # transfer_finished is False: on_incomplete_file_received
            return b""

    return Dtp


def _ftp_handler(base: type[FTPHandler], area: FileArea, transport: str) -> type[FTPHandler]:
    class Handler(base):  # type: ignore[valid-type,misc]
        dtp_handler = _dtp_handler(base.dtp_handler)

        def __init__(self, *a: Any, **kw: Any) -> None:
            super().__init__(*a, **kw)
            self._uploads: dict[str, str] = {}
            self.broken_reason = ""  # set by the data channel when it sees a cut

        def _peer(self) -> str | None:
            return self.remote_ip

        def pre_process_command(self, line: str, cmd: str, arg: str) -> None:
            if cmd in ("APPE", "STOU") and self.authenticated:
                self.respond(f"550 {cmd} not supported: uploads are stored whole (use STOR).")
                return
            if cmd in _PATH_CMDS and arg:
                try:
                    _check_chars(arg)
                except PathRejected as exc:
                    area.rejected(transport, str(exc), self._peer())
                    self.respond(f"553 {exc}.")
                    return
            super().pre_process_command(line, cmd, arg)

        def ftp_STOR(self, file: str, mode: str = "w") -> str | None:
            if mode != "w" or self._restart_position:
                self._restart_position = 0
                self.respond("550 Append/resume not supported: uploads are stored whole.")
                return None
            try:
                _, name = area.resolve("/" + os.path.relpath(file, area.root), write=True)
            except PathRejected as exc:
                area.rejected(transport, str(exc), self._peer())
                self.respond(f"553 {exc}.")
                return None
            tmp = area.start()
            self._uploads[str(tmp)] = name
            return super().ftp_STOR(str(tmp), mode)

        def on_file_received(self, file: str) -> None:
            name = self._uploads.pop(file, None)
            if name is not None:
                area.commit(Path(file), name, transport=transport, user=self.username or "",
                            peer=self._peer())

        def on_incomplete_file_received(self, file: str) -> None:
            name = self._uploads.pop(file, None)
            why, self.broken_reason = self.broken_reason, ""
            if name is not None:
                area.abort(Path(file), name, transport=transport, peer=self._peer(),
                           reason=why or "transfer aborted (ABOR) or connection lost")

        def on_file_sent(self, file: str) -> None:
            name = os.path.basename(file)
            area.ctx.emit("file.tx", f"{transport} download {name}", peer=self._peer(),
                          device=area.device_for(name, self._peer()), dir="out",
                          msg="FileDownload", transport=transport, name=name)

        def on_login_failed(self, username: str, password: str) -> None:
            area.rejected(transport, f"login refused for {username!r}", self._peer())

        def on_disconnect(self) -> None:
            for tmp, name in list(self._uploads.items()):
                area.abort(Path(tmp), name, transport=transport, peer=self._peer(),
                           reason="client disconnected")
            self._uploads.clear()

    return Handler


class FtpServers:
    """FTP and/or explicit FTPS on one pyftpdlib IOLoop, run in a daemon thread."""

    def __init__(self, area: FileArea, *, host: str, user: str, password: str,
                 ftp_port: int | None, ftps_port: int | None, certfile: Path | None,
                 keyfile: Path | None, passive_ports: tuple[int, int] | None,
                 masquerade: str | None, auth_failed_delay: float = 1.0) -> None:
        self.ioloop = IOLoop()
        self.ports: dict[str, int] = {}
        self._stop = threading.Event()
        auth = DummyAuthorizer()
        # "w" everywhere so that a STOR outside /pm/ reaches ftp_STOR and gets its clear
        # 553 reason; ftp_STOR itself admits only /pm/<name> (no MKD, DELE, RNFR: no m/d/f).
        auth.add_user(user, password, str(area.root), perm="elrw")
        self._servers: list[FTPServer] = []
        for transport, port, base in (("ftp", ftp_port, FTPHandler),
                                      ("ftps", ftps_port, TLS_FTPHandler)):
            if port is None:
                continue
            handler = _ftp_handler(base, area, transport)
            handler.authorizer = auth
            handler.banner = "hnblab HMS file server"
            handler.permit_foreign_addresses = False
            handler.auth_failed_timeout = auth_failed_delay
            if passive_ports:
                handler.passive_ports = list(range(passive_ports[0], passive_ports[1] + 1))
            if masquerade:
                handler.masquerade_address = masquerade
            if transport == "ftps":
                if not (certfile and keyfile):
                    raise ValueError("settings.files.ftps_port needs settings.tls_cert/tls_key")
                handler.certfile, handler.keyfile = str(certfile), str(keyfile)
                handler.tls_control_required = True
                handler.tls_data_required = True
            server = FTPServer((host, port), handler, ioloop=self.ioloop)
            self.ports[transport] = server.socket.getsockname()[1]
            self._servers.append(server)
        self._thread = threading.Thread(target=self._run, name="hms-ftp", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.ioloop.loop(0.05, blocking=False)
        self.ioloop.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


# ---- SFTP (asyncssh) --------------------------------------------------------------------------


class _SshServer(asyncssh.SSHServer):
    def __init__(self, area: FileArea, user: str, password: str) -> None:
        self.area, self.user, self.password = area, user, password
        self.peer: str | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        peer = conn.get_extra_info("peername")
        self.peer = peer[0] if peer else None

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        ok = (hmac.compare_digest(username.encode(), self.user.encode())
              and hmac.compare_digest(password.encode(), self.password.encode()))
        if not ok:
            self.area.rejected("sftp", f"login refused for {username!r}", self.peer)
        return ok


class _Sftp(asyncssh.SFTPServer):
    """Confined to the file area; writes only to pm/ via .partial/."""

    def __init__(self, chan: asyncssh.SSHServerChannel, area: FileArea) -> None:
        super().__init__(chan, chroot=bytes(area.root))
        self.area = area
        self.user = chan.get_extra_info("username") or ""
        peer = chan.get_extra_info("peername")
        self.peer = peer[0] if peer else None
        self._uploads: dict[int, tuple[Path, str]] = {}

    def _deny(self, path: bytes | str, what: str) -> None:
        reason = f"{what} {path!r} not allowed"
        self.area.rejected("sftp", reason, self.peer)
        raise asyncssh.SFTPPermissionDenied(reason)

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        p = path.decode("utf-8", "replace")
        write = bool(pflags & (asyncssh.FXF_WRITE | asyncssh.FXF_CREAT | asyncssh.FXF_TRUNC
                               | asyncssh.FXF_APPEND))
        try:
            kind, name = self.area.resolve(p, write=write)
        except PathRejected as exc:
            self.area.rejected("sftp", str(exc), self.peer)
            raise asyncssh.SFTPPermissionDenied(str(exc)) from None
        if not write:
            try:
                return (self.area.dir(kind) / name).open("rb")
            except FileNotFoundError:
                raise asyncssh.SFTPNoSuchFile(f"no file {p!r}") from None
        if pflags & asyncssh.FXF_APPEND:
            raise asyncssh.SFTPOpUnsupported("append not supported: uploads are stored whole")
        tmp = self.area.start()
        f = tmp.open("wb")
        self._uploads[id(f)] = (tmp, name)
        return f

    def close(self, file_obj: Any) -> None:
        # asyncssh calls close() both for the client's CLOSE request and when it tears the
        # session down; only the former means the client finished writing.
        explicit = sys._getframe(1).f_code.co_name == "_process_close"
        file_obj.close()
        up = self._uploads.pop(id(file_obj), None)
        if up is None:
            return
        tmp, name = up
        if explicit:
            self.area.commit(tmp, name, transport="sftp", user=self.user, peer=self.peer)
        else:
            self.area.abort(tmp, name, transport="sftp", peer=self.peer,
                            reason="session ended before the file was closed")

    def remove(self, path: bytes) -> None:
        self._deny(path, "remove")

    def rename(self, oldpath: bytes, newpath: bytes) -> None:
        self._deny(oldpath, "rename")

    def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        self._deny(oldpath, "rename")

    def mkdir(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        self._deny(path, "mkdir")

    def rmdir(self, path: bytes) -> None:
        self._deny(path, "rmdir")

    def symlink(self, oldpath: bytes, newpath: bytes) -> None:
        self._deny(newpath, "symlink")

    def link(self, oldpath: bytes, newpath: bytes) -> None:
        self._deny(newpath, "link")

    def setstat(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        self._deny(path, "setstat")


def host_key(state_dir: Path) -> asyncssh.SSHKey:
    path = state_dir / "ssh_host_ed25519_key"
    if not path.exists():
        key = asyncssh.generate_private_key("ssh-ed25519")
        path.parent.mkdir(parents=True, exist_ok=True)
        key.write_private_key(str(path))
        path.chmod(0o600)
    return asyncssh.read_private_key(str(path))


async def start_sftp(area: FileArea, *, host: str, port: int, user: str, password: str,
                     state_dir: Path) -> asyncssh.SSHAcceptor:
    key = host_key(state_dir)
    return await asyncssh.create_server(
        lambda: _SshServer(area, user, password), host, port, server_host_keys=[key],
        sftp_factory=lambda chan: _Sftp(chan, area), allow_scp=False,
        process_factory=None, session_factory=None)


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert), str(key))
    return ctx
