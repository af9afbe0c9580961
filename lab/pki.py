"""The lab's PKI: one operator root CA per lab and every certificate the lab needs.

Files (PEM) in the PKI directory:

    ca.pem / ca.key                    the operator root CA (every node's trust anchor)
    foreign-ca.pem / foreign-ca.key    an unrelated CA, made on first use, for negative
                                       scenarios ("certificate from someone else's CA")
    <stem>.pem / <stem>.key            a leaf: certificate / PKCS#8 private key

Keys are EC P-256 (fast to make; strongSwan's openssl plugin and Python's ssl take them).
Everything is idempotent: `Pki.create` loads the CA when present, and issuing a leaf that
already exists with the same names, issuer and expiry state returns the files unchanged,
so `hnblab up` twice gives the same certificates.

Certificate profiles:
- server (SeGW, HMS, file server): CN = first DNS name (or the node name), subjectAltName
  dNSName for each DNS name and iPAddress for each IP (Python's ssl and strongSwan both match
  the dialled host against SAN), EKU serverAuth + iKEIntermediate (1.3.6.1.5.5.8.2.2).
- HNB device: the HNB identity `1<OUI>-<SerialNumber>@<realm>` (TS 25.469 / TS 33.320 form)
  as CN and as SAN rfc822Name. Why rfc822Name: strongSwan parses an identity that contains
  '@' (`id = 1000295-SER123@femto.example`) as an RFC822 (email) ID and matches it against
  SAN rfc822Name entries; a dNSName may not contain '@' (RFC 5280), so rfc822Name is the
  one form that matches without a type prefix. EKU clientAuth + iKEIntermediate.
- client: CN = name, EKU clientAuth (e.g. a TLS client certificate for an HMS test client).

Negative-scenario knobs on every issue_*: `foreign=True` (signed by the foreign CA),
`expired=True` (validity ended yesterday), and for servers `wrong_name="x.example"` (SAN
holds only that name, so the dialled host does not match). Variants get their own file stem
(`hms.foreign`, `hms.expired`, `hms.wrongname`) so good and bad certificates coexist.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

# RFC 4945 section 5.1.3.12: id-kp-ipsecIKE-intermediate, "certificate may be used for IKE".
IKE_INTERMEDIATE = ObjectIdentifier("1.3.6.1.5.5.8.2.2")

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
# The operator's HNB realm when a topology names none (HNB identities, the SeGW's policy).
DEFAULT_REALM = "hnb.operator.example"
HNB_IDENTITY_RE = re.compile(
    rf"^1(?P<oui>[0-9A-Fa-f]{{6}})-(?P<serial>[A-Za-z0-9._+-]+)@(?P<realm>{_LABEL}(?:\.{_LABEL})*)$")
_STEM_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_DNS_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9])?"
_DNS_RE = re.compile(rf"^(\*\.)?{_DNS_LABEL}(?:\.{_DNS_LABEL})*\.?$")

CA_DAYS = 3650
LEAF_DAYS = 730


class PkiError(Exception):
    """Bad input to the PKI or an unusable file in its directory (the message names it)."""


@dataclass(frozen=True)
class CertPaths:
    cert: Path    # the leaf certificate (PEM)
    key: Path     # its private key (PKCS#8 PEM, unencrypted)
    ca: Path      # the operator root CA: the trust anchor a node installs
    issuer: Path  # the CA that signed `cert` (differs from `ca` only for foreign=True)


def parse_hnb_identity(identity: str) -> tuple[str, str, str]:
    """(OUI, SerialNumber, realm) of `1<OUI>-<SerialNumber>@<realm>`; PkiError if malformed."""
    m = HNB_IDENTITY_RE.match(identity)
    if not m:
        raise PkiError(
            f"HNB identity {identity!r} is not of the form 1<OUI>-<SerialNumber>@<realm> "
            "(OUI = 6 hex digits, e.g. 1000295-SER123@femto.example)")
    return m["oui"].upper(), m["serial"], m["realm"]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _write_private(path: Path, data: bytes) -> None:
    # Keys are written 0600 before any byte lands, so they are never world-readable.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def load_cert(path: Path) -> x509.Certificate:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PkiError(f"{path}: cannot read certificate: {exc.strerror or exc}") from exc
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise PkiError(f"{path}: not a PEM X.509 certificate ({exc})") from exc


def load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PkiError(f"{path}: cannot read private key: {exc.strerror or exc}") from exc
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise PkiError(f"{path}: not an unencrypted PEM private key ({exc})") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PkiError(f"{path}: expected an EC private key, found {type(key).__name__}")
    return key


def _same_key(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> bool:
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return cert.public_key().public_bytes(*fmt) == key.public_key().public_bytes(*fmt)


@dataclass
class _Ca:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    cert_path: Path
    key_path: Path


def _load_or_make_ca(cert_path: Path, key_path: Path, cn: str) -> _Ca:
    have = [p.exists() for p in (cert_path, key_path)]
    if all(have):
        cert, key = load_cert(cert_path), load_key(key_path)
        if not _same_key(cert, key):
            raise PkiError(f"{key_path}: private key does not belong to {cert_path}")
        return _Ca(cert, key, cert_path, key_path)
    if any(have):
        # Remaking one half would silently orphan every certificate issued so far.
        missing = key_path if have[0] else cert_path
        raise PkiError(f"{missing}: missing while its pair exists; remove both to remake the CA")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "hnblab"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = _now()
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=False, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(key_path, _key_pem(key))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return _Ca(cert, key, cert_path, key_path)


@dataclass
class _LeafSpec:
    stem: str
    cn: str
    sans: list[x509.GeneralName]
    eku: list[ObjectIdentifier]
    expired: bool
    foreign: bool


class Pki:
    """The PKI of one lab, rooted in `dir`. Make it with `Pki.create`."""

    def __init__(self, dir: Path, lab: str, ca: _Ca) -> None:
        self.dir = dir
        self.lab = lab
        self._ca = ca
        self._foreign: _Ca | None = None

    @classmethod
    def create(cls, dir: Path | str, lab: str) -> Pki:
        """Load the lab's CA from `dir`, or make it (and `dir`) when absent."""
        if not lab or not _STEM_RE.match(lab):
            raise PkiError(f"lab name {lab!r}: use letters, digits, '.', '_' or '-'")
        d = Path(dir)
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise PkiError(f"{d}: cannot create PKI directory: {exc.strerror or exc}") from exc
        cn = f"hnblab {lab} operator root CA"
        ca = _load_or_make_ca(d / "ca.pem", d / "ca.key", cn)
        got = ca.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if not got or got[0].value != cn:
            found = got[0].value if got else ca.cert.subject.rfc4514_string()
            raise PkiError(f"{ca.cert_path}: holds CA {found!r}, not the CA of lab {lab!r}")
        return cls(d, lab, ca)

    @property
    def ca_path(self) -> Path:
        return self._ca.cert_path

    @property
    def ca_cert(self) -> x509.Certificate:
        return self._ca.cert

    @property
    def foreign_ca_path(self) -> Path:
        return self._foreign_ca().cert_path

    def _foreign_ca(self) -> _Ca:
        if self._foreign is None:
            self._foreign = _load_or_make_ca(self.dir / "foreign-ca.pem",
                                             self.dir / "foreign-ca.key",
                                             f"hnblab {self.lab} foreign (untrusted) CA")
        return self._foreign

    # -- issuing ---------------------------------------------------------------------------

    def issue_server(self, name: str, dns: list[str], ips: list[str] | None = None, *,
                     foreign: bool = False, expired: bool = False,
                     wrong_name: str | None = None) -> CertPaths:
        """A TLS/IKE server certificate (SeGW, HMS, file server) for `dns` names and `ips`.

        `wrong_name` replaces every name with that one DNS name (a certificate that does not
        match the host a client dials)."""
        ips = list(ips or [])
        if not dns and not ips:
            raise PkiError(f"server certificate {name!r}: give at least one DNS name or IP")
        dns_names = [_check_dns(n, name) for n in dns]
        ip_addrs = [_check_ip(a, name) for a in ips]
        stem = _stem(name)
        if wrong_name is not None:
            dns_names, ip_addrs = [_check_dns(wrong_name, name)], []
            stem += ".wrongname"
        sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
        sans += [x509.IPAddress(a) for a in ip_addrs]
        cn = dns_names[0] if dns_names else str(ip_addrs[0])
        return self._issue(_LeafSpec(
            stem=_variant(stem, foreign, expired), cn=cn, sans=sans,
            eku=[ExtendedKeyUsageOID.SERVER_AUTH, IKE_INTERMEDIATE],
            expired=expired, foreign=foreign))

    def issue_hnb(self, identity: str, *, foreign: bool = False, expired: bool = False,
                  name: str | None = None) -> CertPaths:
        """The HNB device certificate: `identity` as CN and SAN rfc822Name. File stem is
        `name` or `hnb-<identity with '@' as '_at_'>`."""
        parse_hnb_identity(identity)
        stem = _stem(name) if name else _stem("hnb-" + identity.replace("@", "_at_"))
        return self._issue(_LeafSpec(
            stem=_variant(stem, foreign, expired), cn=identity,
            sans=[x509.RFC822Name(identity)],
            eku=[ExtendedKeyUsageOID.CLIENT_AUTH, IKE_INTERMEDIATE],
            expired=expired, foreign=foreign))

    def issue_client(self, name: str, *, foreign: bool = False,
                     expired: bool = False) -> CertPaths:
        """A TLS client certificate with CN = `name` (no SAN)."""
        return self._issue(_LeafSpec(
            stem=_variant(_stem(name), foreign, expired), cn=name, sans=[],
            eku=[ExtendedKeyUsageOID.CLIENT_AUTH], expired=expired, foreign=foreign))

    def _issue(self, spec: _LeafSpec) -> CertPaths:
        ca = self._foreign_ca() if spec.foreign else self._ca
        paths = CertPaths(cert=self.dir / f"{spec.stem}.pem", key=self.dir / f"{spec.stem}.key",
                          ca=self._ca.cert_path, issuer=ca.cert_path)
        if self._reusable(paths, spec, ca):
            return paths
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        if spec.expired:
            start, end = now - dt.timedelta(days=30), now - dt.timedelta(days=1)
        else:
            start, end = now - dt.timedelta(hours=1), now + dt.timedelta(days=LEAF_DAYS)
        b = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "hnblab"),
                                     x509.NameAttribute(NameOID.COMMON_NAME, spec.cn)]))
            .issuer_name(ca.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=True, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage(spec.eku), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca.key.public_key()), critical=False)
        )
        if spec.sans:
            b = b.add_extension(x509.SubjectAlternativeName(spec.sans), critical=False)
        cert = b.sign(ca.key, hashes.SHA256())
        _write_private(paths.key, _key_pem(key))
        paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return paths

    def _reusable(self, paths: CertPaths, spec: _LeafSpec, ca: _Ca) -> bool:
        """True when the files on disk already are the certificate `spec` asks for."""
        if not (paths.cert.exists() and paths.key.exists()):
            return False
        cert, key = load_cert(paths.cert), load_key(paths.key)
        if not _same_key(cert, key) or cert.issuer != ca.cert.subject:
            return False
        try:
            cert.verify_directly_issued_by(ca.cert)
        except (ValueError, TypeError, InvalidSignature):
            return False
        cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if not cns or cns[0].value != spec.cn:
            return False
        try:
            sans = list(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
        except x509.ExtensionNotFound:
            sans = []
        if set(sans) != set(spec.sans):
            return False
        now = _now()
        if cert.not_valid_after_utc < now + dt.timedelta(days=1):
            # Expired (or about to be): reuse only when an expired one was asked for.
            return spec.expired and cert.not_valid_after_utc < now
        return not spec.expired


def _variant(stem: str, foreign: bool, expired: bool) -> str:
    return stem + (".foreign" if foreign else "") + (".expired" if expired else "")


def _stem(name: str) -> str:
    if not _STEM_RE.match(name):
        raise PkiError(f"certificate name {name!r}: use letters, digits, '.', '_' or '-' "
                       "(it becomes a file name)")
    return name


def _check_dns(n: str, cert: str) -> str:
    if not isinstance(n, str) or len(n) > 253 or not _DNS_RE.match(n):
        raise PkiError(f"server certificate {cert!r}: {n!r} is not a DNS name")
    return n.rstrip(".")


def _check_ip(a: str, cert: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(a)
    except ValueError as exc:
        raise PkiError(f"server certificate {cert!r}: {a!r} is not an IP address") from exc


# -- checks -------------------------------------------------------------------------------

def verify_chain(cert_path: Path | str, ca_path: Path | str, *, name: str | None = None,
                 at: dt.datetime | None = None) -> str | None:
    """Why `cert_path` would be refused by a peer trusting only `ca_path`, or None if fine.

    Checks issuer, signature and validity period; with `name`, also that a SAN (dNSName,
    iPAddress or rfc822Name) matches it. Unreadable files give a reason, not an exception."""
    try:
        cert, ca = load_cert(Path(cert_path)), load_cert(Path(ca_path))
    except PkiError as exc:
        return str(exc)
    ca_name = ca.subject.rfc4514_string()
    if cert.issuer != ca.subject:
        return f"issued by {cert.issuer.rfc4514_string()!r}, not by the trusted CA {ca_name!r}"
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature) as exc:
        return f"signature does not verify with the trusted CA {ca_name!r} ({exc or 'bad'})"
    when = at or _now()
    if when > cert.not_valid_after_utc:
        return f"expired on {cert.not_valid_after_utc.isoformat()}"
    if when < cert.not_valid_before_utc:
        return f"not valid before {cert.not_valid_before_utc.isoformat()}"
    if name is not None:
        names = cert_names(cert)
        if not _name_matches(name, names):
            return f"name {name!r} not in subjectAltName {names}"
    return None


def cert_names(cert: x509.Certificate) -> list[str]:
    """The subjectAltName entries as strings ("DNS:x", "IP:a", "email:i")."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    out = [f"DNS:{n}" for n in san.get_values_for_type(x509.DNSName)]
    out += [f"IP:{a}" for a in san.get_values_for_type(x509.IPAddress)]
    out += [f"email:{e}" for e in san.get_values_for_type(x509.RFC822Name)]
    return out


def _name_matches(name: str, names: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        ip = None
    for entry in names:
        kind, _, value = entry.partition(":")
        if ip is not None:
            if kind == "IP" and ipaddress.ip_address(value) == ip:
                return True
            continue
        if kind == "email" and value.lower() == name.lower():
            return True
        if kind == "DNS" and _dns_match(value.lower(), name.lower().rstrip(".")):
            return True
    return False


def _dns_match(pattern: str, host: str) -> bool:
    if pattern.startswith("*."):
        head, _, rest = host.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == host
