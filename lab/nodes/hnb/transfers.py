"""File transfers the HNB makes: Download (CM file) and Upload (config/log/PM files).

Transports: HTTP/HTTPS (aiohttp; Basic or Digest, whichever the server challenges with),
FTP (ftplib in a worker thread), FTPS (ftplib.FTP_TLS, explicit TLS, protected data
channel), SFTP (asyncssh). Credentials come from the RPC arguments, else from the URL's
userinfo.

Fault codes (TR-069 fault table; TransferComplete may only carry 0, 9001, 9002, 9010-9012,
9014-9019 and vendor codes, so 9013 is raised synchronously in the Download/Upload
response by `check_scheme`, never in a TransferComplete):
  9013 unsupported protocol (scheme)                 -> Fault on the Download/Upload RPC
  9012 file server refused the credentials            (401/403, FTP 530, SSH auth)
  9015 cannot reach the file server                   (DNS, refused, TLS handshake)
  9016 server reached but file not accessible         (404, other HTTP error, FTP 550)
  9017 transfer started but did not complete          (timeout, short read, size mismatch)
  9018 file corrupted or otherwise unusable           (CM file unparseable, or a parameter
                                                       in it rejected: nothing applied)
  9011 upload failure                                 (anything that stops an Upload)
The CWMP 1.0 schema only knows 9010 for download failures; the codec (lab.cwmp.envelope)
folds 9014-9019 into 9010 when the session speaks urn:dslforum-org:cwmp-1-0.
"""

from __future__ import annotations

import asyncio
import base64
import ftplib
import io
import ssl as ssl_mod
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import aiohttp
import aiohttp.abc

from lab.cwmp import rpc
from lab.cwmp.faults import CwmpError

SCHEMES = ("http", "https", "ftp", "ftps", "sftp")

DOWNLOAD_FAILURE = 9010
UPLOAD_FAILURE = 9011
AUTH_FAILURE = 9012
UNSUPPORTED_PROTOCOL = 9013
CONTACT_FAILURE = 9015
ACCESS_FAILURE = 9016
INCOMPLETE = 9017
CORRUPTED = 9018

CM_FILE_TYPE = "3 Vendor Configuration File"


class TransferError(Exception):
    """A failed transfer: `code` is the TR-069 fault code, `message` names URL and cause."""

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code} {message}")


@dataclass
class TransferOptions:
    ssl: ssl_mod.SSLContext | None = None  # HTTPS/FTPS trust; None = system defaults
    timeout: float = 30.0
    # SFTP host keys: a known_hosts file path; None accepts any host key (the lab has no
    # host key distribution; the file server is reached inside the operator network).
    sftp_known_hosts: str | None = None
    # names resolved through this (the network side's inner/outer DNS); None = system
    resolver: aiohttp.abc.AbstractResolver | None = None


def check_scheme(url: str, what: str) -> None:
    """Raise CwmpError 9013 (synchronous RPC fault) for a scheme we do not transfer over."""
    scheme = urlsplit(url).scheme.lower()
    if not scheme or scheme not in SCHEMES:
        raise CwmpError(UNSUPPORTED_PROTOCOL,
                        f"{what}: URL {url!r}: unsupported transfer protocol "
                        f"{scheme or '(none)'!r}; supported: {', '.join(SCHEMES)}")


