"""HNBAP (TS 25.469) HNB registration over Iuh: messages, codec, transport, client.

Messages: HNB REGISTER REQUEST / ACCEPT / REJECT as dataclasses; `encode` turns one into
an APER HNBAP-PDU (pycrate, `pycrate_asn1dir.HNBAP`), `decode` does the reverse and raises
`HnbapError` (with the TS 25.469 protocol cause a receiver would answer with) on malformed
input. Decoding is liberal: unknown IEs and extensions are ignored, macro-coverage location
is skipped. Encoding is strict: out-of-range values raise HnbapError naming the field.

PLMN identity (TS 24.008 10.5.1.3 style BCD, 3 octets):
    octet 1 = MCC digit 2 | MCC digit 1, octet 2 = MNC digit 3 (F for a 2-digit MNC) | MCC
    digit 3, octet 3 = MNC digit 2 | MNC digit 1  ("00101" -> 00 F1 10).

Transport. Real Iuh is SCTP to port 29169, payload protocol id (PPID) 20 for HNBAP (19 is
RUA). Kernels without SCTP (this lab's: CONFIG_IP_SCTP unset) get a TCP fallback on the same
port; `transport_kind()` says which ("sctp" | "tcp-fallback"). So one code path serves both,
every PDU travels in a frame on either transport:

    +----------------------+----------------------+------------------+
    | length: uint32 BE    | ppid: uint32 BE      | payload (length) |
    +----------------------+----------------------+------------------+

`length` counts payload bytes only (0..MAX_PDU); `ppid` is the SCTP PPID the payload would
carry (20 = HNBAP), kept at SCTP's full 32 bits. The framing is also used over SCTP (the lab
talks only to itself, and a message boundary from a stream read is not kept by asyncio), so
the SCTP mode is not wire-compatible with third-party Iuh peers. A frame longer than MAX_PDU
is a framing error: the stream cannot be resynchronised and the connection is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import socket
import struct
import threading
from dataclasses import dataclass, field
from typing import Any

from pycrate_asn1dir import HNBAP
from pycrate_asn1rt.codecs import ASN1CodecPER
from pycrate_core.charpy import Charpy

from lab.evidence.events import EventLog

IUH_PORT = 29169
PPID_RUA = 19
PPID_HNBAP = 20
MAX_PDU = 65535
_FRAME = struct.Struct("!II")

PROC_HNB_REGISTER = 1
ID_CAUSE = 1
ID_HNB_IDENTITY = 3
ID_LAC = 6
ID_RAC = 7
ID_HNB_LOCATION = 8
ID_PLMN = 9
ID_SAC = 10
ID_CELL_IDENTITY = 11
ID_RNC_ID = 14
ID_CSG_ID = 15
ID_BACKOFF = 16
ID_HNB_INTERNET_INFO = 17

_IE_NAMES = {ID_HNB_IDENTITY: "HNB-Identity", ID_HNB_LOCATION: "HNB-Location-Information",
             ID_PLMN: "PLMNidentity", ID_CELL_IDENTITY: "CellIdentity", ID_LAC: "LAC",
             ID_RAC: "RAC", ID_SAC: "SAC", ID_CSG_ID: "CSG-ID", ID_RNC_ID: "RNC-ID",
             ID_CAUSE: "Cause", ID_BACKOFF: "BackoffTimer"}

# Cause values by CHOICE branch, in the order of TS 25.469 (pycrate knows the same lists).
_IES = HNBAP.HNBAP_IEs
CAUSES: dict[str, list[str]] = {
    "radioNetwork": list(_IES.CauseRadioNetwork._cont.keys()),
    "transport": list(_IES.CauseTransport._cont.keys()),
    "protocol": list(_IES.CauseProtocol._cont.keys()),
    "misc": list(_IES.CauseMisc._cont.keys()),
}

# pycrate's codec keeps state in class attributes; one PDU object, one lock.
_PDU = HNBAP.HNBAP_PDU_Descriptions.HNBAP_PDU
_LOCK = threading.Lock()


class HnbapError(Exception):
    """Malformed or unacceptable HNBAP. `cause` is the protocol cause a receiver answers
    with (TS 25.469 CauseProtocol)."""

    def __init__(self, message: str, cause: str = "transfer-syntax-error") -> None:
        super().__init__(message)
        self.cause = cause


class FramingError(HnbapError):
    """The Iuh frame itself is broken; the connection cannot continue."""


# -- messages -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Location:
    """HNB-Location-Information. Latitude/longitude in degrees (both or neither), altitude
    in metres (negative = depth); `internet_ip` is HNB-Internet-Information (the HNB's
    public address). Coordinates travel in TS 23.032 units (about 1e-5 degree)."""
    latitude: float | None = None
    longitude: float | None = None
    altitude: int = 0
    internet_ip: str | None = None


@dataclass(frozen=True)
class RegisterRequest:
    identity: str          # HNB-Identity-Info, e.g. "1000295-SER123@femto.example"
    plmn: str              # MCC+MNC digits, "00101"
    cell_id: int           # 28-bit UTRAN cell identity
    lac: int
    rac: int
    sac: int
    csg_id: int | None = None    # 27-bit CSG identity (closed access cells)
    location: Location = field(default_factory=Location)

    msg_name = "HNBRegisterRequest"


@dataclass(frozen=True)
class RegisterAccept:
    rnc_id: int

    msg_name = "HNBRegisterAccept"


@dataclass(frozen=True)
class RegisterReject:
    """`cause` is a TS 25.469 Cause value name ("unauthorised-HNB", "overload",
    "transfer-syntax-error"); a name found in more than one branch ("unspecified") is
    written "<branch>:<name>", e.g. "misc:unspecified"."""
    cause: str
    backoff: int | None = None   # seconds, BackoffTimer (0..3600), sent with "overload"

    msg_name = "HNBRegisterReject"


HnbapMessage = RegisterRequest | RegisterAccept | RegisterReject


def cause_choice(cause: str) -> tuple[str, str]:
    """("radioNetwork", "unauthorised-HNB") for "unauthorised-HNB" or
    "radioNetwork:unauthorised-HNB"; HnbapError for an unknown or ambiguous name."""
    branch, sep, name = cause.partition(":")
    if sep:
        if name not in CAUSES.get(branch, []):
            raise HnbapError(f"cause {cause!r}: no value {name!r} in branch {branch!r}")
        return branch, name
    found = [b for b, names in CAUSES.items() if cause in names]
    if not found:
        raise HnbapError(f"cause {cause!r}: not a TS 25.469 Cause value")
    if len(found) > 1:
        raise HnbapError(f"cause {cause!r} is in branches {found}; write e.g. "
                         f"'{found[0]}:{cause}'")
    return found[0], cause


def _cause_text(branch: str, name: str) -> str:
    unique = sum(name in names for names in CAUSES.values()) == 1
    return name if unique else f"{branch}:{name}"


# -- PLMN ---------------------------------------------------------------------------------

def plmn_to_bytes(plmn: str) -> bytes:
    """BCD-encode "MCCMNC" (5 or 6 digits)."""
    if not (isinstance(plmn, str) and plmn.isascii() and plmn.isdigit()
            and len(plmn) in (5, 6)):
        raise HnbapError(f"PLMN {plmn!r}: expected 5 or 6 digits (MCC + MNC)")
    d = [int(c) for c in plmn]
    mnc3 = d[5] if len(d) == 6 else 0xF
    return bytes([(d[1] << 4) | d[0], (mnc3 << 4) | d[2], (d[4] << 4) | d[3]])


def plmn_from_bytes(b: bytes) -> str:
    if len(b) != 3:
        raise HnbapError(f"PLMNidentity: expected 3 octets, got {len(b)}")
    nib = [b[0] & 0xF, b[0] >> 4, b[1] & 0xF, b[2] & 0xF, b[2] >> 4, b[1] >> 4]
    if any(n > 9 for n in nib[:5]) or nib[5] not in (*range(10), 0xF):
        raise HnbapError(f"PLMNidentity {b.hex()}: not BCD digits", "abstract-syntax-error-reject")
    return "".join(str(n) for n in nib[:5]) + ("" if nib[5] == 0xF else str(nib[5]))


# -- encode -------------------------------------------------------------------------------

def _check_range(what: str, v: Any, lo: int, hi: int) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise HnbapError(f"{what}={v!r}: expected an integer in {lo}..{hi}")
    return v


def _location_value(loc: Location) -> dict[str, Any]:
    val: dict[str, Any] = {}
    if (loc.latitude is None) != (loc.longitude is None):
        raise HnbapError("RegisterRequest.location: give latitude and longitude together")
    if loc.latitude is not None and loc.longitude is not None:
        if not -90.0 <= loc.latitude <= 90.0 or not -180.0 <= loc.longitude <= 180.0:
            raise HnbapError(f"RegisterRequest.location: ({loc.latitude}, {loc.longitude}) "
                             "is not a latitude/longitude in degrees")
        lat = min(round(abs(loc.latitude) * (1 << 23) / 90.0), (1 << 23) - 1)
        lon = max(min(round(loc.longitude * (1 << 24) / 360.0), (1 << 23) - 1), -(1 << 23))
        alt = _check_range("RegisterRequest.location.altitude", abs(loc.altitude), 0, 32767)
        val["geographicalCoordinates"] = {
            "geographicalCoordinates": {"latitudeSign": "south" if loc.latitude < 0 else "north",
                                        "latitude": lat, "longitude": lon},
            "altitudeAndDirection": {"directionOfAltitude": "depth" if loc.altitude < 0
                                     else "height", "altitude": alt}}
    if loc.internet_ip is not None:
        try:
            ip = ipaddress.ip_address(loc.internet_ip)
        except ValueError as exc:
            raise HnbapError(f"RegisterRequest.location.internet_ip={loc.internet_ip!r}: "
                             "not an IP address") from exc
        branch = "ipv4info" if ip.version == 4 else "ipv6info"
        val["iE-Extensions"] = [{"id": ID_HNB_INTERNET_INFO, "criticality": "reject",
                                 "extensionValue": ("IP-Address",
                                                    {"ipaddress": (branch, ip.packed)})}]
    return val


def _pdu_value(msg: HnbapMessage) -> tuple[str, dict[str, Any]]:
    if isinstance(msg, RegisterRequest):
        ident = msg.identity.encode("utf-8") if isinstance(msg.identity, str) else b""
        if not 1 <= len(ident) <= 255:
            raise HnbapError(f"RegisterRequest.identity={msg.identity!r}: "
                             "expected 1..255 octets of text")
        ies: list[tuple[int, str, Any]] = [
            (ID_HNB_IDENTITY, "HNB-Identity", {"hNB-Identity-Info": ident}),
            (ID_HNB_LOCATION, "HNB-Location-Information", _location_value(msg.location)),
            (ID_PLMN, "PLMNidentity", plmn_to_bytes(msg.plmn)),
            (ID_CELL_IDENTITY, "CellIdentity",
             (_check_range("RegisterRequest.cell_id", msg.cell_id, 0, (1 << 28) - 1), 28)),
            (ID_LAC, "LAC", _check_range("RegisterRequest.lac", msg.lac, 0, 0xFFFF)
             .to_bytes(2, "big")),
            (ID_RAC, "RAC", _check_range("RegisterRequest.rac", msg.rac, 0, 0xFF)
             .to_bytes(1, "big")),
            (ID_SAC, "SAC", _check_range("RegisterRequest.sac", msg.sac, 0, 0xFFFF)
             .to_bytes(2, "big")),
        ]
        if msg.csg_id is not None:
            ies.append((ID_CSG_ID, "CSG-ID",
                        (_check_range("RegisterRequest.csg_id", msg.csg_id, 0,
                                      (1 << 27) - 1), 27)))
        body = [{"id": i, "criticality": "reject", "value": (n, v)} for i, n, v in ies]
        return "initiatingMessage", {"procedureCode": PROC_HNB_REGISTER, "criticality": "reject",
                                     "value": ("HNBRegisterRequest", {"protocolIEs": body})}
    if isinstance(msg, RegisterAccept):
        rnc = _check_range("RegisterAccept.rnc_id", msg.rnc_id, 0, 0xFFFF)
        body = [{"id": ID_RNC_ID, "criticality": "reject", "value": ("RNC-ID", rnc)}]
        return "successfulOutcome", {"procedureCode": PROC_HNB_REGISTER, "criticality": "reject",
                                     "value": ("HNBRegisterAccept", {"protocolIEs": body})}
    if isinstance(msg, RegisterReject):
        body = [{"id": ID_CAUSE, "criticality": "ignore",
                 "value": ("Cause", cause_choice(msg.cause))}]
        if msg.backoff is not None:
            body.append({"id": ID_BACKOFF, "criticality": "reject",
                         "value": ("BackoffTimer",
                                   _check_range("RegisterReject.backoff", msg.backoff, 0, 3600))})
        return "unsuccessfulOutcome", {"procedureCode": PROC_HNB_REGISTER,
                                       "criticality": "reject",
                                       "value": ("HNBRegisterReject", {"protocolIEs": body})}
    raise HnbapError(f"cannot encode {type(msg).__name__}: not an HNBAP message type")


def encode(msg: HnbapMessage) -> bytes:
    """The APER HNBAP-PDU of `msg`."""
    value = _pdu_value(msg)
    with _LOCK:
        try:
            _PDU.set_val(value)
            return _PDU.to_aper()
        except Exception as exc:  # pycrate raises assorted types; all mean "cannot encode"
            raise HnbapError(f"cannot encode {type(msg).__name__}: {exc}") from exc


# -- decode -------------------------------------------------------------------------------

def _raw_decode(data: bytes) -> Any:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise HnbapError(f"HNBAP PDU must be bytes, not {type(data).__name__}")
    if not data:
        raise HnbapError("empty HNBAP PDU")
    with _LOCK:
        depth = len(ASN1CodecPER._off)
        char = Charpy(bytes(data))
        try:
            _PDU.from_aper(char)
            value = _PDU.get_val()
        except Exception as exc:  # any pycrate failure is a transfer-syntax error
            raise HnbapError(f"undecodable HNBAP PDU ({len(data)} bytes, "
                             f"starts {bytes(data[:8]).hex()}): {exc or type(exc).__name__}"
                             ) from exc
        finally:
            del ASN1CodecPER._off[depth:]  # a failed decode leaves pycrate's stack dirty
        left = char.len_bit() // 8
    if left and any(bytes(data[-left:])):
        raise HnbapError(f"HNBAP PDU has {left} trailing byte(s) after the message")
    return value


def _ies(name: str, value: dict[str, Any]) -> dict[int, Any]:
    out: dict[int, Any] = {}
    for ie in value.get("protocolIEs", []):
        v = ie.get("value")
        if isinstance(v, tuple) and len(v) == 2 and not str(v[0]).startswith("_unk"):
            out.setdefault(ie["id"], v[1])  # first occurrence wins; unknown IEs ignored
    return out


def _need(ies: dict[int, Any], msg: str, ie_id: int) -> Any:
    if ie_id not in ies:
        raise HnbapError(f"{msg}: missing mandatory IE {_IE_NAMES.get(ie_id, ie_id)} "
                         f"(id {ie_id})", "abstract-syntax-error-reject")
    return ies[ie_id]


def _decode_location(v: dict[str, Any]) -> Location:
    lat = lon = None
    alt = 0
    geo = v.get("geographicalCoordinates")
    if geo:
        c = geo["geographicalCoordinates"]
        lat = c["latitude"] * 90.0 / (1 << 23) * (-1 if c["latitudeSign"] == "south" else 1)
        lon = c["longitude"] * 360.0 / (1 << 24)
        ad = geo.get("altitudeAndDirection") or {}
        alt = ad.get("altitude", 0) * (-1 if ad.get("directionOfAltitude") == "depth" else 1)
    ip = None
    for ext in v.get("iE-Extensions", []):
        ev = ext.get("extensionValue")
        if ext.get("id") == ID_HNB_INTERNET_INFO and isinstance(ev, tuple) \
                and ev[0] == "IP-Address":
            with contextlib.suppress(ValueError, KeyError, TypeError):
                ip = str(ipaddress.ip_address(ev[1]["ipaddress"][1]))
    return Location(latitude=lat, longitude=lon, altitude=alt, internet_ip=ip)


def decode(data: bytes) -> HnbapMessage:
    """The message in an APER HNBAP-PDU. HnbapError (with `.cause`) when malformed, when a
    mandatory IE is missing, or for an HNBAP message other than HNB REGISTER."""
    kind, outcome = _raw_decode(data)
    proc = outcome.get("procedureCode")
    name, value = outcome["value"]
    if proc != PROC_HNB_REGISTER or not isinstance(value, dict):
        raise HnbapError(f"unsupported HNBAP message {name} (procedure code {proc})",
                         "message-not-compatible-with-receiver-state")
    ies = _ies(name, value)
    if name == "HNBRegisterRequest":
        plmn = plmn_from_bytes(_need(ies, name, ID_PLMN))
        cell = _need(ies, name, ID_CELL_IDENTITY)[0]
        csg = ies.get(ID_CSG_ID)
        ident = _need(ies, name, ID_HNB_IDENTITY)["hNB-Identity-Info"]
        return RegisterRequest(
            identity=ident.decode("utf-8", errors="replace"), plmn=plmn, cell_id=cell,
            lac=int.from_bytes(_need(ies, name, ID_LAC), "big"),
            rac=int.from_bytes(_need(ies, name, ID_RAC), "big"),
            sac=int.from_bytes(_need(ies, name, ID_SAC), "big"),
            csg_id=None if csg is None else csg[0],
            location=_decode_location(_need(ies, name, ID_HNB_LOCATION)))
    if name == "HNBRegisterAccept":
        return RegisterAccept(rnc_id=_need(ies, name, ID_RNC_ID))
    if name == "HNBRegisterReject":
        branch, cause = _need(ies, name, ID_CAUSE)
        return RegisterReject(cause=_cause_text(branch, cause), backoff=ies.get(ID_BACKOFF))
    raise HnbapError(f"unexpected {kind} {name}", "abstract-syntax-error-reject")


def describe(msg: HnbapMessage) -> str:
    """One line for an event summary."""
    if isinstance(msg, RegisterRequest):
        csg = f" csg {msg.csg_id}" if msg.csg_id is not None else ""
        return (f"HNBRegisterRequest {msg.identity} plmn {msg.plmn} cell 0x{msg.cell_id:07x} "
                f"lac {msg.lac} rac {msg.rac} sac {msg.sac}{csg}")
    if isinstance(msg, RegisterAccept):
        return f"HNBRegisterAccept rnc-id {msg.rnc_id}"
    backoff = f" backoff {msg.backoff}s" if msg.backoff is not None else ""
    return f"HNBRegisterReject {msg.cause}{backoff}"


def ie_fields(msg: HnbapMessage) -> dict[str, Any]:
    """The message's IEs as event fields (JSON values), so events show what was carried."""
    if isinstance(msg, RegisterRequest):
        out: dict[str, Any] = {"plmn": msg.plmn, "cell_id": msg.cell_id, "lac": msg.lac,
                               "rac": msg.rac, "sac": msg.sac, "csg_id": msg.csg_id}
        loc = msg.location
        if loc.latitude is not None and loc.longitude is not None:
            out.update(latitude=round(loc.latitude, 5), longitude=round(loc.longitude, 5),
                       altitude=loc.altitude)
        if loc.internet_ip is not None:
            out["internet_ip"] = loc.internet_ip
        return out
    if isinstance(msg, RegisterAccept):
        return {"rnc_id": msg.rnc_id}
    return {"cause": msg.cause, "backoff": msg.backoff}


