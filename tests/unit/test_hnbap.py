"""lab.hnbap: HNB REGISTER codec (APER via pycrate), PLMN BCD, Iuh framing."""

from __future__ import annotations

import asyncio
import socket
import struct

import pytest
from pycrate_asn1dir import HNBAP

from lab.hnbap import (
    MAX_PDU,
    PPID_HNBAP,
    FramingError,
    HnbapError,
    Location,
    RegisterAccept,
    RegisterReject,
    RegisterRequest,
    cause_choice,
    decode,
    encode,
    plmn_from_bytes,
    plmn_to_bytes,
    recv_pdu,
    send_pdu,
    transport_kind,
)

REQ = RegisterRequest(identity="1000295-SER123@femto.example", plmn="00101",
                      cell_id=0xABCDEF1, lac=0x1234, rac=7, sac=0xBEEF, csg_id=0x5A5A5A5,
                      location=Location(latitude=-33.8688, longitude=151.2093, altitude=-12,
                                        internet_ip="2001:db8::7"))


def _pycrate_decode(data: bytes) -> tuple[str, dict]:
    pdu = HNBAP.HNBAP_PDU_Descriptions.HNBAP_PDU
    pdu.from_aper(data)
    return pdu.get_val()


def test_request_round_trip() -> None:
    got = decode(encode(REQ))
    assert isinstance(got, RegisterRequest)
    assert (got.identity, got.plmn, got.cell_id, got.lac, got.rac, got.sac, got.csg_id) == (
        REQ.identity, REQ.plmn, REQ.cell_id, REQ.lac, REQ.rac, REQ.sac, REQ.csg_id)
    loc = got.location
    assert loc.latitude == pytest.approx(-33.8688, abs=2e-5)
    assert loc.longitude == pytest.approx(151.2093, abs=3e-5)
    assert (loc.altitude, loc.internet_ip) == (-12, "2001:db8::7")


def test_minimal_request_round_trip() -> None:
    req = RegisterRequest("1000295-X@r.example", "310410", 1, 0, 0, 0)
    assert decode(encode(req)) == req


def test_encoded_request_seen_by_pycrate_has_the_ies() -> None:
    kind, outcome = _pycrate_decode(encode(REQ))
    assert kind == "initiatingMessage" and outcome["procedureCode"] == 1
    name, body = outcome["value"]
    assert name == "HNBRegisterRequest"
    ies = {ie["id"]: ie["value"] for ie in body["protocolIEs"]}
    assert sorted(ies) == [3, 6, 7, 8, 9, 10, 11, 15]
    assert ies[3] == ("HNB-Identity", {"hNB-Identity-Info": b"1000295-SER123@femto.example"})
    assert ies[9] == ("PLMNidentity", bytes.fromhex("00f110"))
    assert ies[11] == ("CellIdentity", (0xABCDEF1, 28))
    assert ies[6] == ("LAC", b"\x12\x34")
    assert ies[7] == ("RAC", b"\x07")
    assert ies[10] == ("SAC", b"\xbe\xef")
    assert ies[15] == ("CSG-ID", (0x5A5A5A5, 27))
    geo = ies[8][1]["geographicalCoordinates"]["geographicalCoordinates"]
    assert geo["latitudeSign"] == "south"
    ext = ies[8][1]["iE-Extensions"][0]
    assert ext["id"] == 17 and ext["extensionValue"][1]["ipaddress"][0] == "ipv6info"


def test_accept_known_bytes() -> None:
    # Hand-checked APER: successfulOutcome(1) | proc 1 | crit reject | len 9 | no ext,
    # 1 IE | id 14 | crit reject | len 2 | RNC-ID 42.
    assert encode(RegisterAccept(42)) == bytes.fromhex("20010009000001000e0002002a")
    assert decode(bytes.fromhex("20010009000001000e0002002a")) == RegisterAccept(42)


@pytest.mark.parametrize("rej", [RegisterReject("unauthorised-HNB"),
                                 RegisterReject("overload", backoff=120),
                                 RegisterReject("transfer-syntax-error"),
                                 RegisterReject("misc:unspecified"),
                                 RegisterReject("processing-overload")])
