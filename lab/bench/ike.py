"""Benchmark: IKE SA establishment time, and latency and throughput through the
kernel-libipsec tunnel against the plain routed path, in one lab, same endpoints.

    python -m lab.bench.ike [-n 10] [--mbytes 20]

Both paths go HNB (hnb1) -> SeGW initial -> HMS initial (203.0.113.20). The plain path is
made for the measurement only: a route on the HNB to the MNO network via the SeGW's public
address and the way back on the HMS, with no tunnel up. The tunnel path is the real one
(ESP-in-UDP through charon's userspace ESP on both ends).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from pathlib import Path

from lab.lab import Lab, running_lab

ROOT = Path(__file__).resolve().parents[2]
SEGW_FQDN = "segw-initial.operator.example"
HMS = "203.0.113.20"
PORT = 5001

SINK = ("import socket\n"
        "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        f"s.bind(('0.0.0.0', {PORT})); s.listen(4)\n"
        "while True:\n"
        "    c,_=s.accept()\n"
        "    while c.recv(1<<16): pass\n"
        "    c.sendall(b'k'); c.close()\n")


def sender(mbytes: int) -> str:
    return ("import socket,time\n"
            f"b=b'x'*65536; n={mbytes}*16\n"
            f"s=socket.create_connection(('{HMS}', {PORT}), timeout=60)\n"
            "t=time.monotonic()\n"
            "for _ in range(n): s.sendall(b)\n"
            "s.shutdown(socket.SHUT_WR); s.recv(1)\n"
            "print(time.monotonic()-t)\n")


def ctl(lab: Lab, verb: str, **kw: str) -> dict:
    code, out = lab.exec("hnb1", "python", "-m", "lab.nodes.control", verb,
                         *(f"{k}={v}" for k, v in kw.items()))
    if code != 0:
        raise SystemExit(f"{verb}: {out}")
    return json.loads(out)


def path_figures(lab: Lab, mbytes: int) -> tuple[float, float]:
    code, out = lab.exec("hnb1", "ping", "-c", "20", "-i", "0.05", "-q", HMS)
    m = re.search(r"= [\d.]+/([\d.]+)/", out)
    if code != 0 or not m:
        raise SystemExit(f"ping failed: {out}")
    code, out = lab.exec("hnb1", "python", "-c", sender(mbytes))
    if code != 0:
        raise SystemExit(f"throughput run failed: {out}")
    return float(m.group(1)), mbytes * 8 / float(out.strip())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", "--runs", type=int, default=10)
    ap.add_argument("--mbytes", type=int, default=20)
    args = ap.parse_args()
    with running_lab(ROOT / "topologies" / "intranet.yaml", name="benchike") as lab:
        lab.exec("hms-initial", "sh", "-c", f"python -c \"{SINK}\" >/dev/null 2>&1 &")
        setup: list[float] = []
        for _ in range(args.runs + 1):
            ctl(lab, "teardown")
            ctl(lab, "tunnel", segw=SEGW_FQDN)
            setup.append(_last_ike_up(lab))
        setup = setup[1:]
        tun_lat, tun_tput = path_figures(lab, args.mbytes)
        ctl(lab, "teardown")
        lab.exec("hnb1", "ip", "route", "replace", "203.0.113.0/24", "via", "198.51.100.10")
        lab.exec("hms-initial", "ip", "route", "replace", "198.51.100.0/24", "via",
                 "203.0.113.10")
        plain_lat, plain_tput = path_figures(lab, args.mbytes)
    print(f"IKE_SA + CHILD_SA (IKE_SA_INIT, IKE_AUTH with certificates, virtual IP), "
          f"{args.runs} runs after one warm-up")
    print(f"  median {statistics.median(setup):.1f} ms  min {min(setup):.1f}  "
          f"max {max(setup):.1f}")
    print(f"HNB -> HMS initial, {args.mbytes} MB TCP and 20 pings:")
    print(f"  plain routed : rtt {plain_lat:.3f} ms  throughput {plain_tput:8.1f} Mbit/s")
    print(f"  IPsec tunnel : rtt {tun_lat:.3f} ms  throughput {tun_tput:8.1f} Mbit/s")
    print(f"  tunnel/plain : rtt x{tun_lat / plain_lat:.1f}  throughput "
          f"x{tun_tput / plain_tput:.2f}")


def _last_ike_up(lab: Lab) -> float:
    lines = (lab.run_dir / "events" / "hnb1.jsonl").read_text().splitlines()
    for line in reversed(lines):
        e = json.loads(line)
        if e["kind"] == "ike.up":
            return float(e["fields"]["setup_ms"])
    raise SystemExit("no ike.up event")


if __name__ == "__main__":
    main()
