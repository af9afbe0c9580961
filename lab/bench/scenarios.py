"""Benchmark: wall time of discovery + registration with the lab already up, and of each
step, median of N runs (the HNB is powered off with factory state between runs).

    python -m lab.bench.scenarios [-n 5]

Steps are read from the run's events: power-on -> tunnel to SeGW initial -> Inform at the
HMS initial -> its session done -> tunnel to the serving SeGW -> registration session
done -> HNBAP accept.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from lab.evidence.events import Event, read_run_events
from lab.lab import running_lab
from scenarios.harness import REGISTRY, Ctx
from scenarios.runner import load_all

ROOT = Path(__file__).resolve().parents[2]
MILESTONES = [
    ("tunnel to SeGW initial", lambda e: e.node == "hnb1" and e.kind == "ike.up"),
    ("Inform at HMS initial", lambda e: e.node == "hms-initial" and e.kind == "cwmp.rx"
     and e.fields.get("msg") == "Inform"),
    ("discovery session done", lambda e: e.node == "hnb1" and e.kind == "cwmp.session"
     and e.fields.get("state") == "end"),
    ("tunnel to serving SeGW", lambda e: e.node == "hnb1" and e.kind == "ike.up"),
    ("registration session done", lambda e: e.node == "hnb1" and e.kind == "cwmp.session"
     and e.fields.get("state") == "end"),
    ("HNBAP accept", lambda e: e.node == "hnb1" and e.kind == "hnbap.rx"),
]


def steps(events: list[Event], t0: float) -> list[tuple[str, float]]:
    out, i, prev = [], 0, t0
    for e in events:
        if i < len(MILESTONES) and e.time >= prev and MILESTONES[i][1](e):
            out.append((MILESTONES[i][0], e.time - prev))
            prev = e.time
            i += 1
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", "--runs", type=int, default=5)
    args = ap.parse_args()
    load_all()
    s = REGISTRY["discovery-intranet"]
    totals: list[float] = []
    per_step: dict[str, list[float]] = {}
    with running_lab(ROOT / "topologies" / "intranet.yaml", name="benchscn") as lab:
        for _ in range(args.runs + 1):  # the first run warms caches and is not counted
            ctx = Ctx(lab.name, lab.run_dir, lab.topology, s)
            ctx.control("hnb1", "power-off", factory="true")
            ctx.since = time.time()
            t0 = time.time()
            s.run(ctx)
            total = time.time() - t0
            evs = [e for e in read_run_events(lab.run_dir) if e.time >= t0]
            on = next(e.time for e in evs if e.kind == "hnb.power_on")
            totals.append(total)
            for name, secs in steps(evs, on):
                per_step.setdefault(name, []).append(secs)
    totals = totals[1:]
    print(f"discovery + registration (intranet, lab up), {args.runs} runs after one warm-up")
    print(f"  wall (control call to HNBAP accept seen), median {statistics.median(totals):.3f} s"
          f"  runs: {', '.join(f'{x:.3f}' for x in totals)}")
    procedure = [sum(x) for x in zip(*per_step.values(), strict=False)][1:]
    print(f"  procedure (power-on event to HNBAP accept), median "
          f"{statistics.median(procedure):.3f} s")
    print("  per step, median ms:")
    for name, xs in per_step.items():
        print(f"    {name:28s} {statistics.median(xs[1:]) * 1000:7.1f}")


if __name__ == "__main__":
    main()
