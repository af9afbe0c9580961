"""lab.pki: the operator CA, leaf profiles, negative knobs, and real TLS hostname checks."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from lab.pki import IKE_INTERMEDIATE, Pki, PkiError, parse_hnb_identity, verify_chain

HNB_ID = "1000295-SER123@femto.example"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.create(tmp_path_factory.mktemp("pki"), "unit")


def _cert(p: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(p.read_bytes())


def _san(c: x509.Certificate) -> x509.SubjectAlternativeName:
    return c.extensions.get_extension_for_class(x509.SubjectAlternativeName).value


def test_server_cert_names_and_ekus(pki: Pki) -> None:
    cp = pki.issue_server("segw-initial", ["segw.op.example"], ["10.0.0.1"])
    c = _cert(cp.cert)
    assert _san(c).get_values_for_type(x509.DNSName) == ["segw.op.example"]
    assert [str(a) for a in _san(c).get_values_for_type(x509.IPAddress)] == ["10.0.0.1"]
    eku = list(c.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku and IKE_INTERMEDIATE in eku
    assert cp.ca == pki.ca_path == cp.issuer
    assert verify_chain(cp.cert, cp.ca) is None
    assert verify_chain(cp.cert, cp.ca, name="segw.op.example") is None
    assert verify_chain(cp.cert, cp.ca, name="10.0.0.1") is None
    assert "not in subjectAltName" in (verify_chain(cp.cert, cp.ca, name="10.0.0.2") or "")
    assert cp.key.stat().st_mode & 0o077 == 0


def test_hnb_cert_carries_identity_as_cn_and_rfc822(pki: Pki) -> None:
    cp = pki.issue_hnb(HNB_ID)
    c = _cert(cp.cert)
    assert c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == HNB_ID
    assert _san(c).get_values_for_type(x509.RFC822Name) == [HNB_ID]
    eku = list(c.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert ExtendedKeyUsageOID.CLIENT_AUTH in eku
    assert verify_chain(cp.cert, cp.ca, name=HNB_ID) is None


def test_foreign_and_expired_are_refused(pki: Pki) -> None:
    foreign = pki.issue_server("hms", ["hms.op.example"], foreign=True)
    assert foreign.issuer == pki.foreign_ca_path != foreign.ca
    assert "not by the trusted CA" in (verify_chain(foreign.cert, foreign.ca) or "")
    assert verify_chain(foreign.cert, foreign.issuer) is None
    expired = pki.issue_hnb(HNB_ID, expired=True)
    assert (verify_chain(expired.cert, expired.ca) or "").startswith("expired on")
    # Variants live beside the good certificate instead of replacing it.
    good = pki.issue_server("hms", ["hms.op.example"])
    assert good.cert != foreign.cert and verify_chain(good.cert, good.ca) is None


def test_idempotent_create_and_issue(tmp_path: Path) -> None:
    p1 = Pki.create(tmp_path, "lab1")
    a = p1.issue_server("hms", ["hms.op.example"], ["192.0.2.1"])
    first = a.cert.read_bytes()
    before = (first, p1.ca_path.read_bytes())
    p2 = Pki.create(tmp_path, "lab1")
    b = p2.issue_server("hms", ["hms.op.example"], ["192.0.2.1"])
    assert (b.cert.read_bytes(), p2.ca_path.read_bytes()) == before
    # Different names: the file is reissued, still under the same CA.
    c = p2.issue_server("hms", ["hms2.op.example"])
    assert c.cert == a.cert and c.cert.read_bytes() != first
    assert verify_chain(c.cert, c.ca, name="hms2.op.example") is None
    with pytest.raises(PkiError, match="not the CA of lab 'other'"):
        Pki.create(tmp_path, "other")


@pytest.mark.parametrize("bad", ["000295-SER@x.example", "1000295SER@x.example",
                                 "1ZZ0295-SER@x.example", "1000295-SER", "1000295-@x.example",
                                 "1000295-SER@", "1000295-S R@x.example"])
def test_bad_hnb_identity(pki: Pki, bad: str) -> None:
    with pytest.raises(PkiError, match="1<OUI>-<SerialNumber>@<realm>"):
        pki.issue_hnb(bad)


def test_identity_parts() -> None:
    assert parse_hnb_identity("1a0b0c9-SN.1@femto.op.example") == ("A0B0C9", "SN.1",
                                                                  "femto.op.example")


def test_bad_server_input(pki: Pki) -> None:
    with pytest.raises(PkiError, match=r"'300\.1\.1\.1' is not an IP address"):
        pki.issue_server("x", ["x.example"], ["300.1.1.1"])
    with pytest.raises(PkiError, match="is not a DNS name"):
        pki.issue_server("x", ["bad name"])
    with pytest.raises(PkiError, match="at least one DNS name or IP"):
        pki.issue_server("x", [])
    with pytest.raises(PkiError, match="becomes a file name"):
        pki.issue_server("../escape", ["x.example"])


def test_corrupt_files_are_named(tmp_path: Path) -> None:
    Pki.create(tmp_path, "c")
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\nnope\n")
    with pytest.raises(PkiError, match=r"ca\.pem: not a PEM X\.509 certificate"):
        Pki.create(tmp_path, "c")
    (tmp_path / "ca.pem").unlink()
    with pytest.raises(PkiError, match=r"ca\.pem: missing while its pair exists"):
        Pki.create(tmp_path, "c")
    d2 = tmp_path / "two"
    p = Pki.create(d2, "c")
    cp = p.issue_hnb(HNB_ID)
    cp.key.write_text("garbage")
    with pytest.raises(PkiError, match=r"\.key: not an unencrypted PEM private key"):
        p.issue_hnb(HNB_ID)
    assert "cannot read certificate" in (verify_chain(d2 / "absent.pem", p.ca_path) or "")


# -- real TLS: the client trusts only the lab root CA and checks the host name -------------

async def _handshake(cert: Path, key: Path, ca: Path, host: str) -> None:
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"hello")
        with _quiet():
            await writer.drain()
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server_ctx)
    try:
        port = server.sockets[0].getsockname()[1]
        client_ctx = ssl.create_default_context(cafile=str(ca))
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_ctx,
                                                       server_hostname=host)
        try:
            assert await reader.readexactly(5) == b"hello"
        finally:
            writer.close()
            with _quiet():
                await writer.wait_closed()
    finally:
        server.close()
        await server.wait_closed()


def _quiet() -> contextlib.suppress:
    return contextlib.suppress(OSError, ssl.SSLError, ConnectionError)


async def test_tls_hms_cert_matches_dns_and_ip(pki: Pki) -> None:
    cp = pki.issue_server("hms-tls", ["hms.op.example"], ["127.0.0.1"])
    await _handshake(cp.cert, cp.key, cp.ca, "hms.op.example")
    await _handshake(cp.cert, cp.key, cp.ca, "127.0.0.1")


@pytest.mark.parametrize("wrong_name, foreign, expired, reason", [
    ("other.op.example", False, False, "Hostname mismatch"),
    (None, True, False, "unable to get local issuer certificate"),
    (None, False, True, "certificate has expired"),
])
async def test_tls_refuses_bad_hms_cert(pki: Pki, wrong_name: str | None, foreign: bool,
                                        expired: bool, reason: str) -> None:
    cp = pki.issue_server("hms-tls", ["hms.op.example"], ["127.0.0.1"], wrong_name=wrong_name,
                          foreign=foreign, expired=expired)
    with pytest.raises(ssl.SSLCertVerificationError, match=reason):
        await _handshake(cp.cert, cp.key, cp.ca, "hms.op.example")


def test_an_hnb_claims_its_certificate_identity_unless_ike_identity_says_otherwise(
        tmp_path: Path) -> None:
    from types import SimpleNamespace

    from lab.lab import node_extras
    from lab.runtime import RUN_MOUNT
    from lab.topology import Node

    def hnb(name: str, **settings: str) -> Node:
        return Node(name, "hnb", {}, {"serial": name.upper(), "oui": "00D0B2", **settings})

    claimed = "100D0B2-HNB0666@hnb.operator.example"
    topo = SimpleNamespace(name="unit", nodes={"hnb1": hnb("hnb1"),
                                               "hnb2": hnb("hnb2", ike_identity=claimed)})
    extra = node_extras(topo, tmp_path)  # type: ignore[arg-type]
    for node, identity, in_cert in (("hnb1", "100D0B2-HNB1@hnb.operator.example",
                                     "100D0B2-HNB1@hnb.operator.example"),
                                    ("hnb2", claimed, "100D0B2-HNB2@hnb.operator.example")):
        assert extra[node]["identity"] == identity
        cert = _cert(tmp_path / Path(extra[node]["pki"]["cert"]).relative_to(RUN_MOUNT))
        assert _san(cert).get_values_for_type(x509.RFC822Name) == [in_cert]
