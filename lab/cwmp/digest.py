"""HTTP Digest access authentication (RFC 7616, compatible with RFC 2617), both ends.

TR-069 requires Digest for the connection request (ACS -> CPE HTTP GET) and allows it
for file transfers. This module holds no I/O: the caller sends the headers.

Server side (the HNB's connection-request server, the HMS file server):

    verifier = DigestVerifier(realm="hnb", credentials={"acs": "secret"})
    resp.headers["WWW-Authenticate"] = verifier.challenge()          # on 401
    user = verifier.verify("GET", request.path_qs, request.headers.get("Authorization"))
    # -> the user name when valid, else None (verifier.last_error says why)

Client side (the HMS's connection request):

    ch = parse_challenge(resp.headers["WWW-Authenticate"])            # after a 401
    hdr = authorization(ch, "GET", "/cr", "acs", "secret")            # -> header value

Algorithms MD5, MD5-sess, SHA-256, SHA-256-sess; qop "auth" (or none, RFC 2069 style,
accepted from old clients). Nonces are stateless (timestamp + HMAC) with a lifetime; the
nonce count of each nonce must increase, so a replayed Authorization header is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import threading
import time
from dataclasses import dataclass, field

ALGORITHMS = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}

# auth-param: token "=" ( token / quoted-string ), comma separated (RFC 7235 2.1).
_PARAM = re.compile(
    r'\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^",\s][^,\s]*|)\s*(,|$)')


class DigestError(ValueError):
    """A challenge or Authorization header that cannot be used; the message says why."""


def _h(algorithm: str, data: str) -> str:
    base = algorithm.upper().removesuffix("-SESS")
    fn = ALGORITHMS.get(base)
    if fn is None:
        raise DigestError(f"unsupported digest algorithm {algorithm!r}")
    return fn(data.encode("utf-8")).hexdigest()


def parse_params(text: str) -> dict[str, str]:
    """Parse `k=v, k2="quoted, with \\" escapes"` into a dict (keys lower-cased)."""
    out: dict[str, str] = {}
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _PARAM.match(text, pos)
        if not m or m.end() == pos:
            raise DigestError(f"cannot parse auth parameters at {text[pos:pos + 30]!r}")
        key, val = m.group(1).lower(), m.group(2)
        if val.startswith('"'):
            val = re.sub(r"\\(.)", r"\1", val[1:-1])
        out[key] = val
        pos = m.end()
    return out


def _split_scheme(header: str) -> tuple[str, str]:
    scheme, _, rest = header.strip().partition(" ")
    return scheme.lower(), rest


def parse_challenge(header: str | list[str]) -> dict[str, str]:
    """The Digest challenge's parameters from WWW-Authenticate (one value or all of them)."""
    values = [header] if isinstance(header, str) else list(header)
    for value in values:
        scheme, rest = _split_scheme(value)
        if scheme == "digest":
            params = parse_params(rest)
            if "realm" not in params or "nonce" not in params:
                raise DigestError("Digest challenge without realm or nonce")
            return params
    raise DigestError(f"no Digest challenge in WWW-Authenticate {values!r}")


