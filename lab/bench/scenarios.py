"""Benchmark: wall time of each scenario with its lab already up, and of each step of the
spec's flows, median of N runs after one warm-up run.

    python -m lab.bench.scenarios [-n 5] [SCENARIO ...]     (default: every scenario)

Scenarios needing the same topology share one lab (as `hnblab run all` does); the lab is
brought up before the first timed run and removed at the end. A run is the scenario's own
function, as `hnblab run` calls it: the wall time is the scenario's (control calls through
`docker exec`, event polling every 50 ms); the procedure time is from the first to the
last step the matcher saw, from the nodes' own event times. Per step: when it happened
after the scenario began (median), and the gap since the step before it.
"""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict

from scenarios import runner

PASSED = "passed"


def step_times(o: runner.Outcome) -> list[tuple[str, float]]:
    """(flow/step id, seconds after the scenario began) of each step seen, in time order."""
    out = []
    for fr in (o.verdict.results if o.verdict else []):
        for st in fr.steps:
            if st.status == PASSED and st.time is not None:
                out.append((f"{fr.flow.id}/{st.step.id}", st.time - fr.start))
    return sorted(out, key=lambda x: x[1])


def median_ms(xs: list[float]) -> str:
    return f"{statistics.median(xs) * 1000:.1f}" if xs else "-"


def bench(names: list[str], runs: int) -> int:
    failures = 0
    summary: list[tuple[str, float, float | None, int]] = []
    for group in runner.by_topology(names):
        lab = runner.lab_for(group[0], say=lambda m: None)
        try:
            for s in group:
                walls, spans = [], []
                at: dict[str, list[float]] = defaultdict(list)
                gap: dict[str, list[float]] = defaultdict(list)
                bad = 0
                for i in range(runs + 1):
                    o = runner.run_in(s, lab.name, lab.run_dir, lab.topology, lambda m: None)
                    if not o.ok:
                        bad += 1
                        print(f"  {s.name} run {i}: FAIL {o.error or 'verdict failed'}")
                    if i == 0 or not o.ok:  # the warm-up and failed runs are not counted
                        continue
                    walls.append(o.seconds)
                    seen = step_times(o)
                    if seen:
                        spans.append(seen[-1][1] - seen[0][1])
                    prev = 0.0
                    for sid, t in seen:
                        at[sid].append(t)
                        gap[sid].append(max(0.0, t - prev))
                        prev = t
                failures += bad
                if not walls:
                    print(f"{s.name}: no successful run")
                    continue
                span = statistics.median(spans) if spans else None
                summary.append((s.name, statistics.median(walls), span, len(walls)))
                print(f"{s.name} ({s.topology}): wall median {statistics.median(walls):.3f} s"
                      f" (runs {', '.join(f'{w:.2f}' for w in walls)})"
                      + (f", procedure {span:.3f} s" if span is not None else ""))
                print("    step                 at ms    gap ms")
                for sid in sorted(at, key=lambda k: statistics.median(at[k])):
                    print(f"    {sid:18s} {median_ms(at[sid]):>8s}  {median_ms(gap[sid]):>8s}")
        finally:
            lab.down()
    print(f"\nsummary, median of {runs} runs after one warm-up, lab already up:")
    print(f"  {'scenario':34s} {'wall s':>8s} {'procedure s':>12s}")
    for name, wall, span, n in summary:
        note = "" if n == runs else f"  ({n} good runs)"
        print(f"  {name:34s} {wall:8.3f} {'-' if span is None else f'{span:.3f}':>12s}{note}")
    return 1 if failures else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--runs", type=int, default=5)
    ap.add_argument("scenario", nargs="*", help="scenario names (default: all)")
    args = ap.parse_args()
    reg = runner.load_all()
    names = args.scenario or runner.ALL_ORDER
    unknown = [n for n in names if n not in reg]
    if unknown:
        raise SystemExit(f"unknown scenario(s): {', '.join(unknown)} "
                         f"(hnblab run --list shows them)")
    raise SystemExit(bench(list(names), args.runs))


if __name__ == "__main__":
    main()
