"""`python -m lab.nodes.dns --config FILE`: serve the zone named in settings.zone."""

from __future__ import annotations

import signal
import threading

from lab.nodes.common import load_config, setup_logging, signal_ready
from lab.nodes.dns.server import ZoneResolver, serve


def main() -> None:
    cfg = load_config()
    setup_logging(cfg.node)
    events = cfg.events()
    topo = cfg.raw.get("topology", {})
    zone = cfg.settings["zone"]
    records = topo.get("zones", {}).get(zone, {})
    peers = {a: n for n, spec in topo.get("nodes", {}).items()
             for a in spec.get("addresses", {}).values()}
    servers = []
    for addr in cfg.addresses.values():
        servers += serve(ZoneResolver(zone, records, events, peers), addr)
    signal_ready(events, zone=zone, records=len(records), listen=list(cfg.addresses.values()))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    for s in servers:
        s.stop()


if __name__ == "__main__":
    main()