# -- transport ----------------------------------------------------------------------------

@functools.cache
def transport_kind() -> str:
    """Return "sctp" when this kernel can open an SCTP socket, else "tcp-fallback"."""
    proto = getattr(socket, "IPPROTO_SCTP", 132)
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto)
    except OSError:
        return "tcp-fallback"
    s.close()
    return "sctp"


def _proto() -> int:
    return getattr(socket, "IPPROTO_SCTP", 132) if transport_kind() == "sctp" else 0


async def send_pdu(writer: asyncio.StreamWriter, ppid: int, data: bytes) -> None:
    """Write one framed PDU and wait until it is handed to the kernel."""
    if len(data) > MAX_PDU:
        raise FramingError(f"PDU of {len(data)} bytes exceeds the {MAX_PDU}-byte frame limit")
    writer.write(_FRAME.pack(len(data), ppid & 0xFFFFFFFF) + bytes(data))
    await writer.drain()


async def recv_pdu(reader: asyncio.StreamReader) -> tuple[int, bytes] | None:
    """(ppid, payload) of the next frame; None on a clean end of stream between frames.
    FramingError on a frame cut short or longer than MAX_PDU."""
    try:
        head = await reader.readexactly(_FRAME.size)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise FramingError(f"stream ended inside a frame header ({len(exc.partial)} of "
                           f"{_FRAME.size} bytes)") from exc
    length, ppid = _FRAME.unpack(head)
    if length > MAX_PDU:
        raise FramingError(f"frame announces {length} bytes (limit {MAX_PDU}); "
                           f"header {head.hex()}: not an Iuh frame")
    try:
        return ppid, await reader.readexactly(length)
    except asyncio.IncompleteReadError as exc:
        raise FramingError(f"stream ended inside a frame ({len(exc.partial)} of {length} "
                           "payload bytes)") from exc


