"""Topology files (YAML) -> a validated model of one lab.

A topology names its networks, its nodes (role, one address per network, role settings)
and the records of the outer (public) and inner (MNO) DNS zones. Validation collects every
problem and reports each on its own line as `FILE: FIELD: what is wrong`, so a person
fixes a file in one pass.

    name: intranet
    networks:
      internet: {subnet: 198.51.100.0/24, kind: public}
      mno:      {subnet: 10.10.0.0/24,   kind: mno}
    zones:                       # name -> node (its address on a network of the zone's
      outer: {segw-initial.op.example: segw-initial}   #  kind), node.network, or an IP
      inner: {hms-initial.mno.example: hms-initial}
    nodes:
      dns-outer: {role: dns, addresses: {internet: 198.51.100.53}, settings: {zone: outer}}
      ...

Routes are derived, not written: every node on an MNO network that a SeGW shares reaches
that SeGW's inner address pool through the SeGW's address there.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from lab.pki import DEFAULT_REALM, HNB_IDENTITY_RE

ROLES = ("dns", "segw", "hms", "hnbgw", "hnb")
NETWORK_KINDS = ("public", "mno")
ZONE_KIND = {"outer": "public", "inner": "mno"}

# Role settings each role accepts (name -> expected Python type(s)); anything else is an error.
ROLE_SETTINGS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "dns": {"zone": str},
    "segw": {"fqdn": str, "pool": str, "dns": str, "cert": str, "realm": str},
    # the HMS's own settings (lab.nodes.hms.__main__) plus the lab's: fqdn (certificate
    # name), tls (serve the ACS over HTTPS on 7548 too), cert (certificate variant)
    "hms": {"role": str, "policy": list, "provisioning": dict, "cm_mode": str,
            "alarm_reporting": list, "pm_upload": dict, "deprovision": dict,
            "connection_request": dict, "auto_register": bool, "hold_requests": bool,
            "files": dict, "session_timeout": (int, float), "max_attempts": int,
            "fqdn": str, "tls": bool, "cert": str},
    "hnbgw": {"fqdn": str, "rnc_id": int, "allowed": (list, str), "listen": str, "port": int,
              "overload_backoff": int},
    "hnb": {"serial": str, "oui": str, "dns": str, "segw": str, "hms_url": str,
            "location": dict, "realm": str, "plmn": str, "lac": int, "cell_id": int,
            "identity_override": str, "ike_identity": str, "cert": str,
            "unreachable_segw": bool},
}
# Roles that run charon with kernel-libipsec: TUN device and NET_ADMIN.
TUN_ROLES = {"segw", "hnb"}
FORWARDING_ROLES = {"segw"}

# Values of the `cert` knob (lab.lab.node_extras): servers can also get a certificate for
# another name; an HNB's certificate carries its identity, so it has no wrong-name variant.
CERT_VARIANTS = {"server": ("good", "foreign", "expired", "wrong-name"),
                 "hnb": ("good", "foreign", "expired")}
# Node and network names become container, network, host and file names and the `node.net`
# form of a zone record: letters, digits and inner '-' only.
NAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$")
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?"
DNS_NAME_RE = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*\.?$")

# An HNB's OUI when its settings give none (its identity 1<OUI>-<SerialNumber>@<realm>).
DEFAULT_OUI = "00D0B2"

# Settings of an HMS node that are the lab's, not the HMS program's (lab.lab.hms_settings).
HMS_LAB_KEYS = ("fqdn", "tls", "cert")

TOP_KEYS = {"name", "description", "networks", "zones", "nodes"}
NETWORK_KEYS = {"subnet", "kind", "description"}
NODE_KEYS = {"role", "addresses", "settings", "description"}


class TopologyError(ValueError):
    """All problems of one topology file, one per line."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {p}" for p in problems))


@dataclass(frozen=True)
class Network:
    name: str
    subnet: ipaddress.IPv4Network
    kind: str
    description: str = ""


@dataclass(frozen=True)
class Node:
    name: str
    role: str
    addresses: dict[str, ipaddress.IPv4Address]
    settings: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    @property
    def needs_tun(self) -> bool:
        return self.role in TUN_ROLES

    @property
    def forwards(self) -> bool:
        return self.role in FORWARDING_ROLES


