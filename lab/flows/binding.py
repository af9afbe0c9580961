"""Lanes to nodes, and the facts the flows' conditions test.

A binding maps the roles of a procedure to topology nodes, e.g.
    {"HNB": "hnb1", "DNS outer": "dns-outer", "SeGW initial": "segw-initial",
     "HMS initial": "hms-initial", ..., "File server": "hms-serving"}
Scenarios pass one; `suggest_binding` derives one from a topology the way the lab wires it
(the HNB's factory settings name its outer DNS, SeGW initial and HMS initial; the HMS
initial's policy names the serving SeGW, HMS and HNB-GW).

Facts (name -> True/False/None for unknown), tested by steps' `when`:
    same_hms               HMS serving is the HMS initial (5.1.1 step 7 -> step 10)
    serving_segw_is_url    the serving SeGW was handed over as a name (5.2.1 step 2)
    hms_serving_is_url     the serving HMS was handed over as a URL with a host name (4)
    hms_serving_in_tunnel  the serving HMS is reached inside the IPsec tunnel (4)
    hnbgw_is_url           the HNB-GW was handed over as a name (6)
    cm_download            CM by file download (5.3-bis/5.4-bis) rather than SPV (5.3/5.4)
Facts come from the run's events when they say it (hms.assigned; the kind of the serving
HMS's "provision" task), else from the topology; a scenario may override any of them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from lab.evidence.events import Event
from lab.evidence.peers import PeerResolver
from lab.topology import Node, Topology


class BindingError(ValueError):
    """A binding that does not fit the flow or the topology; the message says which lane."""


def suggest_binding(topo: Topology, hnb: str | None = None) -> dict[str, str]:
    """The lanes this topology can fill for HNB `hnb` (default: its first HNB)."""
    res = PeerResolver(topo)
    hnbs = topo.nodes_of("hnb")
    if hnb is None:
        if not hnbs:
            raise BindingError(f"{topo.source}: no node with role hnb")
        hnb = hnbs[0].name
    if hnb not in topo.nodes or topo.nodes[hnb].role != "hnb":
        raise BindingError(f"{topo.source}: no hnb node named {hnb!r} "
                           f"(hnb nodes: {', '.join(n.name for n in hnbs) or 'none'})")
    st = topo.nodes[hnb].settings
    b: dict[str, str] = {"HNB": hnb}

    def put(lane: str, node: str | None) -> None:
        if node and node in topo.nodes:
            b.setdefault(lane, node)

    put("DNS outer", st.get("dns"))
    put("DNS outer", _first(topo, "dns", lambda n: n.settings.get("zone") == "outer"))
    put("DNS inner", _first(topo, "dns", lambda n: n.settings.get("zone") == "inner"))
    put("SeGW initial", res.node(st.get("segw")))
    put("HMS initial", res.node(st.get("hms_url")))
    put("HMS initial", _first(topo, "hms", lambda n: hms_role(n) in ("initial", "both")))
    rule = _policy_rule(topo, b.get("HMS initial"))
    put("SeGW serving", res.node(rule.get("serving_segw")))
    put("HMS serving", res.node(rule.get("serving_hms_url")))
    if b.get("HMS initial") and hms_role(topo.nodes[b["HMS initial"]]) == "both":
        put("HMS serving", b["HMS initial"])
    put("HMS serving", _first(topo, "hms", lambda n: hms_role(n) == "serving"))
    serving = topo.nodes.get(b.get("HMS serving", ""))
    put("HNB-GW", res.node(rule.get("hnbgw")))
    put("HNB-GW", res.node(_hnbgw_setting(serving)))
    put("HNB-GW", _first(topo, "hnbgw", lambda n: True))
    put("File server", b.get("HMS serving"))
    return b


def hms_role(node: Node) -> str:
    """An HMS node's role: initial | serving | both (settings.role; older files said
    mode, and serving_is_self for both)."""
    st = node.settings
    role = st.get("role") or st.get("mode") or "serving"
    return "both" if st.get("serving_is_self") else str(role)


def _hnbgw_setting(node: Node | None) -> str | None:
    """The HNB-GW a serving HMS provisions (settings.provisioning.hnbgw)."""
    if node is None:
        return None
    prov = node.settings.get("provisioning")
    gw = prov.get("hnbgw") if isinstance(prov, dict) else None
    return gw or node.settings.get("hnbgw")


def _first(topo: Topology, role: str, ok: Any) -> str | None:
    return next((n.name for n in topo.nodes_of(role) if ok(n)), None)


def _policy_rule(topo: Topology, hms: str | None) -> dict[str, Any]:
    node = topo.nodes.get(hms or "")
    policy = node.settings.get("policy") if node else None
    if isinstance(policy, list) and policy and isinstance(policy[0], dict):
        return policy[0]
    return {}


def check_binding(binding: Mapping[str, str], lanes: Iterable[str],
                  topo: Topology | None = None) -> None:
    """BindingError naming every lane in `lanes` that is unbound or bound to no node."""
    problems = []
    for lane in lanes:
        node = binding.get(lane)
        if not node:
            problems.append(f"lane {lane!r} is not bound to a node")
        elif topo is not None and node not in topo.nodes:
            problems.append(f"lane {lane!r} is bound to {node!r}, which is not a node of "
                            f"{topo.name} (nodes: {', '.join(topo.nodes)})")
    if problems:
        raise BindingError("; ".join(problems))


def facts(binding: Mapping[str, str], topo: Topology | None = None,
          events: Iterable[Event] = (), overrides: Mapping[str, bool | None] | None = None
          ) -> dict[str, bool | None]:
    evs = list(events)
    hms_i, hms_s = binding.get("HMS initial"), binding.get("HMS serving")
    out: dict[str, bool | None] = {
        "same_hms": (hms_i == hms_s) if hms_i and hms_s else None}
    assigned = next((e.fields for e in reversed(evs)
                     if e.kind == "hms.assigned" and (hms_i is None or e.node == hms_i)), {})
    rule = _policy_rule(topo, hms_i) if topo else {}
    serving = topo.nodes.get(hms_s or "") if topo else None
    segw = assigned.get("serving_segw") or rule.get("serving_segw")
    out["serving_segw_is_url"] = _is_name(segw)
    hms_url = assigned.get("serving_hms_url") or rule.get("serving_hms_url")
    out["hms_serving_is_url"] = _is_name(_host(hms_url))
    if serving is not None and topo is not None:
        kinds = {topo.networks[n].kind for n in serving.addresses}
        out["hms_serving_in_tunnel"] = "public" not in kinds
    else:
        out["hms_serving_in_tunnel"] = None
    gw = assigned.get("hnbgw") or rule.get("hnbgw") or _hnbgw_setting(serving)
    out["hnbgw_is_url"] = _is_name(gw)
    provision = next((e.fields.get("task_kind") for e in evs
                      if e.kind == "hms.task.sent" and e.node == hms_s
                      and e.fields.get("purpose") == "provision"), None)
    if provision is not None:  # what the serving HMS did provision with
        out["cm_download"] = provision == "Download"
    elif serving is not None:
        out["cm_download"] = serving.settings.get("cm_mode") == "download"
    else:
        out["cm_download"] = None
    out.update(overrides or {})
    return out


def _host(url: Any) -> str | None:
    if not isinstance(url, str) or not url:
        return None
    if "://" not in url:
        return url
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def _is_name(value: Any) -> bool | None:
    """True for a host name, False for an IP address, None when not known."""
    if not isinstance(value, str) or not value.strip():
        return None
    host = _host(value.strip()) or ""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return True
    return False
