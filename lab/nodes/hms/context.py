"""What the HMS's parts share: settings, the store, the event log, the public URLs."""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from lab.evidence.events import Event, EventLog
from lab.nodes.hms.settings import HmsSettings
from lab.nodes.hms.store import Store

log = logging.getLogger(__name__)


@dataclass
class HmsContext:
    node: str
    settings: HmsSettings
    store: Store
    events: EventLog
    # Public base URLs, filled in once the listeners are bound: "cwmp", "files_http",
    # "files_https", "files_ftp", "files_ftps", "files_sftp", "api".
    urls: dict[str, str] = field(default_factory=dict)

    def emit(self, kind: str, summary: str, *, peer: str | None = None,
             device: str | None = None, **fields: Any) -> Event:
        """One event to the node's event log and the store's audit table."""
        if device is not None:
            fields["device"] = device
        ev = self.events.emit(kind, summary, peer=peer, **fields)
        try:
            self.store.audit(ev.time, kind, device, summary, ev.fields)
        except sqlite3.ProgrammingError:  # store closed while stopping: the log has it
            log.debug("audit skipped for %s (store closed)", kind)
        return ev

    def cm_url(self, name: str, scheme: str = "http") -> str:
        base = self.urls.get(f"files_{scheme}") or self.urls.get("files_http", "")
        return f"{base.rstrip('/')}/cm/{name}"

    def pm_url(self, scheme: str = "http") -> str:
        base = self.urls.get(f"files_{scheme}") or self.urls.get("files_http", "")
        return f"{base.rstrip('/')}/pm/"
