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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROLES = ("dns", "segw", "hms", "hnbgw", "hnb")
NETWORK_KINDS = ("public", "mno")
ZONE_KIND = {"outer": "public", "inner": "mno"}

# Role settings each role accepts (name -> expected Python type(s)); anything else is an error.
ROLE_SETTINGS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "dns": {"zone": str},
    "segw": {"fqdn": str, "pool": str, "dns": str, "cert": str},
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
            "identity_override": str, "cert": str, "unreachable_segw": bool},
}
# Roles that run charon with kernel-libipsec: TUN device and NET_ADMIN.
TUN_ROLES = {"segw", "hnb"}
FORWARDING_ROLES = {"segw"}

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
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []

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

    def _networks(self, raw: dict[str, Any]) -> dict[str, Network]:
        if not raw:
            self.err("networks", "at least one network is required")
        out: dict[str, Network] = {}
        for nname, spec in raw.items():
            where = f"networks.{nname}"
            spec = self._mapping(spec, where)
            self._unknown_keys(spec, NETWORK_KEYS, where)
            try:
                subnet = ipaddress.IPv4Network(str(spec.get("subnet")), strict=True)
            except ValueError as exc:
                self.err(f"{where}.subnet", f"not an IPv4 subnet: {exc}")
                continue
            kind = spec.get("kind")
            if kind not in NETWORK_KINDS:
                self.err(f"{where}.kind",
                         f"must be one of {', '.join(NETWORK_KINDS)}, got {kind!r}")
                continue
            for other in out.values():
                if subnet.overlaps(other.subnet):
                    self.err(f"{where}.subnet",
                             f"{subnet} overlaps networks.{other.name}.subnet {other.subnet}")
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
            role = spec.get("role")
            if role not in ROLES:
                self.err(f"{where}.role", f"unknown role {role!r} (roles: {', '.join(ROLES)})")
                continue
            addrs: dict[str, ipaddress.IPv4Address] = {}
            raw_addrs = self._mapping(spec.get("addresses"), f"{where}.addresses")
            if not raw_addrs:
                self.err(f"{where}.addresses", "a node needs an address on at least one network")
            for net, a in raw_addrs.items():
                aw = f"{where}.addresses.{net}"
                if net not in networks:
                    self.err(aw, f"no network named {net!r} (networks: {', '.join(networks)})")
                    continue
                try:
                    addr = ipaddress.IPv4Address(str(a))
                except ValueError:
                    self.err(aw, f"not an IPv4 address: {a!r}")
                    continue
                subnet = networks[net].subnet
                if addr not in subnet:
                    self.err(aw, f"{addr} is outside the network's subnet {subnet}")
                elif addr in (subnet.network_address, subnet.broadcast_address,
                              next(subnet.hosts())):
                    self.err(aw, f"{addr} is reserved (network, broadcast or the Docker gateway "
                                 f"{next(subnet.hosts())})")
                elif addr in seen:
                    self.err(aw, f"duplicate address {addr}, already used by {seen[addr]}")
                else:
                    seen[addr] = aw
                    addrs[net] = addr
            settings = self._mapping(spec.get("settings"), f"{where}.settings")
            allowed = ROLE_SETTINGS[role]
            for key, val in settings.items():
                if key not in allowed:
                    self.err(f"{where}.settings.{key}",
                             f"unknown key for role {role} (allowed: {', '.join(sorted(allowed))})")
                elif not isinstance(val, allowed[key]):
                    self.err(f"{where}.settings.{key}",
                             f"wrong type {type(val).__name__}")
            out[nname] = Node(nname, role, addrs, dict(settings),
                              str(spec.get("description", "")))
        return out

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
                addr = self._record_target(str(target), ZONE_KIND[zone], networks, nodes, where)
                if addr is not None:
                    out[zone][str(fqdn).rstrip(".").lower()] = addr
        return out

    def _record_target(self, target: str, kind: str, networks: dict[str, Network],
                       nodes: dict[str, Node], where: str) -> ipaddress.IPv4Address | None:
        try:
            return ipaddress.IPv4Address(target)
        except ValueError:
            pass
        node_name, _, net = target.partition(".")
        node = nodes.get(node_name) if node_name in nodes else nodes.get(target)
        if node is None:
            self.err(where, f"points nowhere: no node named {target!r}")
            return None
        if net and node_name in nodes:
            if net not in node.addresses:
                self.err(where, f"points nowhere: node {node_name} has no address on {net!r}")
                return None
            return node.addresses[net]
        for n, a in node.addresses.items():
            if networks[n].kind == kind:
                return a
        self.err(where, f"points nowhere: node {node.name} has no address on a {kind} network")
        return None

    def _references(self, topo: Topology) -> None:
        for node in topo.nodes.values():
            s, where = node.settings, f"nodes.{node.name}.settings"
            if node.role == "dns":
                zone = s.get("zone")
                if zone not in ZONE_KIND:
                    self.err(f"{where}.zone", f"must name a zone ({', '.join(ZONE_KIND)}), "
                                              f"got {zone!r}")
            for key in ("dns",):
                ref = s.get(key)
                if ref is not None and (ref not in topo.nodes or topo.nodes[ref].role != "dns"):
                    self.err(f"{where}.{key}", f"no dns node named {ref!r}")
            if node.role == "segw":
                pool = s.get("pool")
                try:
                    pool_net = ipaddress.IPv4Network(str(pool), strict=True)
                except ValueError as exc:
                    self.err(f"{where}.pool", f"not an IPv4 subnet: {exc}")
                    continue
                for net in topo.networks.values():
                    if pool_net.overlaps(net.subnet):
                        self.err(f"{where}.pool", f"{pool_net} overlaps networks.{net.name}")
                if s.get("fqdn") and topo.resolve("outer", s["fqdn"]) is None:
                    self.err(f"{where}.fqdn", f"{s['fqdn']} has no record in zones.outer")
            if node.role == "hnb":
                segw = s.get("segw")
                if segw and topo.resolve("outer", segw) is None:
                    self.err(f"{where}.segw", f"{segw} has no record in zones.outer")
