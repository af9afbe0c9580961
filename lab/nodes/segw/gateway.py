"""The Security Gateway: charon as IKEv2 responder for HNBs, configured over VICI.

HNBs authenticate with a device certificate under the operator root CA and an identity
under the operator's realm (lab.nodes.segw.auth); each gets an inner address with the
inner DNS in the configuration payload, and a CHILD_SA whose local traffic selectors are
the MNO networks the SeGW stands on. Inner addresses come from the shared half of the
pool; `readdress` gives one HNB an address of its own from the other half, through a
connection for that HNB alone (lab.nodes.segw.pools), so that HNB, and no other, gets a
different inner address when it reconnects (TS 32.583 5.2.2).
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import vici

from lab.evidence.events import EventLog
from lab.nodes import charon
from lab.nodes.segw import auth, pools

CONN = "hnb"
PROPOSALS = ["aes128gcm16-prfsha256-ecp256", "aes128-sha256-ecp256", "default"]
ESP_PROPOSALS = ["aes128gcm16-ecp256", "aes128gcm16", "default"]
MAX_ATTEMPTS = 64      # IKE SAs whose log lines are kept until they succeed or fail
MAX_LINES = 200        # log lines kept per IKE SA
STRAGGLERS_S = 0.3     # how long a refusal without a cause waits for late log lines
VICI_ERRORS = (vici.exception.SessionException, vici.exception.CommandException)


class Gateway:
    def __init__(self, node: str, settings: dict[str, Any], public_addr: str,
                 mno_subnets: list[str], inner_dns: str | None, pki: dict[str, str],
                 events: EventLog, state_file: Path | None = None) -> None:
        self.node = node
        self.fqdn = settings["fqdn"]
        self.realm = settings.get("realm") or auth.DEFAULT_REALM
        self.leases = pools.Leases(settings["pool"], state_file)
        self.public_addr = public_addr
        self.mno_subnets = mno_subnets
        self.inner_dns = inner_dns
        self.pki = {k: Path(v) for k, v in pki.items()}
        self.events = events
        self.rules = auth.segw_rules(self.realm)
        # charon log lines per IKE SA unique id; None once its refusal was recorded
        self._attempts: OrderedDict[str, list[str] | None] = OrderedDict()
        self._refused: set[str] = set()  # SAs closed for the identity policy
        self._pending: set[str] = set()  # refusals waiting for late log lines
        self._lock = threading.Lock()    # the VICI event thread and the refusal timers

    # ---- charon configuration ----------------------------------------------------------

    def configure(self) -> None:
        """Credentials, the shared pool and connection, and the per-HNB readdress leases
        the state file holds (an operator's readdress outlives a SeGW restart)."""
        s = charon.session()
        charon.load_credentials(s, self.pki["ca"], self.pki["cert"], self.pki["key"])
        s.load_pool({pools.SHARED_POOL: self._pool(str(self.leases.shared))})
        s.load_conn(self.conn_config())
        for identity, addr in self.leases.assigned.items():
            self._load_lease(s, identity, addr)

    def _pool(self, addrs: str) -> dict[str, Any]:
        pool: dict[str, Any] = {"addrs": addrs}
        if self.inner_dns:
            pool["dns"] = [self.inner_dns]
        return pool

    def _load_lease(self, s: vici.Session, identity: str, addr: str) -> None:
        name = pools.pool_name(identity, addr)
        s.load_pool({name: self._pool(f"{addr}-{addr}")})
        s.load_conn(self.conn_config(pools.conn_name(identity), identity, [name]))

    def conn_config(self, name: str = CONN, remote: str | None = None,
                    pool_names: list[str] | None = None) -> dict[str, Any]:
        """The shared connection (any HNB under the realm), or with `remote` one HNB's:
        charon picks the connection whose remote identity matches best, so an exact
        identity wins over the realm's wildcard."""
        return {name: {
            "version": "2",
            "local_addrs": [self.public_addr],
            "pools": pool_names or [pools.SHARED_POOL],
            "proposals": PROPOSALS,
            "send_certreq": "yes",
            "unique": "replace",
            "local": {"auth": "pubkey", "id": self.fqdn,
                      "certs": [self.pki["cert"].read_bytes()]},
            "remote": {"auth": "pubkey", "id": remote or auth.remote_id(self.realm),
                       "cacerts": [self.pki["ca"].read_bytes()]},
            "children": {CONN: {"local_ts": self.mno_subnets, "remote_ts": ["dynamic"],
                                "esp_proposals": ESP_PROPOSALS}},
        }}

    # ---- operator controls -------------------------------------------------------------

    def readdress(self, identity: str) -> str:
        """Give `identity`, and no other HNB, a different inner address when it next
        connects, and make it reconnect now. Returns that address."""
        problem = auth.identity_problem(identity, self.realm)
        if problem:
            raise pools.PoolError(f"readdress: {problem}")
        in_use = {v for sa in charon.list_sas() for v in sa.get("remote-vips", [])}
        with self.leases.locked():
            old = self.leases.assigned.get(identity)
            addr = self.leases.reassign(identity, in_use)
            # loaded before the HNB is dropped: it must find its new lease when it is back
            self._load_lease(charon.session(), identity, addr)
        self.events.emit("segw.readdress", f"{identity}: next inner address {addr}",
                         peer=identity, identity=identity, address=addr, previous=old,
                         pool=f"{addr}/32")
        self.disconnect(identity)
        self.drop_stale_pools()
        return addr

    def drop_stale_pools(self) -> list[str]:
        """Unload the readdress pools no HNB holds any more. A pool whose lease is still
        online (its HNB not yet gone) stays; a later call takes it."""
        dropped = []
        with self.leases.locked():  # not while a readdress loads a pool not yet saved
            keep = self.leases.pools()
            s = charon.session()
            for name in charon.decode(s.get_pools({})):
                if name.startswith(pools.CONN_PREFIX) and name not in keep:
                    with contextlib.suppress(vici.exception.CommandException):
                        s.unload_pool({"name": name})
                        dropped.append(name)
        return dropped

    def disconnect(self, identity: str) -> int:
        n = 0
        for sa in charon.list_sas():
            if sa.get("remote-id") == identity:
                list(charon.session().terminate({"ike-id": sa["uniqueid"], "timeout": "-1"}))
                n += 1
        self.events.emit("segw.disconnect", f"{identity}: {n} IKE SA(s) terminated",
                         peer=identity, identity=identity, count=n)
        return n

    # ---- VICI events -> lab events -----------------------------------------------------

    def on_vici_event(self, label: str, data: dict[str, Any]) -> None:
        if label == "log":
            self._on_log(data)
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
            uid = str(sa.get("uniqueid"))
            with self._lock:
                if self._attempts.get(uid, []) is None or uid in self._pending:
                    # a refused SA never was up; its marker stays, for charon may still
                    # log about it (the AUTH_FAILED it sends)
                    continue
                if up and label == "ike-updown":
                    self._attempts.pop(uid, None)  # its log lines are of no more use
            if uid in self._refused:
                if not up and label == "ike-updown":
                    self._refused.discard(uid)
                continue
            if label == "ike-updown":
                problem = auth.identity_problem(ident, self.realm) if up else None
                if problem:
                    self._refuse(uid, fields, problem)
                    continue
                kind, what = ("ike.up", "IKE_SA established") if up else ("ike.down", "IKE_SA down")
                self.events.emit(kind, f"{what} {ident} outer {fields['outer']} inner "
                                       f"{fields['inner']}", peer=ident,
                                 msg="IKE_AUTH" if up else "INFORMATIONAL", **fields)
                if not up and conn.startswith(pools.CONN_PREFIX):
                    # the HNB left a readdress lease: an older pool of it may be free now
                    threading.Thread(target=self._drop_quietly, daemon=True).start()
            elif label == "child-updown":
                children = sa.get("child-sas", {})
                ts = [c.get("remote-ts") for c in children.values()] if children else []
                self.events.emit("ike.child_up" if up else "ike.child_down",
                                 f"CHILD_SA {'up' if up else 'down'} {ident}", peer=ident,
                                 msg="CHILD_SA", remote_ts=ts, **fields)

    def _on_log(self, data: dict[str, Any]) -> None:
        """Collect each IKE SA's charon log; once charon gives up on its authentication,
        record one ike.auth_failed saying why. charon's VICI log events can come out of
        order (it raises them from more than one job), so a refusal whose cause (and the
        facts it names) has not been seen yet is recorded a moment later, with the lines
        that arrive meanwhile."""
        uid = data.get("ikesa-uniqueid")
        if uid is None:
            return  # not about an IKE SA
        uid, msg = str(uid), str(data.get("msg", ""))
        with self._lock:
            if uid not in self._attempts:
                self._attempts[uid] = []
                while len(self._attempts) > MAX_ATTEMPTS:
                    self._attempts.popitem(last=False)
            lines = self._attempts[uid]
            if lines is None:
                return  # already recorded
            if len(lines) < MAX_LINES:
                lines.append(msg)
            if not auth.FAILED.search(msg) or uid in self._pending:
                return
            if not charon.complete(lines, self.rules):
                self._pending.add(uid)
                timer = threading.Timer(STRAGGLERS_S, self._record_refusal, (uid,))
                timer.daemon = True
                timer.start()
                return
        self._record_refusal(uid)

    def _record_refusal(self, uid: str) -> None:
        with self._lock:
            lines = self._attempts.get(uid)
            self._pending.discard(uid)
            if lines is None:
                return
            self._attempts[uid] = None
        reason = charon.explain(lines, self.rules) or f"charon logged no reason ({lines[-1]})"
        known = charon.facts(lines, self.rules)
        who, outer = known.get("claimed"), known.get("outer")
        # peer: the outer address names the HNB node even when its claimed identity is false
        self.events.emit("ike.auth_failed", f"IKE authentication failed for "
                         f"{who or 'an HNB'}: {reason}", peer=outer or who, identity=who,
                         outer=outer, reason=reason, ike_sa=uid, dir="in", msg="IKE_AUTH")

    def _refuse(self, uid: str, fields: dict[str, Any], problem: str) -> None:
        """An SA charon let up whose identity breaks the policy: recorded and closed."""
        self._refused.add(uid)
        reason = f"identity policy: {problem}"
        self.events.emit("ike.auth_failed", f"IKE authentication failed for "
                         f"{fields['identity']}: {reason}", peer=fields["identity"],
                         reason=reason, msg="IKE_AUTH",
                         **{k: v for k, v in fields.items() if k != "state"})

        def close() -> None:
            with contextlib.suppress(OSError, *VICI_ERRORS):
                list(charon.session().terminate({"ike-id": uid, "timeout": "-1"}))

        # not from the event thread: it must go on reading charon's events meanwhile
        threading.Thread(target=close, daemon=True).start()

    def _drop_quietly(self) -> None:
        with contextlib.suppress(OSError, *VICI_ERRORS):
            self.drop_stale_pools()