async def start_iuh_server(handler: Any, host: str | None, port: int) -> asyncio.Server:
    """asyncio.start_server on the Iuh transport (SCTP when available, else TCP)."""
    if transport_kind() == "tcp-fallback":
        return await asyncio.start_server(handler, host, port)
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host or "0.0.0.0", port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    family, _, _, _, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM, _proto())
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(64)
        sock.setblocking(False)
        return await asyncio.start_server(handler, sock=sock)
    except BaseException:
        sock.close()
        raise


async def open_iuh_connection(host: str, port: int) -> tuple[asyncio.StreamReader,
                                                             asyncio.StreamWriter]:
    """Connect to an HNB-GW on the Iuh transport (SCTP when available, else TCP)."""
    if transport_kind() == "tcp-fallback":
        return await asyncio.open_connection(host, port)
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    family, _, _, _, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM, _proto())
    sock.setblocking(False)
    try:
        await loop.sock_connect(sock, addr)
        return await asyncio.open_connection(sock=sock)
    except BaseException:
        sock.close()
        raise


# -- client -------------------------------------------------------------------------------

def _emit(events: EventLog | None, kind: str, msg: HnbapMessage, peer: str,
          identity: str | None) -> None:
    if events is None:
        return
    events.emit(kind, describe(msg), peer=peer, dir="out" if kind == "hnbap.tx" else "in",
                msg=msg.msg_name, identity=identity, transport=transport_kind(),
                **ie_fields(msg))


