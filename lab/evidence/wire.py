"""What the captures show: a scenario's pcaps summarised into timestamped facts.

The lab captures every network with tcpdump (one `<network>.pcap` per topology network;
a scenario gets its own slice of each in its evidence directory). The flows check some
steps on the wire as well as by the nodes' events ("via the IPsec tunnel", "over TLS"),
against these facts:

    IkeMsg     an IKEv2 message on UDP 500, or on UDP 4500 behind the non-ESP marker
               (NAT-T: strongSwan floats to 4500 after IKE_SA_INIT): exchange, request or
               response, who is the initiator
    EspFlow    ESP packets per (outer src, outer dst, ports): ESP-in-UDP on 4500 (the
               lab's kernel-libipsec encapsulates) or bare ESP (IP protocol 50), with
               their times
    DnsMsg     a clear-text DNS query or answer (UDP 53): name, answer addresses, server
    TcpStream  a TCP connection: TLS (ClientHello SNI, ServerHello seen) or clear text
               (its first bytes: "POST /acs HTTP/1.1")

Which network a packet was on comes from its file's name (= the topology network) and
that network's kind (public / mno). Reading streams packet by packet through scapy's raw
pcap / pcapng reader and reads the headers here (dissecting every packet into scapy layers
cost ~115 us a packet and 0.4 ms a DNS message; this, ~10 us), so memory grows with what
is kept, not with the capture: one float per ESP packet, one record per IKE or DNS message
and TCP connection, and at most TLS_BUFFER bytes of a connection's first data until it is
classified.

    python -m lab.evidence.wire runs/<run>/scenarios/<name>   # facts + how long it took
"""

from __future__ import annotations

import struct
import sys
import time
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from socket import AF_INET6, inet_ntoa, inet_ntop
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lab.topology import Topology

IKE_EXCHANGES = {34: "IKE_SA_INIT", 35: "IKE_AUTH", 36: "CREATE_CHILD_SA",
                 37: "INFORMATIONAL"}
IKE_PORT, NATT_PORT, DNS_PORT = 500, 4500, 53
TLS_BUFFER = 16384  # a ClientHello with post-quantum key shares runs to ~2 KB
HEAD_CHARS = 60
PCAP_SUFFIXES = (".pcap", ".pcapng")
UNKNOWN = "unknown"

# link types (pcap LINKTYPE_*) whose IPv4 header we can find
ETHERNET, RAW, IPV4, SLL, SLL2, NULL, LOOP = 1, 101, 228, 113, 276, 0, 108


# ---- facts ---------------------------------------------------------------------------------

@dataclass
class Capture:
    """One pcap file: the network it captured and how far it could be read."""
    network: str
    kind: str                       # the topology network's kind, or "unknown"
    path: Path
    packets: int = 0
    first: float | None = None
    last: float | None = None
    error: str = ""                 # why it could not be read (entirely, or past `last`)
    opened: bool = False            # False: nothing of it could be read
    ignored: int = 0                # packets not IPv4 (ARP, IPv6, unknown link type)

    @property
    def name(self) -> str:
        return self.path.name

    def usable(self, lo: float, hi: float) -> str:
        """"" when this capture can speak for [lo, hi], else why not."""
        if not self.opened:
            return f"pcap {self.name} unreadable: {self.error or 'no data'}"
        if self.error and (self.last is None or self.last < hi):
            return (f"pcap {self.name} readable only up to {clock(self.last)} "
                    f"({self.error})" if self.last is not None
                    else f"pcap {self.name} unreadable: {self.error}")
        return ""