def _response(*, algorithm: str, username: str, realm: str, password: str, method: str,
              uri: str, nonce: str, nc: str, cnonce: str, qop: str | None,
              ha1: str | None = None) -> str:
    if ha1 is None:
        ha1 = _h(algorithm, f"{username}:{realm}:{password}")
    if algorithm.upper().endswith("-SESS"):
        ha1 = _h(algorithm, f"{ha1}:{nonce}:{cnonce}")
    ha2 = _h(algorithm, f"{method}:{uri}")
    if qop:
        return _h(algorithm, f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return _h(algorithm, f"{ha1}:{nonce}:{ha2}")


def _quote(v: str) -> str:
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


def authorization(challenge: dict[str, str], method: str, uri: str, username: str,
                  password: str, *, nc: int = 1, cnonce: str | None = None) -> str:
    """The Authorization header value answering `challenge` (from parse_challenge)."""
    algorithm = challenge.get("algorithm", "MD5")
    qops = [q.strip() for q in challenge.get("qop", "").split(",") if q.strip()]
    if qops and "auth" not in qops:
        raise DigestError(f"server offers qop {qops}, only 'auth' is supported")
    qop = "auth" if qops else None
    cnonce = cnonce or os.urandom(8).hex()
    ncs = f"{nc:08x}"
    resp = _response(algorithm=algorithm, username=username, realm=challenge["realm"],
                     password=password, method=method, uri=uri, nonce=challenge["nonce"],
                     nc=ncs, cnonce=cnonce, qop=qop)
    parts = [f"username={_quote(username)}", f"realm={_quote(challenge['realm'])}",
             f"nonce={_quote(challenge['nonce'])}", f"uri={_quote(uri)}",
             f"response={_quote(resp)}", f"algorithm={algorithm}"]
    if qop:
        parts += [f"qop={qop}", f"nc={ncs}", f"cnonce={_quote(cnonce)}"]
    if "opaque" in challenge:
        parts.append(f"opaque={_quote(challenge['opaque'])}")
    return "Digest " + ", ".join(parts)


@dataclass
class DigestVerifier:
    """Issues challenges and checks Authorization headers for one realm.

    `credentials` maps user name -> password. Thread-safe (the FTP server thread and the
    event loop may share one)."""

    realm: str
    credentials: dict[str, str]
    algorithm: str = "MD5"
    nonce_ttl: float = 300.0
    secret: bytes = field(default_factory=lambda: os.urandom(32))
    last_error: str = ""
    _seen_nc: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.algorithm.upper().removesuffix("-SESS") not in ALGORITHMS:
            raise DigestError(f"unsupported digest algorithm {self.algorithm!r}")

    def _nonce(self, ts: int, salt: str) -> str:
        # "<ts>.<salt>:<mac>": the salt makes every challenge's nonce unique, so two
        # clients challenged in the same second do not share a nonce count (replay check).
        mac = hmac.new(self.secret, f"{ts}.{salt}".encode(), hashlib.sha256).hexdigest()[:32]
        return base64.urlsafe_b64encode(f"{ts}.{salt}:{mac}".encode()).decode()

    def challenge(self, stale: bool = False) -> str:
        """A WWW-Authenticate header value."""
        nonce = self._nonce(int(time.time()), os.urandom(8).hex())
        opaque = hmac.new(self.secret, b"opaque", hashlib.sha256).hexdigest()[:16]
        v = (f"Digest realm={_quote(self.realm)}, qop=\"auth\", nonce={_quote(nonce)}, "
             f"opaque={_quote(opaque)}, algorithm={self.algorithm}")
        return v + (", stale=true" if stale else "")

    def _nonce_ok(self, nonce: str) -> bool:
        try:
            stamp, _, _mac = base64.urlsafe_b64decode(nonce.encode()).decode().partition(":")
            ts_s, _, salt = stamp.partition(".")
            ts = int(ts_s)
        except (ValueError, UnicodeDecodeError):
            self.last_error = "nonce was not issued by this server"
            return False
        if not salt or not hmac.compare_digest(self._nonce(ts, salt), nonce):
            self.last_error = "nonce was not issued by this server"
            return False
        if time.time() - ts > self.nonce_ttl:
            self.last_error = "nonce expired"
            return False
        return True

    def verify(self, method: str, uri: str, header: str | None) -> str | None:
        """The authenticated user name, or None (see `last_error`)."""
        if not header:
            self.last_error = "no Authorization header"
            return None
        scheme, rest = _split_scheme(header)
        if scheme != "digest":
            self.last_error = f"Authorization scheme {scheme!r} is not Digest"
            return None
        try:
            p = parse_params(rest)
        except DigestError as exc:
            self.last_error = str(exc)
            return None
        missing = [k for k in ("username", "realm", "nonce", "uri", "response") if k not in p]
        if missing:
            self.last_error = f"Authorization lacks {', '.join(missing)}"
            return None
        if p["realm"] != self.realm:
            self.last_error = f"realm {p['realm']!r} is not {self.realm!r}"
            return None
        if p["uri"] != uri:
            self.last_error = f"digest uri {p['uri']!r} does not match request {uri!r}"
            return None
        password = self.credentials.get(p["username"])
        if password is None:
            self.last_error = f"unknown user {p['username']!r}"
            return None
        if not self._nonce_ok(p["nonce"]):
            return None
        qop = p.get("qop")
        if qop not in (None, "auth"):
            self.last_error = f"qop {qop!r} not supported"
            return None
        nc_s, cnonce = p.get("nc", "00000000"), p.get("cnonce", "")
        if qop and (not cnonce or not re.fullmatch(r"[0-9a-fA-F]{8}", nc_s)):
            self.last_error = "qop=auth needs nc (8 hex digits) and cnonce"
            return None
        try:
            expected = _response(algorithm=p.get("algorithm", "MD5"), username=p["username"],
                                 realm=self.realm, password=password, method=method, uri=uri,
                                 nonce=p["nonce"], nc=nc_s, cnonce=cnonce, qop=qop)
        except DigestError as exc:
            self.last_error = str(exc)
            return None
        if not hmac.compare_digest(expected, p["response"].lower()):
            self.last_error = "wrong digest response (bad password?)"
            return None
        nc = int(nc_s, 16)
        with self._lock:
            # Refuse replays: with qop the nonce count must grow for each use of a nonce.
            if qop and nc <= self._seen_nc.get(p["nonce"], 0):
                self.last_error = f"nonce count {nc_s} reused (replay)"
                return None
            self._seen_nc[p["nonce"]] = nc
            if len(self._seen_nc) > 4096:
                self._seen_nc = {k: v for k, v in self._seen_nc.items() if self._nonce_ok(k)}
        self.last_error = ""
        return p["username"]
