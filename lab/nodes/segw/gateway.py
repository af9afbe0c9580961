"""The Security Gateway: charon as IKEv2 responder for HNBs, configured over VICI.

HNBs authenticate with a device certificate under the operator root CA; each gets an
inner address from the SeGW's pool with the inner DNS in the configuration payload, and a
CHILD_SA whose local traffic selectors are the MNO networks the SeGW stands on. The pool
is split in two halves ("a" and "b"): `readdress` moves new leases to the other half, so an
HNB that reconnects gets a different inner address (TS 32.583 5.2.2).
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

from lab.evidence.events import EventLog
from lab.nodes import charon

CONN = "hnb"
PROPOSALS = ["aes128gcm16-prfsha256-ecp256", "aes128-sha256-ecp256", "default"]
ESP_PROPOSALS = ["aes128gcm16-ecp256", "aes128gcm16", "default"]

# charon log lines that say why an IKE authentication failed (group IKE/CFG, level <= 1)
AUTH_FAILURE = re.compile(
    r"no trusted .* public key found|constraint check failed|certificate .*expired"
    r"|not valid|authentication of .* failed|no issuer certificate found"
    r"|AUTHENTICATION_FAILED|no matching peer config", re.I)


class Gateway:
    def __init__(self, node: str, settings: dict[str, Any], public_addr: str,
                 mno_subnets: list[str], inner_dns: str | None, pki: dict[str, str],
                 events: EventLog, state_file: Path | None = None) -> None:
        self.node = node
        self.fqdn = settings["fqdn"]
        pool = ipaddress.IPv4Network(settings["pool"])
        halves = list(pool.subnets(prefixlen_diff=1))
        self.pools = {"a": str(halves[0]), "b": str(halves[1])}
        # which half new leases come from; kept in a file because `readdress` runs in
        # the operator's control process, and charon's list-conns does not show pools
        self.state_file = state_file
        self.active_pool = "a"
        if state_file is not None and state_file.exists():
            saved = state_file.read_text().strip()
            self.active_pool = saved if saved in self.pools else "a"
        self.public_addr = public_addr
        self.mno_subnets = mno_subnets
        self.inner_dns = inner_dns
        self.pki = {k: Path(v) for k, v in pki.items()}
        self.events = events

    def configure(self) -> None:
        s = charon.session()
        charon.load_credentials(s, self.pki["ca"], self.pki["cert"], self.pki["key"])
        for name, addrs in self.pools.items():
            pool: dict[str, Any] = {"addrs": addrs}
            if self.inner_dns:
                pool["dns"] = [self.inner_dns]
            s.load_pool({f"pool-{name}": pool})
        self.active_pool = "a"
        self._save()
        s.load_conn(self.conn_config())

    def _save(self) -> None:
        if self.state_file is not None:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            self.state_file.write_text(self.active_pool + "\n")

    def conn_config(self) -> dict[str, Any]:
        return {CONN: {
            "version": "2",
            "local_addrs": [self.public_addr],
            "pools": [f"pool-{self.active_pool}"],
            "proposals": PROPOSALS,
            "send_certreq": "yes",
            "unique": "replace",
            "local": {"auth": "pubkey", "id": self.fqdn,
                      "certs": [self.pki["cert"].read_bytes()]},
            "remote": {"auth": "pubkey", "id": "%any",
                       "cacerts": [self.pki["ca"].read_bytes()]},
            "children": {CONN: {"local_ts": self.mno_subnets, "remote_ts": ["dynamic"],
                                "esp_proposals": ESP_PROPOSALS}},
        }}

    # ---- operator controls -------------------------------------------------------------

    def readdress(self, identity: str) -> str:
        """Give `identity` a different inner address when it next connects, and make it
        reconnect now. Returns the pool range new leases come from."""
        self.active_pool = "b" if self.active_pool == "a" else "a"
        s = charon.session()
        s.load_conn(self.conn_config())
        self._save()
        self.events.emit("segw.readdress", f"new leases from {self.pools[self.active_pool]}",
                         peer=identity, identity=identity, pool=self.pools[self.active_pool])
        self.disconnect(identity)
        return self.pools[self.active_pool]

    def disconnect(self, identity: str) -> int:
        n = 0
        for sa in charon.list_sas():
            if sa.get("remote-id") == identity:
                list(charon.session().terminate({"ike-id": sa["uniqueid"], "timeout": "-1"}))
                n += 1
        self.events.emit("segw.disconnect", f"{identity}: {n} IKE SA(s) terminated",
                         peer=identity, identity=identity, count=n)
        return n

    # ---- VICI events -> lab events -------------------------------------------------------

    def on_vici_event(self, label: str, data: dict[str, Any]) -> None:
        if label == "log":
            msg = str(data.get("msg", ""))
            if AUTH_FAILURE.search(msg):
                self.events.emit("ike.auth_failed", msg, reason=msg,
                                 ike_sa=data.get("ikesa-uniqueid"))
            return
        up = "up" in data
        for conn, sa in data.items():
            if conn == "up" or not isinstance(sa, dict):
                continue
            ident = sa.get("remote-id", "?")
            vips = sa.get("remote-vips", [])
            fields = {"identity": ident, "outer": sa.get("remote-host"),
                      "inner": vips[0] if vips else None, "ike_sa": sa.get("uniqueid"),
                      "dir": "in", "state": sa.get("state")}
            if label == "ike-updown":
                kind, what = ("ike.up", "IKE_SA established") if up else ("ike.down", "IKE_SA down")
                self.events.emit(kind, f"{what} {ident} outer {fields['outer']} inner "
                                       f"{fields['inner']}", peer=ident,
                                 msg="IKE_AUTH" if up else "INFORMATIONAL", **fields)
            elif label == "child-updown":
                children = sa.get("child-sas", {})
                ts = [c.get("remote-ts") for c in children.values()] if children else []
                self.events.emit("ike.child_up" if up else "ike.child_down",
                                 f"CHILD_SA {'up' if up else 'down'} {ident}", peer=ident,
                                 msg="CHILD_SA", remote_ts=ts, **fields)