@dataclass(frozen=True)
class IkeMsg:
    time: float
    network: str
    src: str
    sport: int
    dst: str
    dport: int
    exchange: str                   # IKE_SA_INIT, IKE_AUTH, ... or "type N"
    response: bool
    from_initiator: bool            # the I flag: the sender is the IKE SA's initiator
    spi_i: str
    spi_r: str
    msg_id: int
    version: int                    # 2 (IKEv2), 1 (IKEv1)

    @property
    def initiator(self) -> str:
        return self.src if self.from_initiator else self.dst

    @property
    def responder(self) -> str:
        return self.dst if self.from_initiator else self.src

    @property
    def where(self) -> str:
        return f"{self.src}:{self.sport} -> {self.dst}:{self.dport}"


@dataclass
class EspFlow:
    """The ESP packets from one outer address:port to another (encap "udp": ESP-in-UDP,
    "esp": IP protocol 50, ports 0)."""
    network: str
    src: str
    sport: int
    dst: str
    dport: int
    encap: str
    times: array = field(default_factory=lambda: array("d"))  # type: ignore[type-arg]

    @property
    def count(self) -> int:
        return len(self.times)

    def within(self, lo: float, hi: float) -> tuple[int, float | None, float | None]:
        """(packets, first, last) in [lo, hi]; the times are in capture order, which is
        time order but for a stray reordered packet, so this scans rather than bisects."""
        n, first, last = 0, None, None
        for t in self.times:
            if lo <= t <= hi:
                n += 1
                first = t if first is None else min(first, t)
                last = t if last is None else max(last, t)
        return n, first, last

    @property
    def where(self) -> str:
        if self.encap == "esp":
            return f"{self.src} -> {self.dst}"
        return f"{self.src}:{self.sport} -> {self.dst}:{self.dport}"

    @property
    def label(self) -> str:
        return "ESP-in-UDP" if self.encap == "udp" else "ESP"


@dataclass(frozen=True)
class DnsMsg:
    time: float
    network: str
    src: str
    sport: int
    dst: str
    dport: int
    qname: str                      # lower case, no trailing dot
    qtype: str
    response: bool
    rcode: str = ""
    answers: tuple[str, ...] = ()   # A/AAAA addresses of an answer

    @property
    def client(self) -> str:
        return self.dst if self.response else self.src

    @property
    def server(self) -> str:
        return self.src if self.response else self.dst


@dataclass
class TcpStream:
    network: str
    client: str
    cport: int
    server: str
    sport: int
    opened: float | None = None     # the client's SYN (None: began before the capture)
    first_data: float | None = None  # the client's first payload byte
    kind: str = ""                  # "tls" | "clear" | "" (the client sent nothing)
    sni: str | None = None
    client_hello: float | None = None
    server_hello: float | None = None
    head: str = ""                  # clear text: its first line (or bytes, in hex)
    _buf: bytearray | None = field(default=None, repr=False)
    _next: int | None = field(default=None, repr=False)
    _server_seen: bool = field(default=False, repr=False)

    @property
    def where(self) -> str:
        return f"{self.client}:{self.cport} -> {self.server}:{self.sport}"


