"""The SeGW's inner addresses: which HNB gets which, and the per-HNB readdress leases.

The `pool` setting is split in two halves. The first is charon's shared pool: every HNB
leases from it (charon gives an HNB back its own address when it reconnects). The second
is kept for readdressing (TS 32.583 5.2.2): `readdress` hands one HNB one address from it,
which the SeGW loads as a one-address pool of a connection whose remote identity is that
HNB's (charon prefers an exact identity over the shared connection's wildcard). Other HNBs
keep their leases. Each readdress of the same HNB moves on to the next free address, so
it gets a different one every time.

Who holds which readdress address is kept in a JSON state file, because `readdress` runs
in the operator's control process while the node process serves charon's events.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import ipaddress
import json
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

CONN_PREFIX = "hnb-"  # per-HNB connections and their pools; the shared ones are "hnb"/"pool-hnb"
SHARED_POOL = "pool-hnb"


class PoolError(ValueError):
    """A pool setting that cannot be used, or no address left to give (the message says)."""


def conn_name(identity: str) -> str:
    """The per-HNB connection of `identity`: readable, and unique by a hash (identities that
    differ only in punctuation must not share one)."""
    digest = hashlib.sha256(identity.encode()).hexdigest()[:8]
    return f"{CONN_PREFIX}{re.sub(r'[^A-Za-z0-9]+', '-', identity).strip('-')}-{digest}"


def pool_name(identity: str, addr: str) -> str:
    """A fresh pool per address: charon refuses to replace a pool that has online leases."""
    return f"{conn_name(identity)}-{addr}"


class Leases:
    def __init__(self, pool: str, state_file: Path | None = None) -> None:
        try:
            net = ipaddress.IPv4Network(pool)
        except ValueError as exc:
            raise PoolError(f"segw pool {pool!r}: not an IPv4 subnet ({exc})") from None
        if net.prefixlen > 29:
            raise PoolError(f"segw pool {pool}: too small to split in two halves with "
                            "addresses to give (use a /29 or larger)")
        self.shared, self.spare = net.subnets(prefixlen_diff=1)
        self.state_file = state_file
        self.assigned: dict[str, str] = {}  # identity -> its readdress address
        self.last: str | None = None        # the address handed out last (rotation goes on)
        self.load()

    # ---- state ----------------------------------------------------------------------------

    def load(self) -> None:
        """Read the state file. An unreadable or garbled one counts as empty, and an entry
        outside the readdress half (the pool setting changed) is dropped."""
        self.assigned, self.last = {}, None
        if self.state_file is None:
            return
        try:
            data = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return
        if not isinstance(data, dict):
            return
        raw = data.get("assigned")
        for ident, addr in (raw.items() if isinstance(raw, dict) else ()):
            if isinstance(ident, str) and self._spare_addr(addr):
                self.assigned[ident] = addr
        last = data.get("last")
        self.last = last if self._spare_addr(last) else None

    def save(self) -> None:
        if self.state_file is None:
            return
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"assigned": self.assigned, "last": self.last},
                                  indent=1, sort_keys=True) + "\n")
        os.replace(tmp, self.state_file)  # a reader never sees half a file

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the state file's lock (two operators readdressing at once), freshly loaded."""
        if self.state_file is None:
            yield
            return
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.state_file.with_suffix(".lock"), "w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            self.load()
            yield

    def _spare_addr(self, addr: object) -> bool:
        try:
            return isinstance(addr, str) and ipaddress.IPv4Address(addr) in self.spare
        except ValueError:
            return False

    # ---- giving addresses -----------------------------------------------------------------

    def reassign(self, identity: str, in_use: Iterable[str]) -> str:
        """A readdress address for `identity` that differs from every address in use (the
        HNB's own current one among them) and from every other HNB's readdress address;
        the next free one after the last handed out. Saved. PoolError when none is left."""
        taken = {str(a) for a in in_use} | set(self.assigned.values())
        hosts = [str(a) for a in self.spare.hosts()]
        start = hosts.index(self.last) + 1 if self.last in hosts else 0
        for addr in hosts[start:] + hosts[:start]:
            if addr not in taken:
                self.assigned[identity] = addr
                self.last = addr
                self.save()
                return addr
        raise PoolError(f"readdress {identity}: no free address left in {self.spare} "
                        f"({len(hosts)} addresses, all in use or held by HNBs)")

    def pools(self) -> dict[str, str]:
        """pool name -> address of every per-HNB readdress pool that should exist."""
        return {pool_name(i, a): a for i, a in self.assigned.items()}
