"""Who is at the other end: map any peer string an event carries to a topology node name.

Nodes name their peers however they see them: the DNS server by client address (or node
name), the HNB by DNS server address, SeGW FQDN or ACS URL, the SeGW by HNB identity, the
HMS by the HNB's address (its inner IPsec address when the HNB comes through a tunnel),
the HNB-GW by "ip:port". One resolver turns all of these into node names:

    node name            "hms-initial"
    URL                  "http://hms-initial.mno.operator.example:7547/acs" -> its host
    host:port            "203.0.113.30:29169", "hnbgw:29169"
    IP address           any address of a node in the topology, or an inner pool address
                         leased to an HNB (learned from the run's ike.up / hms.inner_ip
                         events, by time, since a lease moves when the SeGW re-addresses)
    FQDN                 any record of the topology's zones, or a node's `fqdn` setting
    HNB identity         "1<OUI>-<Serial>@<realm>" (TS 25.469), from settings (the
                         certificate's and the one claimed in IKE, `ike_identity`) or events
    device id            "<OUI>-<Serial>" (the HMS's name for a device)

Unknown strings resolve to None: the caller shows the raw peer instead.
"""

from __future__ import annotations

import bisect
import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from lab.evidence.events import Event
from lab.topology import DEFAULT_OUI, Topology, hnb_identity, ike_identity

# 1<OUI>-<Serial>@<realm>; the serial may hold letters, digits and ._+-
IDENTITY_RE = re.compile(r"1(?P<oui>[0-9A-Fa-f]{6})-(?P<serial>[A-Za-z0-9._+-]+)@[A-Za-z0-9.-]+")
# Fields that name the other end when an event has no peer (checked in this order).
PEER_FIELDS = ("device", "identity", "url", "client", "server")
# An inner lease is credited to an HNB this long before its ike.up was written: the far
# side may log traffic from the new address a moment before the HNB's own record lands.
LEASE_SLACK_S = 1.0


def device_id_of(identity: str) -> str | None:
    """'1<OUI>-<Serial>@realm' -> '<OUI>-<Serial>' (the HMS's device id), else None."""
    m = IDENTITY_RE.fullmatch(identity.strip())
    return f"{m['oui'].upper()}-{m['serial']}" if m else None