@dataclass
class WireFacts:
    source: str
    captures: dict[str, Capture] = field(default_factory=dict)   # network -> capture
    ike: list[IkeMsg] = field(default_factory=list)
    esp: list[EspFlow] = field(default_factory=list)
    dns: list[DnsMsg] = field(default_factory=list)
    tcp: list[TcpStream] = field(default_factory=list)
    keepalives: int = 0
    seconds: float = 0.0            # how long summarising took
    problems: list[str] = field(default_factory=list)

    def captures_of(self, kind: str) -> list[Capture]:
        return [c for c in self.captures.values() if c.kind == kind]

    def on(self, networks: Iterable[str]) -> _Facts:
        nets = set(networks)
        return _Facts([m for m in self.ike if m.network in nets],
                      [f for f in self.esp if f.network in nets],
                      [m for m in self.dns if m.network in nets],
                      [s for s in self.tcp if s.network in nets])

    def lines(self) -> list[str]:
        """The summary a person reads (the CLI prints it)."""
        out = [f"{self.source}: {len(self.captures)} capture(s) summarised in "
               f"{self.seconds * 1000:.1f} ms"]
        out += [f"  problem: {p}" for p in self.problems]
        for c in self.captures.values():
            span = (f"{clock(c.first)}-{clock(c.last)}" if c.first is not None else "empty")
            out.append(f"  {c.name}: network {c.network} ({c.kind}), {c.packets} packets "
                       f"{span}" + (f", {c.ignored} not IPv4" if c.ignored else "")
                       + (f", error: {c.error}" if c.error else ""))
        for m in self.ike:
            out.append(f"  {clock(m.time)} {m.network} IKEv{m.version} {m.exchange} "
                       f"{'response' if m.response else 'request'} {m.where} initiator "
                       f"{m.initiator} SPIi {m.spi_i} msg {m.msg_id}")
        for f in self.esp:
            out.append(f"  {f.network} {f.count} {f.label} packets {f.where} "
                       f"{clock(min(f.times))}-{clock(max(f.times))}")
        if self.keepalives:
            out.append(f"  {self.keepalives} NAT-T keepalive(s)")
        for d in self.dns:
            what = (f"answer {d.rcode} {','.join(d.answers) or '-'}" if d.response
                    else "query")
            out.append(f"  {clock(d.time)} {d.network} DNS {what} {d.qname} {d.qtype} "
                       f"client {d.client} server {d.server}")
        for s in self.tcp:
            detail = (f"TLS SNI {s.sni!r}" + (" ServerHello" if s.server_hello else "")
                      if s.kind == "tls" else f"clear {s.head!r}" if s.kind == "clear"
                      else "no data")
            out.append(f"  {clock(s.opened or s.first_data)} {s.network} TCP {s.where} "
                       f"{detail}")
        return out


@dataclass
class _Facts:
    ike: list[IkeMsg]
    esp: list[EspFlow]
    dns: list[DnsMsg]
    tcp: list[TcpStream]


def clock(t: float | None) -> str:
    """"00:35:52.623" (UTC), how the evidence names a moment."""
    if t is None:
        return "?"
    return time.strftime("%H:%M:%S", time.gmtime(t)) + f".{int((t % 1) * 1000):03d}"


# ---- summarising ---------------------------------------------------------------------------

def pcap_files(pcap_dir: Path) -> list[Path]:
    return sorted(p for p in pcap_dir.iterdir() if p.suffix in PCAP_SUFFIXES and p.is_file())


def summarise(pcap_dir: Path | str, topology: Topology | None = None) -> WireFacts:
    """The facts of every pcap in `pcap_dir` (not recursive). A `<name>.pcap.error` left
    by the runner's cutting marks that network's capture unreadable."""
    load_scapy()
    t0 = time.perf_counter()
    d = Path(pcap_dir)
    facts = WireFacts(str(d))
    if not d.is_dir():
        facts.problems.append(f"{d}: no such directory")
        return facts
    kinds = {n: net.kind for n, net in topology.networks.items()} if topology else {}
    for path in pcap_files(d):
        network = path.stem
        cap = Capture(network, kinds.get(network, UNKNOWN), path)
        if topology is not None and network not in kinds:
            facts.problems.append(f"{path.name}: no network {network!r} in topology "
                                  f"{topology.name}: its kind is unknown")
        err = path.with_name(path.name + ".error")
        if err.exists():  # the cut failed: what is there is not the whole window
            cap.error = err.read_text(errors="replace").strip() or "cut failed"
        else:
            _Reader(facts, cap).read()
        facts.captures[network] = cap
    for err in sorted(d.glob("*.error")):
        stem = err.name[: -len(".error")]
        if Path(stem).suffix in PCAP_SUFFIXES and Path(stem).stem not in facts.captures:
            network = Path(stem).stem
            facts.captures[network] = Capture(network, kinds.get(network, UNKNOWN), d / stem,
                                              error=err.read_text(errors="replace").strip())
    facts.seconds = time.perf_counter() - t0
    return facts