def basic_auth_header(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _credentials(url: str, username: str, password: str) -> tuple[str, str]:
    parts = urlsplit(url)
    if not username and parts.username:
        return unquote(parts.username), unquote(parts.password or "")
    return username, password


def _strip_userinfo(url: str) -> str:
    p = urlsplit(url)
    if "@" not in p.netloc:
        return url
    host = p.netloc.rsplit("@", 1)[1]
    return p._replace(netloc=host).geturl()


# ---- HTTP / HTTPS -------------------------------------------------------------------------


async def _http(method: str, url: str, username: str, password: str, opts: TransferOptions,
                data: bytes | None, fail_code: int) -> bytes:
    middlewares = (aiohttp.DigestAuthMiddleware(username, password),) if username else ()
    timeout = aiohttp.ClientTimeout(total=opts.timeout)
    ssl_arg: Any = opts.ssl if opts.ssl is not None else True
    url = _strip_userinfo(url)
    try:
        connector = aiohttp.TCPConnector(resolver=opts.resolver) if opts.resolver else None
        async with aiohttp.ClientSession(middlewares=middlewares, timeout=timeout,
                                         connector=connector) as s:
            resp = await s.request(method, url, data=data, ssl=ssl_arg)
            challenge = resp.headers.get("WWW-Authenticate", "")
            if resp.status == 401 and username and challenge.lower().startswith("basic"):
                resp.release()
                resp = await s.request(method, url, data=data, ssl=ssl_arg,
                                       headers=basic_auth_header(username, password))
            async with resp:
                body = await resp.read()
                if resp.status in (401, 403):
                    who = f"as {username!r}" if username else "without credentials"
                    raise TransferError(AUTH_FAILURE,
                                        f"{method} {url}: server refused access {who} "
                                        f"(HTTP {resp.status})")
                if resp.status >= 300:
                    raise TransferError(fail_code,
                                        f"{method} {url}: HTTP {resp.status} {resp.reason}")
                return body
    except TransferError:
        raise
    except TimeoutError as exc:  # before OSError: TimeoutError is one
        code = INCOMPLETE if fail_code != UPLOAD_FAILURE else UPLOAD_FAILURE
        raise TransferError(code, f"{method} {url}: timed out after {opts.timeout:g} s") \
            from exc
    except (aiohttp.ClientConnectorError, aiohttp.ClientSSLError) as exc:
        code = CONTACT_FAILURE if fail_code != UPLOAD_FAILURE else UPLOAD_FAILURE
        raise TransferError(code, f"{method} {url}: cannot reach the file server: {exc}") \
            from exc
    except (aiohttp.ClientError, OSError) as exc:
        code = INCOMPLETE if fail_code != UPLOAD_FAILURE else UPLOAD_FAILURE
        raise TransferError(code, f"{method} {url}: transfer failed: {exc}") from exc


# ---- FTP / FTPS (blocking ftplib in a thread) ---------------------------------------------


async def _address(host: str, opts: TransferOptions) -> str:
    """The address to dial: names go through the network side's resolver when there is
    one (the inner DNS inside the tunnel), as they do for HTTP."""
    if opts.resolver is None:
        return host
    try:
        found = await opts.resolver.resolve(host, 0)
    except (OSError, RuntimeError):  # the network side's ResolveError is a RuntimeError
        return host  # let the connect fail and report the host as written
    return str(found[0]["host"]) if found else host


def _ftp_blocking(url: str, username: str, password: str, opts: TransferOptions,
                  data: bytes | None, address: str | None = None) -> bytes:
    p = urlsplit(url)
    host, port = address or p.hostname or "", p.port or 21
    path = unquote(p.path) or "/"
    tls = p.scheme.lower() == "ftps"
    op = "STOR" if data is not None else "RETR"
    fail = UPLOAD_FAILURE if data is not None else ACCESS_FAILURE
    ftp: ftplib.FTP
    if tls:
        ftp = ftplib.FTP_TLS(context=opts.ssl or ssl_mod.create_default_context(),
                             timeout=opts.timeout)
    else:
        ftp = ftplib.FTP(timeout=opts.timeout)
    try:
        try:
            ftp.connect(host, port)
        except OSError as exc:
            code = UPLOAD_FAILURE if data is not None else CONTACT_FAILURE
            raise TransferError(code, f"{op} {_strip_userinfo(url)}: cannot reach the FTP "
                                      f"server {host}:{port}: {exc}") from exc
        try:
            ftp.login(username or "anonymous", password or "anonymous@")
            if isinstance(ftp, ftplib.FTP_TLS):
                ftp.prot_p()  # encrypt the data channel too
        except ftplib.error_perm as exc:
            raise TransferError(AUTH_FAILURE, f"{op} {_strip_userinfo(url)}: FTP login as "
                                              f"{username or 'anonymous'!r} refused: {exc}") \
                from exc
        except (OSError, EOFError) as exc:  # TLS handshake (untrusted server), dropped line
            code = UPLOAD_FAILURE if data is not None else CONTACT_FAILURE
            what = "TLS with" if tls else "login to"
            raise TransferError(code, f"{op} {_strip_userinfo(url)}: {what} {host}:{port} "
                                      f"failed: {exc}") from exc
        try:
            if data is not None:
                ftp.storbinary(f"STOR {path}", io.BytesIO(data))
                return b""
            buf = io.BytesIO()
            ftp.retrbinary(f"RETR {path}", buf.write)
            return buf.getvalue()
        except ftplib.error_perm as exc:
            raise TransferError(fail, f"{op} {_strip_userinfo(url)}: {exc}") from exc
        except (ftplib.Error, OSError, EOFError) as exc:
            code = UPLOAD_FAILURE if data is not None else INCOMPLETE
            raise TransferError(code, f"{op} {_strip_userinfo(url)}: transfer failed: "
                                      f"{exc or type(exc).__name__}") from exc
    except ftplib.Error as exc:  # any other protocol-level surprise (login, PROT)
        code = UPLOAD_FAILURE if data is not None else DOWNLOAD_FAILURE
        raise TransferError(code, f"{op} {_strip_userinfo(url)}: FTP error: {exc}") from exc
    finally:
        try:
            ftp.quit()
        except (ftplib.Error, OSError, EOFError, AttributeError):
            ftp.close()


# ---- SFTP -----------------------------------------------------------------------------------


async def _sftp(url: str, username: str, password: str, opts: TransferOptions,
                data: bytes | None) -> bytes:
    import asyncssh  # imported here: only SFTP needs it, and it is slow to import

    p = urlsplit(url)
    host, port = await _address(p.hostname or "", opts), p.port or 22
    path = unquote(p.path) or "/"
    op = "put" if data is not None else "get"
    clean = _strip_userinfo(url)
    try:
        async with asyncio.timeout(opts.timeout):
            async with asyncssh.connect(
                host, port, username=username or None, password=password or None,
                known_hosts=opts.sftp_known_hosts, client_keys=None,
            ) as conn, conn.start_sftp_client() as sftp:
                if data is not None:
                    async with sftp.open(path, "wb") as f:
                        await f.write(data)
                    return b""
                async with sftp.open(path, "rb") as f:
                    return bytes(await f.read())
    except asyncssh.PermissionDenied as exc:
        raise TransferError(AUTH_FAILURE, f"SFTP {op} {clean}: login as {username!r} "
                                          f"refused: {exc.reason}") from exc
    except asyncssh.SFTPError as exc:
        code = UPLOAD_FAILURE if data is not None else ACCESS_FAILURE
        raise TransferError(code, f"SFTP {op} {clean}: {exc.reason}") from exc
    except TimeoutError as exc:
        code = UPLOAD_FAILURE if data is not None else INCOMPLETE
        raise TransferError(code, f"SFTP {op} {clean}: timed out after {opts.timeout:g} s") \
            from exc
    except (OSError, asyncssh.Error) as exc:
        code = UPLOAD_FAILURE if data is not None else CONTACT_FAILURE
        raise TransferError(code, f"SFTP {op} {clean}: cannot reach/use the SSH server "
                                  f"{host}:{port}: {exc}") from exc


# ---- public API -------------------------------------------------------------------------------


async def download(url: str, username: str = "", password: str = "", *, file_size: int = 0,
                   options: TransferOptions | None = None) -> bytes:
    """Fetch `url`; raises TransferError (see the module doc for the codes)."""
    opts = options or TransferOptions()
    scheme = urlsplit(url).scheme.lower()
    if scheme not in SCHEMES:
        raise TransferError(UNSUPPORTED_PROTOCOL, f"download {url}: unsupported scheme "
                                                  f"{scheme!r}")
    username, password = _credentials(url, username, password)
    if scheme in ("http", "https"):
        data = await _http("GET", url, username, password, opts, None, ACCESS_FAILURE)
    elif scheme == "sftp":
        data = await _sftp(url, username, password, opts, None)
    else:
        addr = await _address(urlsplit(url).hostname or "", opts)
        data = await asyncio.to_thread(_ftp_blocking, url, username, password, opts, None,
                                       addr)
    if file_size and len(data) != file_size:
        raise TransferError(INCOMPLETE, f"download {_strip_userinfo(url)}: got {len(data)} "
                                        f"bytes, the Download said FileSize {file_size}")
    return data


async def upload(url: str, data: bytes, username: str = "", password: str = "", *,
                 options: TransferOptions | None = None) -> None:
    """Store `data` at `url` (HTTP(S) PUT, FTP/FTPS STOR, SFTP put); raises TransferError."""
    opts = options or TransferOptions()
    scheme = urlsplit(url).scheme.lower()
    if scheme not in SCHEMES:
        raise TransferError(UNSUPPORTED_PROTOCOL, f"upload {url}: unsupported scheme "
                                                  f"{scheme!r}")
    username, password = _credentials(url, username, password)
    if scheme in ("http", "https"):
        await _http("PUT", url, username, password, opts, data, UPLOAD_FAILURE)
    elif scheme == "sftp":
        await _sftp(url, username, password, opts, data)
    else:
        addr = await _address(urlsplit(url).hostname or "", opts)
        await asyncio.to_thread(_ftp_blocking, url, username, password, opts, data, addr)


def apply_cm_file(model: Any, data: bytes) -> list[str]:
    """Parse a CM file and apply it all-or-nothing; returns the changed parameter names.

    Raises TransferError 9018 when the file cannot be parsed or any parameter in it is
    rejected (unknown, read-only, bad value): the data model applies nothing then.
    ParameterKey is left alone (only SPV/AddObject/DeleteObject change it).
    """
    from lab.datamodel import cmfile

    try:
        pairs = cmfile.parse_cm_file(data)
    except cmfile.CmFileError as exc:
        raise TransferError(CORRUPTED, f"CM file rejected, nothing applied: {exc}") from exc
    if not pairs:
        raise TransferError(CORRUPTED, "CM file holds no parameters, nothing applied")
    params = [rpc.ParameterValue(name=name, value=value, type="") for name, value in pairs]
    try:
        return list(model.set_values(params, None))
    except CwmpError as exc:
        detail = "; ".join(f"{f.name}: {f.code} {f.string}" for f in exc.spv_faults)
        raise TransferError(CORRUPTED, f"CM file rejected, nothing applied: "
                                       f"{detail or exc.message}") from exc
