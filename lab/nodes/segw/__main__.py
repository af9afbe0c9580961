"""`python -m lab.nodes.segw --config FILE`: a Security Gateway node.

Settings: fqdn, pool (inner address pool: its first half is shared by every HNB, its second
gives readdressed HNBs an address each, for 5.2.2), dns (the inner DNS node handed out in the
IKEv2 configuration payload), realm (the operator's HNB realm; identities under any other
are refused; default hnb.operator.example). The config's "pki" gives ca/cert/key.
If charon exits on its own the node emits "segw.charon_exited" and exits non-zero.
"""

from __future__ import annotations

import signal
import sys
import threading

from lab.nodes import charon
from lab.nodes.common import NodeConfig, load_config, setup_logging, signal_ready
from lab.nodes.segw import auth
from lab.nodes.segw.gateway import Gateway


def build(cfg: NodeConfig) -> Gateway:
    topo = cfg.raw.get("topology", {})
    nets = topo.get("networks", {})
    public = [a for n, a in cfg.addresses.items() if nets.get(n, {}).get("kind") == "public"]
    mno = [nets[n]["subnet"] for n in cfg.addresses if nets.get(n, {}).get("kind") == "mno"]
    if not public or not mno:
        raise SystemExit(f"{cfg.node}: a SeGW needs an address on a public and an mno network")
    dns_node = cfg.settings.get("dns")
    inner_dns = None
    if dns_node:
        inner_dns = next(iter(topo["nodes"][dns_node]["addresses"].values()))
    return Gateway(cfg.node, cfg.settings, public[0], mno, inner_dns, cfg.raw["pki"],
                   cfg.events(), state_file=cfg.run_dir / f"{cfg.node}-state" / "leases.json")


def main() -> None:
    cfg = load_config()
    setup_logging(cfg.node)
    gw = build(cfg)
    daemon = charon.Charon()
    daemon.start()
    stop = threading.Event()
    died: list[int] = []

    def charon_exited(rc: int) -> None:
        # Without charon the SeGW serves nothing: say so and take the node down with it.
        how = f"was killed by signal {-rc}" if rc < 0 else f"exited with code {rc}"
        gw.events.emit("segw.charon_exited", f"charon {how}; the SeGW stops", returncode=rc)
        died.append(rc)
        stop.set()

    daemon.watch(charon_exited)
    charon.listen(["ike-updown", "child-updown", "log"], gw.on_vici_event, stop)
    gw.configure()
    signal_ready(gw.events, fqdn=gw.fqdn, pool=str(gw.leases.shared),
                 readdress_pool=str(gw.leases.spare), realm=gw.realm,
                 remote_id=auth.remote_id(gw.realm), mno=gw.mno_subnets,
                 inner_dns=gw.inner_dns)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    daemon.stop()
    if died:
        sys.exit(f"{cfg.node}: charon ended ({died[0]}) after the node was ready")


if __name__ == "__main__":
    main()