def load_scapy() -> float:
    """Import the scapy parts used here (~0.2 s the first time in a process; not counted
    in WireFacts.seconds). Returns the seconds it took."""
    t0 = time.perf_counter()
    import scapy.utils  # noqa: F401
    return time.perf_counter() - t0


class _Reader:
    """One capture file into `facts`."""

    def __init__(self, facts: WireFacts, cap: Capture) -> None:
        self.facts, self.cap = facts, cap
        self.esp: dict[tuple[str, int, str, int, str], EspFlow] = {}
        self.streams: dict[tuple[str, int, str, int], TcpStream] = {}

    def read(self) -> None:
        from scapy.utils import RawPcapReader  # late: see load_scapy

        cap = self.cap
        try:
            rd = RawPcapReader(str(cap.path))  # a pcapng file gets the pcapng reader
        except Exception as exc:  # scapy raises its own exception for a non-capture file
            cap.error = f"not a pcap/pcapng file ({exc})"
            return
        cap.opened = True
        try:
            with rd:
                for t, linktype, data in _packets(rd):
                    cap.packets += 1
                    cap.first = t if cap.first is None else min(cap.first, t)
                    cap.last = t if cap.last is None else max(cap.last, t)
                    self.packet(t, linktype, data)
        except Exception as exc:  # a torn file: keep what was read, say where it stopped
            cap.error = f"read error after {cap.packets} packets: {exc}"
        self.facts.esp += self.esp.values()
        for s in {id(s): s for s in self.streams.values()}.values():
            _finish(s)
            self.facts.tcp.append(s)

    def packet(self, t: float, linktype: int, data: bytes) -> None:
        off = _ip_offset(linktype, data)
        if off is None or len(data) < off + 20 or data[off] >> 4 != 4:
            self.cap.ignored += 1
            return
        ihl = (data[off] & 0x0F) * 4
        total = struct.unpack_from("!H", data, off + 2)[0]
        frag = struct.unpack_from("!H", data, off + 6)[0] & 0x1FFF
        proto = data[off + 9]
        src, dst = inet_ntoa(data[off + 12:off + 16]), inet_ntoa(data[off + 16:off + 20])
        end = min(len(data), off + total) if total >= ihl else len(data)  # no link padding
        l4 = off + ihl
        if frag:  # a later fragment: no transport header in it
            return
        if proto == 17 and end - l4 >= 8:
            sport, dport, ulen = struct.unpack_from("!HHH", data, l4)
            payload = data[l4 + 8:min(end, l4 + ulen) if ulen >= 8 else end]
            self.udp(t, src, sport, dst, dport, payload)
        elif proto == 6 and end - l4 >= 20:
            self.tcp(t, src, dst, data, l4, end)
        elif proto == 50:
            self._esp(t, src, 0, dst, 0, "esp")

    # ---- UDP: IKE, ESP-in-UDP, DNS ----------------------------------------------------------

    def udp(self, t: float, src: str, sport: int, dst: str, dport: int, p: bytes) -> None:
        if NATT_PORT in (sport, dport):
            if p == b"\xff":  # NAT-T keepalive (RFC 3948)
                self.facts.keepalives += 1
            elif len(p) >= 4 and p[:4] == b"\0\0\0\0":  # non-ESP marker: IKE follows
                self.ike(t, src, sport, dst, dport, p[4:])
            elif len(p) >= 8:
                self._esp(t, src, sport, dst, dport, "udp")
        elif IKE_PORT in (sport, dport):
            self.ike(t, src, sport, dst, dport, p)
        elif DNS_PORT in (sport, dport):
            self.dns(t, src, sport, dst, dport, p)

    def ike(self, t: float, src: str, sport: int, dst: str, dport: int, p: bytes) -> None:
        if len(p) < 28:
            return
        version, exch, flags = p[17] >> 4, p[18], p[19]
        if version not in (1, 2):
            return
        name = IKE_EXCHANGES.get(exch, f"type {exch}") if version == 2 else f"type {exch}"
        # IKEv2 flags: 0x08 Initiator, 0x20 Response (RFC 7296 3.1)
        self.facts.ike.append(IkeMsg(
            t, self.cap.network, src, sport, dst, dport, name, bool(flags & 0x20),
            bool(flags & 0x08) if version == 2 else True, p[0:8].hex(), p[8:16].hex(),
            struct.unpack_from("!I", p, 20)[0], version))

    def _esp(self, t: float, src: str, sport: int, dst: str, dport: int, encap: str) -> None:
        key = (src, sport, dst, dport, encap)
        flow = self.esp.get(key)
        if flow is None:
            flow = self.esp[key] = EspFlow(self.cap.network, src, sport, dst, dport, encap)
        flow.times.append(t)

    def dns(self, t: float, src: str, sport: int, dst: str, dport: int, p: bytes) -> None:
        m = parse_dns(p)
        if m is None:
            return
        qname, qtype, response, rcode, answers = m
        self.facts.dns.append(DnsMsg(t, self.cap.network, src, sport, dst, dport, qname,
                                     qtype, response, rcode, answers))

    # ---- TCP: TLS or clear text -------------------------------------------------------------

    def tcp(self, t: float, src: str, dst: str, data: bytes, l4: int, end: int) -> None:
        sport, dport, seq = struct.unpack_from("!HHI", data, l4)
        doff = (data[l4 + 12] >> 4) * 4
        flags = data[l4 + 13]
        payload = data[l4 + doff:end] if doff >= 20 else b""
        key = (src, sport, dst, dport)
        syn, ack = flags & 0x02, flags & 0x10
        if syn and not ack:  # a new connection (a reused port starts over)
            old = self.streams.get(key)
            if old is not None:
                _finish(old)
                self.facts.tcp.append(old)
            s = TcpStream(self.cap.network, src, sport, dst, dport, opened=t)
            s._next = (seq + 1) & 0xFFFFFFFF
            self.streams[key] = self.streams[(dst, dport, src, sport)] = s
            return
        if not payload:
            return
        s = self.streams.get(key)
        if s is None:  # began before the capture: the first sender counts as client
            s = TcpStream(self.cap.network, src, sport, dst, dport)
            self.streams[key] = self.streams[(dst, dport, src, sport)] = s
        if (src, sport) == (s.client, s.cport):
            self._client_data(s, t, seq, payload)
        elif not s._server_seen:
            s._server_seen = True
            # a ServerHello record: content type 22, TLS major 3, handshake type 2
            if len(payload) >= 6 and payload[0] == 0x16 and payload[1] == 3 and payload[5] == 2:
                s.server_hello = t

    def _client_data(self, s: TcpStream, t: float, seq: int, payload: bytes) -> None:
        if s.first_data is None:
            s.first_data = t
            s._buf = bytearray()
            if s._next is None:
                s._next = seq
        if s.kind or s._buf is None:
            return
        if seq != s._next:  # retransmitted or out of order: classify with what we have
            if _seq_after(seq, s._next or 0):
                _finish(s)
            return
        s._buf += payload
        s._next = (seq + len(payload)) & 0xFFFFFFFF
        state, sni = parse_client_hello(bytes(s._buf))
        if state == "more" and len(s._buf) < TLS_BUFFER:
            return  # a ClientHello in several segments
        _decide(s, state, sni)