class PeerResolver:
    """Resolves peer strings to node names for one run (topology + what its events taught)."""

    def __init__(self, topology: Topology | None = None, events: Iterable[Event] = ()) -> None:
        self.topology = topology
        self._names: dict[str, str] = {}       # lower-case node name -> node
        self._addrs: dict[str, str] = {}       # IP -> node (static topology addresses)
        self._hosts: dict[str, str] = {}       # lower-case FQDN -> node
        self._ids: dict[str, str] = {}         # lower-case identity or device id -> node
        self._leases: dict[str, list[tuple[float, str]]] = {}  # inner IP -> [(time, node)]
        if topology is not None:
            self._index_topology(topology)
        self.learn(events)

    # ---- building the index ---------------------------------------------------------------

    def _index_topology(self, topo: Topology) -> None:
        for node in topo.nodes.values():
            self._names[node.name.lower()] = node.name
            for addr in node.addresses.values():
                self._addrs[str(addr)] = node.name
        by_addr = dict(self._addrs)
        for records in topo.zones.values():
            for fqdn, addr in records.items():
                if str(addr) in by_addr:
                    self._hosts[fqdn.lower()] = by_addr[str(addr)]
        for node in topo.nodes.values():
            fqdn = node.settings.get("fqdn")
            if isinstance(fqdn, str) and fqdn:
                self._hosts.setdefault(fqdn.rstrip(".").lower(), node.name)
            if node.role == "hnb":
                self.add_identity(hnb_identity(node.settings, node.name), node.name)
                oui, serial = node.settings.get("oui", DEFAULT_OUI), node.settings.get("serial")
                self._ids.setdefault(f"{oui}-{serial or node.name}".lower(), node.name)
        for node in topo.nodes_of("hnb"):
            # the identity an HNB claims in IKE names it too (the SeGW's records of it),
            # unless it is another HNB's own: that one stays its owner's
            claimed = ike_identity(node.settings, node.name).strip().lower()
            self._ids.setdefault(claimed, node.name)

    def add_identity(self, identity: str, node: str) -> None:
        """An HNB identity (and the device id inside it) names `node`."""
        self._ids[identity.strip().lower()] = node
        dev = device_id_of(identity)
        if dev:
            self._ids[dev.lower()] = node

    def add_lease(self, address: str, node: str, at: float) -> None:
        """`node` held inner address `address` from time `at`."""
        leases = self._leases.setdefault(address, [])
        if (at, node) not in leases:
            bisect.insort(leases, (at, node))

    def learn(self, events: Iterable[Event]) -> None:
        """Identities and inner leases from a run's events: any HNB event with an
        `identity` (node.ready, hnb.power_on, ike.up), an HNB's ike.up (its inner address),
        a SeGW's ike.up (identity -> inner address) and an HMS's hms.inner_ip (device ->
        new inner address)."""
        evs = sorted(events, key=lambda e: e.time)
        for e in evs:  # identities first: SeGW and HMS events name HNBs by them
            ident = e.fields.get("identity")
            if isinstance(ident, str) and "@" in ident and self._is_hnb(e.node):
                self.add_identity(ident, e.node)  # node.ready, hnb.power_on, ike.up, ...
        for e in evs:
            inner = e.fields.get("inner")
            if e.kind == "ike.up" and isinstance(inner, str) and _is_ip(inner):
                if self._is_hnb(e.node):
                    self.add_lease(inner, e.node, e.time)
                else:
                    who = self._by_identity(str(e.fields.get("identity") or e.peer or ""))
                    if who:
                        self.add_lease(inner, who, e.time)
            elif e.kind == "hms.inner_ip":
                new, dev = e.fields.get("new"), e.fields.get("device")
                who = self._by_identity(str(dev or ""))
                if who and isinstance(new, str) and _is_ip(new):
                    self.add_lease(new, who, e.time)

    def _is_hnb(self, node: str) -> bool:
        if self.topology is None or node not in self.topology.nodes:
            return node.lower().startswith("hnb") and "gw" not in node.lower()
        return self.topology.nodes[node].role == "hnb"

    def _by_identity(self, s: str) -> str | None:
        s = s.strip().lower()
        if not s:
            return None
        if s in self._ids:
            return self._ids[s]
        m = IDENTITY_RE.search(s)
        if m:
            return self._ids.get(m.group(0).lower()) or self._ids.get(
                f"{m['oui']}-{m['serial']}".lower())
        return None

    # ---- resolving ----------------------------------------------------------------------------

    def node(self, peer: object, at: float | None = None) -> str | None:
        """The node `peer` names (at time `at`, for inner addresses), or None."""
        if peer is None:
            return None
        s = str(peer).strip()
        if not s or s == "?":
            return None
        low = s.lower()
        if low in self._names:
            return self._names[low]
        if "://" in s:
            try:
                host = urlsplit(s).hostname
            except ValueError:
                return None
            return self._host(host or "", at)
        if "@" in s:
            return self._by_identity(s)
        host = _strip_port(s)
        if host.lower() in self._names:
            return self._names[host.lower()]
        return self._host(host, at) or self._by_identity(s)

    def _host(self, host: str, at: float | None) -> str | None:
        host = host.strip("[]").rstrip(".").lower()
        if not host:
            return None
        if _is_ip(host):
            return self._addrs.get(host) or self._lease(host, at)
        return self._hosts.get(host) or self._names.get(host) or self._by_identity(host)

    def _lease(self, addr: str, at: float | None) -> str | None:
        leases = self._leases.get(addr)
        if not leases:
            return None
        if at is None:
            return leases[-1][1]
        i = bisect.bisect_right(leases, (at + LEASE_SLACK_S, "\uffff"))
        return leases[i - 1][1] if i else leases[0][1]

    def other_end(self, ev: Event) -> str | None:
        """The node at the other end of `ev`: its peer, else the first of its fields
        `device`, `identity`, `url`, `client`, `server` that resolves."""
        got = self.node(ev.peer, ev.time)
        if got:
            return got
        for name in PEER_FIELDS:
            got = self.node(ev.fields.get(name), ev.time)
            if got:
                return got
        return None


def _is_ip(s: str) -> bool:
    try:
        ipaddress.ip_address(s)
    except ValueError:
        return False
    return True


def _strip_port(s: str) -> str:
    """'1.2.3.4:5' -> '1.2.3.4', '[::1]:5' -> '::1', 'name:5' -> 'name'; else unchanged."""
    if s.startswith("[") and "]" in s:
        return s[1:s.index("]")]
    if s.count(":") == 1:
        host, _, port = s.partition(":")
        if port.isdigit():
            return host
    return s