@dataclass(frozen=True)
class Route:
    node: str
    destination: ipaddress.IPv4Network
    via: ipaddress.IPv4Address
    why: str


@dataclass
class Topology:
    name: str
    description: str
    networks: dict[str, Network]
    nodes: dict[str, Node]
    zones: dict[str, dict[str, ipaddress.IPv4Address]]  # zone -> fqdn -> address
    source: str = "<memory>"

    def nodes_of(self, role: str) -> list[Node]:
        return [n for n in self.nodes.values() if n.role == role]

    def address_on_kind(self, node: str, kind: str) -> ipaddress.IPv4Address | None:
        n = self.nodes[node]
        for net, addr in n.addresses.items():
            if self.networks[net].kind == kind:
                return addr
        return None

    def routes(self) -> list[Route]:
        out: list[Route] = []
        for gw in self.nodes_of("segw"):
            pool = gw.settings.get("pool")
            if not pool:
                continue
            dest = ipaddress.ip_network(pool)
            for net, gw_addr in gw.addresses.items():
                if self.networks[net].kind != "mno":
                    continue
                for n in self.nodes.values():
                    if n.role != "segw" and net in n.addresses:
                        out.append(Route(n.name, dest, gw_addr,
                                         f"inner pool of {gw.name} via {net}"))
        return out

    def resolve(self, zone: str, fqdn: str) -> ipaddress.IPv4Address | None:
        return self.zones.get(zone, {}).get(fqdn.rstrip(".").lower())


def hnb_identity(settings: dict[str, Any], name: str) -> str:
    """TS 25.469 HNB identity `1<OUI>-<SerialNumber>@<realm>` of HNB node `name` from its
    settings: the one its device certificate carries."""
    override = settings.get("identity_override")
    if isinstance(override, str) and override:
        return override
    return (f"1{settings.get('oui', DEFAULT_OUI)}-{settings.get('serial', name)}@"
            f"{settings.get('realm', DEFAULT_REALM)}")


def ike_identity(settings: dict[str, Any], name: str) -> str:
    """The identity HNB node `name` claims in IKE (and everywhere else): its certificate's,
    unless `ike_identity` sets another (a negative scenario: the certificate does not prove
    it)."""
    claimed = settings.get("ike_identity")
    return claimed if isinstance(claimed, str) and claimed else hnb_identity(settings, name)


def load(path: Path | str) -> Topology:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TopologyError(str(path), [f"cannot read: {exc.strerror or exc}"]) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        raise TopologyError(str(path), [f"{where}not valid YAML: {exc}"]) from exc
    return parse(data, source=str(path))


def parse(data: Any, source: str = "<memory>") -> Topology:
    v = _Validator(source)
    topo = v.run(data)
    if v.problems:
        raise TopologyError(source, v.problems)
    assert topo is not None
    return topo


