"""`python -m lab.nodes.hnb --config FILE`: a simulated Home NodeB.

The node comes up powered off (ready = waiting). `power-on` on its control socket starts
the TS 32.583 life: LAN up, discovery (5.1.1 through SeGW initial, or 5.1.2 straight to
the HMS initial over TLS), registration at the serving HMS (5.2.1) and the HNB-GW, then
management (CM, alarms, PM). See lab.nodes.hnb.node for the logic.
"""

from __future__ import annotations

import asyncio
import signal

from lab.nodes.common import load_config, setup_logging
from lab.nodes.hnb.node import HnbNode


async def amain() -> None:
    cfg = load_config()
    setup_logging(cfg.node)
    node = HnbNode(cfg)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await node.start()
    await stop.wait()
    await node.stop()


if __name__ == "__main__":
    asyncio.run(amain())