def test_reject_round_trip(rej: RegisterReject) -> None:
    assert decode(encode(rej)) == rej


def test_reject_cause_and_backoff_ies() -> None:
    _, outcome = _pycrate_decode(encode(RegisterReject("overload", 30)))
    ies = {ie["id"]: ie["value"] for ie in outcome["value"][1]["protocolIEs"]}
    assert ies == {1: ("Cause", ("radioNetwork", "overload")), 16: ("BackoffTimer", 30)}


@pytest.mark.parametrize("plmn, octets", [("00101", "00f110"), ("310410", "130014"),
                                          ("26201", "62f210"), ("001001", "001100"),
                                          ("310260", "130062")])
def test_plmn_bcd(plmn: str, octets: str) -> None:
    assert plmn_to_bytes(plmn).hex() == octets
    assert plmn_from_bytes(bytes.fromhex(octets)) == plmn


def test_plmn_errors() -> None:
    with pytest.raises(HnbapError, match="expected 5 or 6 digits"):
        plmn_to_bytes("0010")
    with pytest.raises(HnbapError, match="not BCD"):
        plmn_from_bytes(bytes.fromhex("a0f110"))


@pytest.mark.parametrize("data, what", [
    (b"", "empty"),
    (b"garbage!", "undecodable"),
    (b"\xff\xff\xff\xff", "undecodable"),
    (encode(REQ)[:-4], "undecodable"),
    (encode(REQ) + b"\x01", "trailing"),
])
def test_malformed_is_transfer_syntax_error(data: bytes, what: str) -> None:
    with pytest.raises(HnbapError, match=what) as ei:
        decode(data)
    assert ei.value.cause == "transfer-syntax-error"
    # The shared pycrate codec still works after a failed decode.
    assert decode(encode(RegisterAccept(7))) == RegisterAccept(7)


def _raw_request(ies: list[dict]) -> bytes:
    pdu = HNBAP.HNBAP_PDU_Descriptions.HNBAP_PDU
    pdu.set_val(("initiatingMessage", {"procedureCode": 1, "criticality": "reject",
                                       "value": ("HNBRegisterRequest", {"protocolIEs": ies})}))
    return pdu.to_aper()


def test_missing_mandatory_ie() -> None:
    _, outcome = _pycrate_decode(encode(REQ))
    ies = [ie for ie in outcome["value"][1]["protocolIEs"] if ie["id"] != 9]
    with pytest.raises(HnbapError, match=r"missing mandatory IE PLMNidentity \(id 9\)") as ei:
        decode(_raw_request(ies))
    assert ei.value.cause == "abstract-syntax-error-reject"


def test_unknown_ie_is_ignored() -> None:
    req = RegisterRequest("1000295-X@r.example", "00101", 5, 1, 2, 3, csg_id=9)
    data = encode(req)
    # Re-label the CSG-ID IE (id 15, encoded last) as an IE id this release does not know.
    marker = bytes.fromhex("000f00")  # id 15, criticality reject
    i = data.rindex(marker)
    relabeled = data[:i] + bytes.fromhex("006300") + data[i + 3:]
    assert decode(relabeled) == RegisterRequest("1000295-X@r.example", "00101", 5, 1, 2, 3)


def test_other_procedure_is_not_supported() -> None:
    pdu = HNBAP.HNBAP_PDU_Descriptions.HNBAP_PDU
    pdu.set_val(("initiatingMessage", {
        "procedureCode": 2, "criticality": "ignore",
        "value": ("HNBDe-Register", {"protocolIEs": [
            {"id": 1, "criticality": "ignore", "value": ("Cause", ("misc", "unspecified"))}]})}))
    with pytest.raises(HnbapError, match="unsupported HNBAP message HNBDe-Register") as ei:
        decode(pdu.to_aper())
    assert ei.value.cause == "message-not-compatible-with-receiver-state"