class _Validator:
    """Collects every problem once: a part that is already wrong (a network with a bad
    kind, a node with an unknown role, a record pointing nowhere) is remembered, and what
    refers to it later is not reported again as a second, misleading problem."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []
        self.bad_networks: set[str] = set()   # reported networks.X
        self.bad_nodes: set[str] = set()      # reported nodes.X (role unknown)
        self.partial_nodes: set[str] = set()  # nodes with an address already reported
        self.bad_records: set[tuple[str, str]] = set()  # (zone, fqdn) already reported

    def err(self, where: str, what: str) -> None:
        self.problems.append(f"{where}: {what}")

    def _mapping(self, value: Any, where: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.err(where, f"must be a mapping, got {type(value).__name__}")
            return {}
        return value

    def _unknown_keys(self, d: dict[str, Any], allowed: set[str], where: str) -> None:
        for k in d:
            if k not in allowed:
                self.err(f"{where}.{k}" if where else str(k),
                         f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def _name(self, name: Any, where: str) -> bool:
        if isinstance(name, str) and NAME_RE.match(name):
            return True
        self.err(where, f"bad name {name!r}: use letters, digits and '-' (it becomes a "
                        "container, network and file name)")
        return False

    def run(self, data: Any) -> Topology | None:
        if not isinstance(data, dict):
            self.err("(top)", "a topology must be a mapping with name, networks, nodes")
            return None
        self._unknown_keys(data, TOP_KEYS, "")
        name = data.get("name")
        if not isinstance(name, str) or not name.replace("-", "").isalnum():
            self.err("name", f"must be a short name of letters, digits and '-', got {name!r}")
            name = "lab"
        networks = self._networks(self._mapping(data.get("networks"), "networks"))
        nodes = self._nodes(self._mapping(data.get("nodes"), "nodes"), networks)
        zones = self._zones(self._mapping(data.get("zones"), "zones"), networks, nodes)
        topo = Topology(name=name, description=str(data.get("description", "")),
                        networks=networks, nodes=nodes, zones=zones, source=self.source)
        self._references(topo)
        return topo

    # ---- networks, nodes, zones ------------------------------------------------------------

    def _networks(self, raw: dict[str, Any]) -> dict[str, Network]:
        if not raw:
            self.err("networks", "at least one network is required")
        out: dict[str, Network] = {}
        for nname, spec in raw.items():
            where = f"networks.{nname}"
            spec = self._mapping(spec, where)
            self._unknown_keys(spec, NETWORK_KEYS, where)
            ok = self._name(nname, where)
            try:
                subnet = ipaddress.IPv4Network(str(spec.get("subnet")), strict=True)
            except ValueError as exc:
                self.err(f"{where}.subnet", f"not an IPv4 subnet: {exc}")
                self.bad_networks.add(nname)
                continue
            kind = spec.get("kind")
            if kind not in NETWORK_KINDS:
                self.err(f"{where}.kind",
                         f"must be one of {', '.join(NETWORK_KINDS)}, got {kind!r}")
                self.bad_networks.add(nname)
                continue
            for other in out.values():
                if subnet.overlaps(other.subnet):
                    self.err(f"{where}.subnet",
                             f"{subnet} overlaps networks.{other.name}.subnet {other.subnet}")
            if not ok:
                self.bad_networks.add(nname)
                continue
            out[nname] = Network(nname, subnet, kind, str(spec.get("description", "")))
        return out

    def _nodes(self, raw: dict[str, Any], networks: dict[str, Network]) -> dict[str, Node]:
        if not raw:
            self.err("nodes", "at least one node is required")
        seen: dict[ipaddress.IPv4Address, str] = {}
        out: dict[str, Node] = {}
        for nname, spec in raw.items():
            where = f"nodes.{nname}"
            spec = self._mapping(spec, where)
            self._unknown_keys(spec, NODE_KEYS, where)
            named = self._name(nname, where)
            role = spec.get("role")
            if role not in ROLES:
                self.err(f"{where}.role", f"unknown role {role!r} (roles: {', '.join(ROLES)})")
            addrs = self._addresses(spec, where, str(nname), networks, seen)
            if role not in ROLES or not named:
                # Its addresses were checked (independent problems); what refers to it is not.
                self.bad_nodes.add(str(nname))
                continue
            settings = self._mapping(spec.get("settings"), f"{where}.settings")
            allowed = ROLE_SETTINGS[role]
            for key, val in settings.items():
                if key not in allowed:
                    self.err(f"{where}.settings.{key}",
                             f"unknown key for role {role} (allowed: {', '.join(sorted(allowed))})")
                elif not _type_ok(val, allowed[key]):
                    self.err(f"{where}.settings.{key}",
                             f"wrong type {type(val).__name__} (expected {_names(allowed[key])})")
            out[nname] = Node(nname, role, addrs, dict(settings),
                              str(spec.get("description", "")))
        return out

    def _addresses(self, spec: dict[str, Any], where: str, node: str,
                   networks: dict[str, Network],
                   seen: dict[ipaddress.IPv4Address, str]) -> dict[str, ipaddress.IPv4Address]:
        addrs: dict[str, ipaddress.IPv4Address] = {}
        raw_addrs = self._mapping(spec.get("addresses"), f"{where}.addresses")
        if not raw_addrs:
            self.err(f"{where}.addresses", "a node needs an address on at least one network")
        for net, a in raw_addrs.items():
            aw = f"{where}.addresses.{net}"
            if net in self.bad_networks:
                self.partial_nodes.add(node)  # the network's own problem is reported
                continue
            if net not in networks:
                self.err(aw, f"no network named {net!r} (networks: {', '.join(networks)})")
                self.partial_nodes.add(node)
                continue
            try:
                addr = ipaddress.IPv4Address(str(a))
            except ValueError:
                self.err(aw, f"not an IPv4 address: {a!r}")
                self.partial_nodes.add(node)
                continue
            subnet = networks[net].subnet
            gateway = next(subnet.hosts())
            if addr not in subnet:
                self.err(aw, f"{addr} is outside the network's subnet {subnet}")
            elif addr in (subnet.network_address, subnet.broadcast_address, gateway):
                self.err(aw, f"{addr} is reserved (network, broadcast or the Docker gateway "
                             f"{gateway})")
            elif addr in seen:
                self.err(aw, f"duplicate address {addr}, already used by {seen[addr]}")
            else:
                seen[addr] = aw
                addrs[net] = addr
                continue
            self.partial_nodes.add(node)
        return addrs

    def _zones(self, raw: dict[str, Any], networks: dict[str, Network],
               nodes: dict[str, Node]) -> dict[str, dict[str, ipaddress.IPv4Address]]:
        out: dict[str, dict[str, ipaddress.IPv4Address]] = {}
        for zone, records in raw.items():
            if zone not in ZONE_KIND:
                self.err(f"zones.{zone}", f"unknown zone (zones: {', '.join(ZONE_KIND)})")
                continue
            out[zone] = {}
            for fqdn, target in self._mapping(records, f"zones.{zone}").items():
                where = f"zones.{zone}.{fqdn}"
                key = str(fqdn).rstrip(".").lower()
                if not DNS_NAME_RE.match(str(fqdn)):
                    self.err(where, f"{fqdn!r} is not a DNS name")
                    self.bad_records.add((zone, key))
                    continue
                addr = self._record_target(str(target), ZONE_KIND[zone], networks, nodes, where)
                if addr is None:
                    self.bad_records.add((zone, key))
                else:
                    out[zone][key] = addr
        return out

    def _record_target(self, target: str, kind: str, networks: dict[str, Network],
                       nodes: dict[str, Node], where: str) -> ipaddress.IPv4Address | None:
        try:
            return ipaddress.IPv4Address(target)
        except ValueError:
            pass
        node_name, _, net = target.partition(".")
        if node_name in self.bad_nodes or target in self.bad_nodes:
            return None  # that node's own problem is reported
        node = nodes.get(node_name) if node_name in nodes else nodes.get(target)
        if node is None:
            self.err(where, f"points nowhere: no node named {target!r}")
            return None
        partial = node.name in self.partial_nodes  # a missing address is already reported
        if net and node_name in nodes:
            if net not in node.addresses:
                if not partial and net not in self.bad_networks:
                    self.err(where, f"points nowhere: node {node_name} has no address on "
                                    f"{net!r}")
                return None
            return node.addresses[net]
        for n, a in node.addresses.items():
            if networks[n].kind == kind:
                return a
        if not partial:
            self.err(where, f"points nowhere: node {node.name} has no address on a {kind} "
                            "network")
        return None

    # ---- settings by value and the names they use -------------------------------------------

    def _references(self, topo: Topology) -> None:
        for node in topo.nodes.values():
            where = f"nodes.{node.name}.settings"
            ref = node.settings.get("dns")  # a wrong type is reported already
            if isinstance(ref, str) and ref not in self.bad_nodes and (
                    ref not in topo.nodes or topo.nodes[ref].role != "dns"):
                self.err(f"{where}.dns", f"no dns node named {ref!r}")
            check = getattr(self, f"_check_{node.role}")
            check(topo, node, where)

    def _check_dns(self, topo: Topology, node: Node, where: str) -> None:
        zone = node.settings.get("zone")  # a wrong type is reported already
        if zone is None or (isinstance(zone, str) and zone not in ZONE_KIND):
            self.err(f"{where}.zone", f"must name a zone ({', '.join(ZONE_KIND)}), got {zone!r}")

    def _check_segw(self, topo: Topology, node: Node, where: str) -> None:
        s = node.settings
        self._cert(s, where, "server")
        pool = s.get("pool")
        try:
            pool_net = ipaddress.IPv4Network(str(pool), strict=True)
        except ValueError as exc:
            self.err(f"{where}.pool", f"not an IPv4 subnet: {exc}")
        else:
            # lab.nodes.segw.pools.Leases splits it into a shared and a readdress half
            if pool_net.prefixlen > 29:
                self.err(f"{where}.pool", f"{pool_net} is too small to split in two halves "
                                          "(use a /29 or larger)")
            for net in topo.networks.values():
                if pool_net.overlaps(net.subnet):
                    self.err(f"{where}.pool", f"{pool_net} overlaps networks.{net.name}")
        if isinstance(s.get("fqdn"), str) and self._dns_name(s["fqdn"], f"{where}.fqdn"):
            self._resolves(topo, f"{where}.fqdn", s["fqdn"], ("outer",))
        if isinstance(s.get("realm"), str):
            self._dns_name(s["realm"], f"{where}.realm")  # the HNB identities it accepts

    def _check_hnbgw(self, topo: Topology, node: Node, where: str) -> None:
        s = node.settings
        # Only values given are checked: a missing rnc_id is the HNB-GW's own start-up error.
        self._int_range(s, "rnc_id", 0, 0xFFFF, where)
        self._int_range(s, "port", 1, 65535, where)
        self._int_range(s, "overload_backoff", 0, 3600, where)
        allowed = s.get("allowed")
        if isinstance(allowed, list) and not all(isinstance(a, str) and a for a in allowed):
            self.err(f"{where}.allowed", 'expected non-empty strings (HNB identity patterns, '
                                         'PLMNs) or "*"')
        if isinstance(allowed, str) and not allowed:
            self.err(f"{where}.allowed", 'empty: give "*" to admit any HNB')
        if isinstance(s.get("listen"), str):
            try:
                ipaddress.IPv4Address(s["listen"])
            except ValueError:
                self.err(f"{where}.listen", f"not an IPv4 address: {s['listen']!r}")
        if isinstance(s.get("fqdn"), str):
            self._dns_name(s["fqdn"], f"{where}.fqdn")

    def _check_hms(self, topo: Topology, node: Node, where: str) -> None:
        # The HMS's own checks (what it runs at start-up), so a bad value fails here, naming
        # the file, rather than as a node that exits during `up`.
        from lab.nodes.hms.settings import HmsSettings, SettingsError

        s = node.settings
        self._cert(s, where, "server")
        if isinstance(s.get("fqdn"), str):
            self._dns_name(s["fqdn"], f"{where}.fqdn")
        own = {k: v for k, v in s.items() if k in ROLE_SETTINGS["hms"]
               and k not in HMS_LAB_KEYS and _type_ok(v, ROLE_SETTINGS["hms"][k])}
        try:
            HmsSettings.from_dict({**own, "api_token": "check"})
        except SettingsError as exc:
            field_, sep, what = str(exc).partition(": ")
            if sep and field_.startswith("settings"):
                self.err(f"nodes.{node.name}.{field_}", what)
            else:
                self.err(where, str(exc))
        prov = s.get("provisioning") if isinstance(s.get("provisioning"), dict) else {}
        policy = s.get("policy") if isinstance(s.get("policy"), list) else []
        for i, rule in enumerate(policy):
            if not isinstance(rule, dict):
                continue
            rw = f"{where}.policy[{i}]"
            segw = rule.get("serving_segw")
            segw = segw if isinstance(segw, str) and segw else None
            if segw and self._dns_name(segw, f"{rw}.serving_segw"):
                self._resolves(topo, f"{rw}.serving_segw", segw, ("outer",),
                               "the HNB resolves it at the outer DNS")
            url = self._url_host(rule.get("serving_hms_url"), f"{rw}.serving_hms_url")
            if url:
                scheme, host = url
                if scheme == "https" or not segw:
                    zones, why = ("outer",), "over TLS the HNB resolves it at the outer DNS"
                else:
                    zones, why = self._tunnel_zones(topo, segw, ("outer",))
                if prov.get("ipsec") is False:  # the HNB may be told to leave IPsec off
                    zones = tuple(dict.fromkeys(("outer", *zones)))
                self._resolves(topo, f"{rw}.serving_hms_url", host, zones, why)
            gw = rule.get("hnbgw")
            if isinstance(gw, str) and gw and self._dns_name(gw, f"{rw}.hnbgw"):
                zones, why = self._tunnel_zones(topo, segw, ("outer",))
                self._resolves(topo, f"{rw}.hnbgw", gw, zones, why)
        gw = prov.get("hnbgw")
        if isinstance(gw, str) and gw and self._dns_name(gw, f"{where}.provisioning.hnbgw"):
            # Which SeGW's tunnel the HNB is in then is not known here: any SeGW's zone will do.
            zones = tuple(dict.fromkeys(
                z for g in topo.nodes_of("segw")
                for z in self._dns_zones(topo, g.settings) or ("outer",))) or ("outer",)
            self._resolves(topo, f"{where}.provisioning.hnbgw", gw, zones,
                           "the HNB resolves it at the DNS its SeGW hands out")

    def _check_hnb(self, topo: Topology, node: Node, where: str) -> None:
        s = node.settings
        self._cert(s, where, "hnb")
        # The HNB identity 1<OUI>-<SerialNumber>@<realm> (hnb_identity), checked one part
        # at a time so the message names the setting; the PKI would refuse it at `up`.
        parts = {"oui": DEFAULT_OUI, "serial": node.name, "realm": DEFAULT_REALM}
        for key, what in (("oui", "6 hex digits"),
                          ("serial", "letters, digits, '.', '_', '+' or '-'"),
                          ("realm", "a DNS name")):
            val = s.get(key)
            if isinstance(val, str):
                trial = {**parts, key: val}
                if not HNB_IDENTITY_RE.match(f"1{trial['oui']}-{trial['serial']}@"
                                             f"{trial['realm']}"):
                    self.err(f"{where}.{key}", f"{val!r} is not {what} (it goes into the HNB "
                                               "identity 1<OUI>-<SerialNumber>@<realm>)")
        for key in ("identity_override", "ike_identity"):
            ident = s.get(key)
            if isinstance(ident, str) and not HNB_IDENTITY_RE.match(ident):
                self.err(f"{where}.{key}",
                         f"{ident!r} is not of the form 1<OUI>-<SerialNumber>@<realm>")
        plmn = s.get("plmn")
        if isinstance(plmn, str) and not (plmn.isdigit() and len(plmn) in (5, 6)):
            self.err(f"{where}.plmn", f"{plmn!r} is not 5 or 6 digits (MCC + MNC)")
        self._int_range(s, "lac", 0, 0xFFFF, where)
        self._int_range(s, "cell_id", 0, (1 << 28) - 1, where)
        loc = s.get("location")
        if isinstance(loc, dict):
            for key, lim in (("lat", 90), ("lon", 180)):
                v = loc.get(key)
                if not isinstance(v, int | float) or isinstance(v, bool) or not -lim <= v <= lim:
                    self.err(f"{where}.location.{key}",
                             f"expected degrees in -{lim}..{lim}, got {v!r}")
            for key in loc:
                if key not in ("lat", "lon"):
                    self.err(f"{where}.location.{key}", "unknown key (allowed: lat, lon)")
        # The names the HNB resolves: SecGWServer1 at its own DNS; the HMS URL there too
        # (over TLS or without a tunnel), else at the DNS the SeGW hands out in the tunnel.
        own = self._dns_zones(topo, s)
        no_dns = "the HNB has no settings.dns to ask"
        segw = s.get("segw") if isinstance(s.get("segw"), str) and s.get("segw") else None
        if segw and self._dns_name(segw, f"{where}.segw"):
            self._resolves(topo, f"{where}.segw", segw, own or (),
                           f"the HNB resolves it at {s['dns']}" if own else no_dns)
        url = self._url_host(s.get("hms_url"), f"{where}.hms_url")
        if url:
            scheme, host = url
            if scheme == "https" or not segw:
                zones, why = own or (), (f"the HNB resolves it at {s['dns']}, outside any "
                                         "tunnel" if own else no_dns)
            else:
                zones, why = self._tunnel_zones(topo, segw, own)
            self._resolves(topo, f"{where}.hms_url", host, zones, why)

    # ---- helpers -----------------------------------------------------------------------------

    def _cert(self, s: dict[str, Any], where: str, kind: str) -> None:
        v = s.get("cert")
        if isinstance(v, str) and v not in CERT_VARIANTS[kind]:
            extra = " (wrong-name is for servers)" if v == "wrong-name" else ""
            self.err(f"{where}.cert",
                     f"{v!r} is not one of {', '.join(CERT_VARIANTS[kind])}{extra}")

    def _int_range(self, s: dict[str, Any], key: str, lo: int, hi: int, where: str) -> None:
        v = s.get(key)
        if isinstance(v, int) and not isinstance(v, bool) and not lo <= v <= hi:
            self.err(f"{where}.{key}", f"{v} is out of range {lo}..{hi}")

    def _dns_name(self, name: str, where: str) -> bool:
        """True for a DNS name or an IPv4 address; else reports it and says False."""
        if _is_ipv4(name) or (len(name) <= 253 and DNS_NAME_RE.match(name)):
            return True
        self.err(where, f"{name!r} is not a DNS name or IPv4 address")
        return False

    def _url_host(self, url: Any, where: str) -> tuple[str, str] | None:
        """(scheme, host) of an HTTP(S) URL; None (reported) when it is not one."""
        if not isinstance(url, str) or not url:
            return None
        try:
            parts = urlsplit(url)
            _ = parts.port  # raises ValueError on a bad port
        except ValueError as exc:
            self.err(where, f"{url!r} is not a URL: {exc}")
            return None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self.err(where, f"{url!r}: expected http(s)://HOST[:PORT]/PATH")
            return None
        if not self._dns_name(parts.hostname, where):
            return None
        return parts.scheme, parts.hostname

    def _resolves(self, topo: Topology, where: str, name: str, zones: tuple[str, ...],
                  why: str | None = None) -> None:
        """A name a node will look up must have a record in one of `zones` (or be an IP)."""
        if _is_ipv4(name):
            return
        key = name.rstrip(".").lower()
        if any(topo.resolve(z, key) is not None or (z, key) in self.bad_records
               for z in zones):
            return  # it resolves, or its record's own problem is reported
        if not zones:
            self.err(where, f"{name} cannot be resolved ({why})")
            return
        self.err(where, f"{name} has no record in {' or '.join(f'zones.{z}' for z in zones)}"
                        + (f" ({why})" if why else ""))

    def _dns_zones(self, topo: Topology, s: dict[str, Any]) -> tuple[str, ...] | None:
        """The zone of the DNS node in settings.dns; None without one. A `dns` that names
        no usable DNS node is reported on its own: then any zone, so as not to report the
        names that depend on it a second time."""
        if "dns" not in s:
            return None
        n = topo.nodes.get(s["dns"]) if isinstance(s["dns"], str) else None
        zone = n.settings.get("zone") if n is not None and n.role == "dns" else None
        return (zone,) if isinstance(zone, str) and zone in ZONE_KIND else tuple(ZONE_KIND)

    def _tunnel_zones(self, topo: Topology, segw: str | None,
                      own: tuple[str, ...] | None) -> tuple[tuple[str, ...], str]:
        """The zones the HNB resolves in once in a tunnel to `segw`, and why: the zone of
        the DNS the SeGW hands out, else the HNB's own."""
        gw = _segw_node(topo, segw) if segw else None
        if gw is None:
            return tuple(ZONE_KIND), "its SeGW is not a node of this topology"
        zones = self._dns_zones(topo, gw.settings)
        if zones is not None:
            return zones, (f"the HNB resolves it at {gw.settings['dns']}, the DNS "
                           f"{gw.name} hands out")
        if own is not None:
            return own, f"{gw.name} hands out no DNS, so the HNB asks its own"
        return (), f"{gw.name} hands out no DNS and the HNB has no settings.dns"


def _segw_node(topo: Topology, segw: str) -> Node | None:
    """The SeGW node a name in SecGWServer1 leads to: by its fqdn, else by its address."""
    for n in topo.nodes_of("segw"):
        if str(n.settings.get("fqdn", "")).lower() == segw.rstrip(".").lower():
            return n
    addr = topo.resolve("outer", segw)
    if addr is None and _is_ipv4(segw):
        addr = ipaddress.IPv4Address(segw)
    for n in topo.nodes_of("segw"):
        if addr is not None and addr in n.addresses.values():
            return n
    return None


def _is_ipv4(s: str) -> bool:
    try:
        ipaddress.IPv4Address(s)
        return True
    except ValueError:
        return False


def _type_ok(val: Any, want: type | tuple[type, ...]) -> bool:
    wants = want if isinstance(want, tuple) else (want,)
    if isinstance(val, bool) and bool not in wants:
        return False  # YAML `true` is not a number
    return isinstance(val, wants)


def _names(want: type | tuple[type, ...]) -> str:
    return " or ".join(t.__name__ for t in (want if isinstance(want, tuple) else (want,)))