def _seq_after(a: int, b: int) -> bool:
    return 0 < ((a - b) & 0xFFFFFFFF) < 0x80000000


def _finish(s: TcpStream) -> None:
    """Classify a connection with the data it has (the capture ended, a gap)."""
    if s.kind or s._buf is None:
        s._buf = None
        return
    state, sni = parse_client_hello(bytes(s._buf))
    _decide(s, state, sni)


def _decide(s: TcpStream, state: str, sni: str | None) -> None:
    buf = bytes(s._buf or b"")
    if state in ("hello", "more"):  # "more": a ClientHello cut short, SNI if it got that far
        s.kind, s.sni = "tls", sni
        s.client_hello = s.first_data
    else:
        s.kind, s.head = "clear", _head(buf)
    s._buf = None


def _head(buf: bytes) -> str:
    line = buf.split(b"\r\n", 1)[0].split(b"\n", 1)[0][:HEAD_CHARS]
    if line and all(32 <= c < 127 for c in line):
        return line.decode("ascii")
    return buf[:16].hex()


def parse_client_hello(buf: bytes) -> tuple[str, str | None]:
    """("hello", sni) for a TLS ClientHello (sni None without server_name), ("more", sni)
    when what is there is the start of one, ("no", None) when it is not TLS."""
    if len(buf) < 6:
        # too short to tell: TLS if it starts like a handshake record
        return ("more", None) if buf[:1] in (b"", b"\x16") and buf[1:2] in (b"", b"\x03") \
            else ("no", None)
    if buf[0] != 0x16 or buf[1] != 3 or buf[5] != 1:
        return "no", None
    # the handshake message may span records: join their fragments
    hs = bytearray()
    i = 0
    while i + 5 <= len(buf) and buf[i] == 0x16:
        n = struct.unpack_from("!H", buf, i + 3)[0]
        hs += buf[i + 5:i + 5 + n]
        i += 5 + n
    if len(hs) < 4:
        return "more", None
    want = int.from_bytes(hs[1:4], "big") + 4
    complete = len(hs) >= want
    sni = _sni(bytes(hs[4:want]))
    return ("hello" if complete else "more"), sni