@pytest.mark.parametrize("msg, what", [
    (RegisterRequest("x", "00101", 1 << 28, 1, 1, 1), "cell_id"),
    (RegisterRequest("x", "00101", 1, 65536, 1, 1), "lac"),
    (RegisterRequest("x", "00101", 1, 1, 256, 1), "rac"),
    (RegisterRequest("x", "00101", 1, 1, 1, 1, csg_id=1 << 27), "csg_id"),
    (RegisterRequest("", "00101", 1, 1, 1, 1), "identity"),
    (RegisterRequest("x", "0x101", 1, 1, 1, 1), "PLMN"),
    (RegisterRequest("x", "00101", 1, 1, 1, 1, location=Location(latitude=1.0)), "together"),
    (RegisterRequest("x", "00101", 1, 1, 1, 1, location=Location(internet_ip="nope")),
     "internet_ip"),
    (RegisterAccept(70000), "rnc_id"),
    (RegisterReject("overload", backoff=3601), "backoff"),
    (RegisterReject("unspecified"), "in branches"),
    (RegisterReject("no-such-cause"), "not a TS 25.469 Cause"),
])
def test_encode_rejects_bad_values(msg: object, what: str) -> None:
    with pytest.raises(HnbapError, match=what):
        encode(msg)  # type: ignore[arg-type]


def test_cause_choice() -> None:
    assert cause_choice("unauthorised-HNB") == ("radioNetwork", "unauthorised-HNB")
    assert cause_choice("protocol:unspecified") == ("protocol", "unspecified")
    with pytest.raises(HnbapError, match="no value"):
        cause_choice("misc:overload")


def test_transport_kind_matches_kernel() -> None:
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM, 132).close()
        expect = "sctp"
    except OSError:
        expect = "tcp-fallback"
    assert transport_kind() == expect


# -- framing over a real TCP connection ----------------------------------------------------

async def _pipe() -> tuple[asyncio.StreamReader, asyncio.StreamWriter, asyncio.Server,
                           asyncio.StreamWriter]:
    """(reader at the server side, writer at the client side, server, server-side writer)."""
    accepted: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()

    async def on_conn(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await accepted.put((r, w))

    server = await asyncio.start_server(on_conn, "127.0.0.1", 0)
    _, cw = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
    sr, sw = await accepted.get()
    return sr, cw, server, sw


async def _close(server: asyncio.Server, *writers: asyncio.StreamWriter) -> None:
    for w in writers:
        w.close()
    server.close()
    await server.wait_closed()


async def test_frames_round_trip_and_eof() -> None:
    sr, cw, server, sw = await _pipe()
    try:
        await send_pdu(cw, PPID_HNBAP, b"abc")
        await send_pdu(cw, 19, b"")
        await send_pdu(cw, PPID_HNBAP, encode(REQ))
        cw.write_eof()
        assert await recv_pdu(sr) == (PPID_HNBAP, b"abc")
        assert await recv_pdu(sr) == (19, b"")
        ppid, data = await recv_pdu(sr) or (0, b"")
        assert ppid == PPID_HNBAP and decode(data).identity == REQ.identity  # type: ignore[union-attr]
        assert await recv_pdu(sr) is None
    finally:
        await _close(server, cw, sw)


@pytest.mark.parametrize("raw, what", [
    (struct.pack("!II", 10, PPID_HNBAP) + b"short", "inside a frame"),
    (b"\x00\x00\x00", "inside a frame header"),
    (struct.pack("!II", MAX_PDU + 1, PPID_HNBAP), "not an Iuh frame"),
])
async def test_broken_frames(raw: bytes, what: str) -> None:
    sr, cw, server, sw = await _pipe()
    try:
        cw.write(raw)
        cw.write_eof()
        with pytest.raises(FramingError, match=what):
            await recv_pdu(sr)
    finally:
        await _close(server, cw, sw)


async def test_send_refuses_oversize() -> None:
    _, cw, server, sw = await _pipe()
    try:
        with pytest.raises(FramingError, match="exceeds"):
            await send_pdu(cw, PPID_HNBAP, bytes(MAX_PDU + 1))
    finally:
        await _close(server, cw, sw)