class IuhConnection:
    """An Iuh association from an HNB to an HNB-GW. A real HNB keeps it open while
    registered (the HNB-GW deregisters the HNB when it drops)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 peer: str, events: EventLog | None = None) -> None:
        self.reader, self.writer, self.peer, self.events = reader, writer, peer, events

    @classmethod
    async def open(cls, host: str, port: int = IUH_PORT, events: EventLog | None = None,
                   *, peer: str | None = None) -> IuhConnection:
        reader, writer = await open_iuh_connection(host, port)
        return cls(reader, writer, peer or f"{host}:{port}", events)

    async def register(self, req: RegisterRequest,
                       timeout: float = 10.0) -> RegisterAccept | RegisterReject:
        """Send HNB REGISTER REQUEST, return the HNB-GW's ACCEPT or REJECT."""
        await send_pdu(self.writer, PPID_HNBAP, encode(req))
        _emit(self.events, "hnbap.tx", req, self.peer, req.identity)
        try:
            async with asyncio.timeout(timeout):
                while True:
                    got = await recv_pdu(self.reader)
                    if got is None:
                        raise HnbapError(f"HNB-GW {self.peer} closed Iuh before answering "
                                         "HNB REGISTER REQUEST")
                    ppid, data = got
                    if ppid == PPID_HNBAP:
                        break
        except TimeoutError:
            raise TimeoutError(f"no answer from HNB-GW {self.peer} to HNB REGISTER REQUEST "
                               f"within {timeout:g}s") from None
        resp = decode(data)
        _emit(self.events, "hnbap.rx", resp, self.peer, req.identity)
        if isinstance(resp, RegisterRequest):
            raise HnbapError(f"HNB-GW {self.peer} answered with an HNBRegisterRequest",
                             "message-not-compatible-with-receiver-state")
        return resp

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()

    async def __aenter__(self) -> IuhConnection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def register(host: str, port: int, req: RegisterRequest,
                   events: EventLog | None = None, *, timeout: float = 10.0,
                   peer: str | None = None) -> RegisterAccept | RegisterReject:
    """Open Iuh to the HNB-GW, register, close. `peer` names the HNB-GW in events."""
    async with await IuhConnection.open(host, port, events, peer=peer) as conn:
        return await conn.register(req, timeout)