def _sni(body: bytes) -> str | None:
    """The server_name of a ClientHello body, as far as `body` goes."""
    try:
        i = 2 + 32                       # client_version, random
        i += 1 + body[i]                 # session_id
        i += 2 + struct.unpack_from("!H", body, i)[0]  # cipher_suites
        i += 1 + body[i]                 # compression_methods
        ext_end = i + 2 + struct.unpack_from("!H", body, i)[0]
        i += 2
        while i + 4 <= min(ext_end, len(body)):
            etype, elen = struct.unpack_from("!HH", body, i)
            ext = body[i + 4:i + 4 + elen]
            if etype == 0:               # server_name: list of (type, name)
                j = 2
                while j + 3 <= len(ext):
                    ntype, nlen = ext[j], struct.unpack_from("!H", ext, j + 1)[0]
                    if ntype == 0 and j + 3 + nlen <= len(ext):  # not a name cut short
                        return ext[j + 3:j + 3 + nlen].decode("ascii", "replace").lower()
                    j += 3 + nlen
                return None
            i += 4 + elen
    except (IndexError, struct.error):
        pass
    return None


QTYPES = {1: "A", 28: "AAAA", 5: "CNAME", 12: "PTR", 33: "SRV", 16: "TXT", 2: "NS",
          15: "MX", 6: "SOA", 255: "ANY"}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP",
          5: "REFUSED"}


