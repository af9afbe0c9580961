"""lab.cwmp.digest: RFC 2617/7616 Digest, both ends."""

from __future__ import annotations

import pytest

from lab.cwmp import digest as D


def test_rfc2617_example_vector() -> None:
    # RFC 2617 section 3.5
    ch = D.parse_challenge('Digest realm="testrealm@host.com", qop="auth,auth-int", '
                           'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", '
                           'opaque="5ccc069c403ebaf9f0171e9517f40e41"')
    hdr = D.authorization(ch, "GET", "/dir/index.html", "Mufasa", "Circle Of Life",
                          cnonce="0a4f113b")
    p = D.parse_params(hdr.removeprefix("Digest "))
    assert p["response"] == "6629fae49393a05397450978507c4ef1"
    assert p["nc"] == "00000001" and p["opaque"] == "5ccc069c403ebaf9f0171e9517f40e41"


def test_parse_params_quoting() -> None:
    p = D.parse_params(r'realm="a, \"b\"", qop=auth, nonce="x=y"')
    assert p == {"realm": 'a, "b"', "qop": "auth", "nonce": "x=y"}
    with pytest.raises(D.DigestError):
        D.parse_params('realm="unterminated')


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256", "MD5-sess"])
def test_roundtrip_and_replay(algorithm: str) -> None:
    v = D.DigestVerifier(realm="cpe", credentials={"acs": "pw"}, algorithm=algorithm)
    ch = D.parse_challenge(["Basic realm=x", v.challenge()])
    assert ch["algorithm"] == algorithm
    h1 = D.authorization(ch, "GET", "/cr/abc", "acs", "pw")
    assert v.verify("GET", "/cr/abc", h1) == "acs"
    assert v.verify("GET", "/cr/abc", h1) is None and "replay" in v.last_error
    h2 = D.authorization(ch, "GET", "/cr/abc", "acs", "pw", nc=2)
    assert v.verify("GET", "/cr/abc", h2) == "acs"


def test_refusals_say_why() -> None:
    v = D.DigestVerifier(realm="cpe", credentials={"acs": "pw"})
    ch = D.parse_challenge(v.challenge())
    cases = [
        (D.authorization(ch, "GET", "/cr", "acs", "wrong"), "/cr", "wrong digest response"),
        (D.authorization(ch, "GET", "/cr", "bob", "pw"), "/cr", "unknown user"),
        (D.authorization(ch, "GET", "/other", "acs", "pw"), "/cr", "does not match"),
        (D.authorization({**ch, "nonce": "Zm9vOmJhcg=="}, "GET", "/cr", "acs", "pw"), "/cr",
         "not issued by this server"),
        ("Basic YWNzOnB3", "/cr", "not Digest"),
        (None, "/cr", "no Authorization"),
    ]
    for hdr, uri, why in cases:
        assert v.verify("GET", uri, hdr) is None
        assert why in v.last_error, (why, v.last_error)


def test_expired_nonce_and_stale_challenge() -> None:
    v = D.DigestVerifier(realm="cpe", credentials={"acs": "pw"}, nonce_ttl=-1)
    ch = D.parse_challenge(v.challenge(stale=True))
    assert ch["stale"] == "true"
    assert v.verify("GET", "/", D.authorization(ch, "GET", "/", "acs", "pw")) is None
    assert v.last_error == "nonce expired"


def test_unsupported_algorithm_and_qop() -> None:
    with pytest.raises(D.DigestError):
        D.DigestVerifier(realm="r", credentials={}, algorithm="SHA-1")
    with pytest.raises(D.DigestError, match="only 'auth'"):
        D.authorization({"realm": "r", "nonce": "n", "qop": "auth-int"}, "GET", "/", "u", "p")
    with pytest.raises(D.DigestError, match="no Digest challenge"):
        D.parse_challenge('Basic realm="x"')
