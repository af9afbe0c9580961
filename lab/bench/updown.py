"""Benchmark: `up` and `down` of a topology with images cached, median of N runs, each
node's start-to-ready time, against a baseline in the same process: as many bare
containers (`sleep`) started in parallel and removed.

    python -m lab.bench.updown [-t topologies/intranet.yaml] [-n 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lab import images, runtime
from lab.lab import bring_up

ROOT = Path(__file__).resolve().parents[2]


def baseline(image: str, count: int, runs: int) -> tuple[float, float]:
    dc = runtime.client()
    ups, downs = [], []
    for _ in range(runs):
        t0 = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            cs = list(pool.map(lambda i: dc.containers.run(
                image, ["sleep", "60"], detach=True, name=f"hnblab-bench-{i}",
                labels={runtime.LABEL: "bench-baseline"}), range(count)))
        ups.append(time.monotonic() - t0)
        t0 = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda c: c.remove(force=True), cs))
        downs.append(time.monotonic() - t0)
    return statistics.median(ups), statistics.median(downs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-t", "--topology", default=str(ROOT / "topologies" / "intranet.yaml"))
    ap.add_argument("-n", "--runs", type=int, default=5)
    args = ap.parse_args()
    image = images.ensure_node()
    ups, downs, per_node = [], [], {}
    for i in range(args.runs):
        t0 = time.monotonic()
        lab = bring_up(Path(args.topology), name=f"bench{i}", progress=lambda s: None)
        ups.append(time.monotonic() - t0)
        for node, secs in lab.ready_times.items():
            per_node.setdefault(node, []).append(secs)
        t0 = time.monotonic()
        lab.down()
        downs.append(time.monotonic() - t0)
    n_containers = len(lab.topology.nodes) + 1  # + capture
    b_up, b_down = baseline(image, n_containers, args.runs)
    up, down = statistics.median(ups), statistics.median(downs)
    print(f"topology {args.topology} ({len(lab.topology.nodes)} nodes + capture), "
          f"{args.runs} runs, images cached")
    print(f"up   median {up:.2f} s  (runs: {', '.join(f'{x:.2f}' for x in ups)})")
    print(f"down median {down:.2f} s  (runs: {', '.join(f'{x:.2f}' for x in downs)})")
    print(f"baseline: {n_containers} bare containers up {b_up:.2f} s, down {b_down:.2f} s; "
          f"ratio up {up / b_up:.1f}x, down {down / b_down:.1f}x")
    print("node start-to-ready, median s:")
    for node, xs in sorted(per_node.items(), key=lambda kv: -statistics.median(kv[1])):
        print(f"  {node:14s} {statistics.median(xs):.2f}")


if __name__ == "__main__":
    main()