def parse_dns(p: bytes) -> tuple[str, str, bool, str, tuple[str, ...]] | None:
    """(qname, qtype, response, rcode, answer addresses) of a DNS message, or None when
    `p` is not one. Liberal: answers are read as far as they go."""
    if len(p) < 12:
        return None
    flags, qdcount, ancount = struct.unpack_from("!HHH", p, 2)
    if qdcount < 1 or flags & 0x7800:  # no question, or not a standard query (opcode)
        return None
    got = _name(p, 12)
    if got is None or got[1] + 4 > len(p):
        return None
    qname, i = got
    qtype = struct.unpack_from("!H", p, i)[0]
    i += 4
    response = bool(flags & 0x8000)
    answers: list[str] = []
    for _ in range(ancount if response else 0):
        got = _name(p, i)
        if got is None or got[1] + 10 > len(p):
            break
        i = got[1]
        rtype, _cls, _ttl, rdlen = struct.unpack_from("!HHIH", p, i)
        rdata = p[i + 10:i + 10 + rdlen]
        i += 10 + rdlen
        if rtype == 1 and len(rdata) == 4:
            answers.append(inet_ntoa(rdata))
        elif rtype == 28 and len(rdata) == 16:
            answers.append(inet_ntop(AF_INET6, rdata))
    rcode = RCODES.get(flags & 0x000F, str(flags & 0x000F)) if response else ""
    return qname.rstrip(".").lower(), QTYPES.get(qtype, str(qtype)), response, rcode, \
        tuple(answers)


def _name(p: bytes, i: int) -> tuple[str, int] | None:
    """A (possibly compressed) domain name at `i`: (name, offset after it), or None."""
    labels: list[str] = []
    end = None
    for _ in range(128):  # bounds a pointer loop
        if i >= len(p):
            return None
        n = p[i]
        if n == 0:
            return ".".join(labels), end if end is not None else i + 1
        if n & 0xC0 == 0xC0:
            if i + 1 >= len(p):
                return None
            end = i + 2 if end is None else end
            i = ((n & 0x3F) << 8) | p[i + 1]
            continue
        if n & 0xC0 or i + 1 + n > len(p):
            return None
        labels.append(p[i + 1:i + 1 + n].decode("ascii", "replace"))
        i += 1 + n
    return None


def _ip_offset(linktype: int, data: bytes) -> int | None:
    if linktype == ETHERNET:
        off, etype = 14, data[12:14]
        while etype in (b"\x81\x00", b"\x88\xa8"):  # VLAN tags
            etype, off = data[off + 2:off + 4], off + 4
        return off if etype == b"\x08\x00" else None
    if linktype in (RAW, IPV4):
        return 0
    if linktype == SLL:
        return 16 if data[14:16] == b"\x08\x00" else None
    if linktype == SLL2:
        return 20 if data[0:2] == b"\x08\x00" else None
    if linktype in (NULL, LOOP):
        return 4 if data[:4] in (b"\x02\0\0\0", b"\0\0\0\x02") else None
    return None


def _packets(rd: Any) -> Iterator[tuple[float, int, bytes]]:
    """(time, link type, bytes) of each packet of a scapy raw pcap or pcapng reader."""
    nano = bool(getattr(rd, "nano", False))
    linktype = int(getattr(rd, "linktype", ETHERNET) or ETHERNET)
    while True:
        try:
            data, meta = rd._read_packet()
        except EOFError:
            return
        if hasattr(meta, "usec"):  # pcap
            yield meta.sec + meta.usec * (1e-9 if nano else 1e-6), linktype, data
        else:  # pcapng: per-packet link type and resolution
            ts = ((meta.tshigh or 0) << 32) + (meta.tslow or 0)
            yield ts / (meta.tsresol or 1_000_000), int(meta.linktype), data


def main(argv: list[str] | None = None) -> int:
    """Summarise a directory of pcaps (a scenario's evidence, or a run's pcap/): the facts
    and how long it took. The topology defaults to the run's topology.yaml above it."""
    from lab import topology as topology_mod

    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print("usage: python -m lab.evidence.wire PCAP_DIR [TOPOLOGY_YAML]")
        return 2
    d = Path(args[0])
    topo_file = Path(args[1]) if len(args) > 1 else next(
        (p / "topology.yaml" for p in d.resolve().parents if (p / "topology.yaml").exists()),
        None)
    topo = topology_mod.load(topo_file) if topo_file else None
    imported = load_scapy()
    facts = summarise(d, topo)
    print("\n".join(facts.lines()))
    print(f"(importing scapy took {imported * 1000:.0f} ms more, once per process)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
