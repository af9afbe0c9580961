"""`python -m lab.nodes.hnbgw --config FILE`: the HNB-GW stub on Iuh.

Settings: rnc_id (0..65535, required), allowed (list of HNB identity patterns / PLMNs, or
"*", required), listen (address, default "0.0.0.0"), port (default 29169),
overload_backoff (seconds; when set every HNB is refused with cause overload).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any

from lab.hnbap import IUH_PORT
from lab.nodes.common import NodeConfig, load_config, setup_logging, signal_ready
from lab.nodes.hnbgw.server import HnbGateway, Policy, SettingsError


def parse_settings(settings: dict[str, Any]) -> tuple[Policy, str, int]:
    """(policy, listen address, port) from the node settings; SettingsError names a bad one."""
    policy = Policy.from_settings(settings)
    host = settings.get("listen", "0.0.0.0")
    port = settings.get("port", IUH_PORT)
    if not isinstance(host, str) or not host:
        raise SettingsError(f"settings.listen={host!r}: expected an address")
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise SettingsError(f"settings.port={port!r}: expected a port in 0..65535")
    return policy, host, port


async def run(cfg: NodeConfig, policy: Policy, host: str, port: int) -> None:
    events = cfg.events()
    gw = HnbGateway(policy, events)
    await gw.start(host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    signal_ready(events, listen=host, port=gw.port, transport=gw.transport,
                 rnc_id=policy.rnc_id, allowed=policy.allowed)
    try:
        await stop.wait()
    finally:
        await gw.close()


def main() -> None:
    cfg = load_config()
    setup_logging(cfg.node)
    try:
        policy, host, port = parse_settings(cfg.settings)
    except SettingsError as exc:
        sys.exit(f"{cfg.node}: {exc}")
    asyncio.run(run(cfg, policy, host, port))


if __name__ == "__main__":
    main()
