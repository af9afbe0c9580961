"""`hnblab`: bring labs up and down, look inside them, build images.

Every verb that acts on a lab takes --name (default: the only running lab). Failures exit
non-zero with a one-line reason on stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import docker.errors

from lab import images, pki, runtime, topology
from lab.lab import LabError, bring_up, new_run_dir
from scenarios.harness import ScenarioError

ROOT = Path(__file__).resolve().parent.parent


def _table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*header), fmt.format(*("-" * w for w in widths)),
             *(fmt.format(*map(str, r)) for r in rows)]
    return "\n".join(ln.rstrip() for ln in lines)


def cmd_up(args: argparse.Namespace) -> int:
    lab = bring_up(Path(args.topology), name=args.name, timeout=args.timeout)
    print(_table([(n.node, n.role, n.addresses, n.state) for n in runtime.status(lab.name)],
                 ("node", "role", "addresses", "state")))
    slowest = max(lab.ready_times.items(), key=lambda kv: kv[1])
    print(f"\nlab {lab.name} up in {lab.up_seconds:.1f}s (slowest node: {slowest[0]} "
          f"{slowest[1]:.1f}s)\nrun directory: {lab.run_dir}")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    if args.all:
        removed = runtime.down_all()
        print(f"removed {len(removed)} hnblab objects" + (": " + ", ".join(removed)
                                                          if removed else ""))
        return 0
    # A lab with only networks (or rules) left is still one to take down.
    labs = runtime.all_labs()
    lab = runtime.pick_lab(args.name, leftovers=True, labs=labs)
    run_dir = labs.get(lab, "")
    removed = runtime.down(lab)
    print(f"lab {lab} removed ({len(removed)} objects); logs and pcaps kept in {run_dir}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    labs = runtime.running_labs()
    if not labs:
        print("no lab is running")
        return 0
    names = [runtime.pick_lab(args.name)] if args.name or len(labs) == 1 else sorted(labs)
    for lab in names:
        print(f"lab {lab}  (run directory: {labs[lab]})")
        print(_table([(n.node, n.role, n.addresses, n.state) for n in runtime.status(lab)],
                     ("node", "role", "addresses", "state")))
    return 0


def cmd_exec(args: argparse.Namespace) -> int:
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        raise LabError("exec needs a command after --, e.g. hnblab exec hnb1 -- ip addr")
    code, out = runtime.exec_in(runtime.pick_lab(args.name), args.node, cmd)
    sys.stdout.write(out)
    return code


def cmd_alarm(args: argparse.Namespace) -> int:
    """Raise or clear an alarm on an HNB (TS 32.583 5.5.2): the HNB reports it by the
    SupportedAlarm entry's ReportingMechanism."""
    kw = [f"event_type={args.type}", f"probable_cause={args.cause}",
          f"specific_problem={args.problem}"]
    if args.action == "raise":
        kw.append(f"severity={args.severity}")
    code, out = runtime.exec_in(runtime.pick_lab(args.name), args.node,
                                ["python", "-m", "lab.nodes.control", f"{args.action}-alarm",
                                 *kw])
    sys.stdout.write(out)
    return code


def cmd_logs(args: argparse.Namespace) -> int:
    sys.stdout.write(runtime.logs(runtime.pick_lab(args.name), args.node, args.tail))
    return 0


def cmd_images(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    images.ensure_node()
    print(_table([(t, w, "current" if cur else "stale") for t, w, cur in images.list_images()],
                 ("image", "layer", "state")))
    print(f"({time.monotonic() - t0:.1f}s)")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from scenarios import runner

    reg = runner.load_all()
    if args.list or not args.scenario:
        rows = [(n, s.topology, ", ".join(s.clauses),
                 ("negative: " if s.negative else "") + s.title)
                for n, s in sorted(reg.items(), key=lambda kv: (kv[1].clauses, kv[0]))]
        print(_table(rows, ("scenario", "topology", "clauses", "what")))
        return 0
    if args.scenario == "all":
        outcomes = runner.run_many(runner.ALL_ORDER)
        from lab.evidence.report import write_index

        index = write_index(new_run_dir("all"), [o.verdict for o in outcomes if o.verdict])
        print("\n" + runner.verdict_table(outcomes))
        print(f"\nindex: {index}\njunit: {index.parent / 'junit.xml'}")
        return 0 if all(o.ok for o in outcomes) else 1
    if args.scenario not in reg:
        raise LabError(f"unknown scenario {args.scenario!r} (hnblab run --list)")
    s = reg[args.scenario]
    if args.topology:  # the same procedure on another topology (an engineer's own)
        s = dataclasses.replace(s, topology=str(Path(args.topology).resolve()),
                                overrides={})
    o = runner.run(s, lab=args.name)
    print("\n" + runner.verdict_table([o]))
    print(f"\nreport: {o.out_dir / 'report.html'}\njunit:  {o.out_dir / 'junit.xml'}\n"
          f"pcaps:  {o.out_dir}/*.pcap (whole lab: {o.run_dir / 'pcap'})\n"
          f"events: {o.run_dir / 'events'}   logs: {o.run_dir / 'logs'}")
    return 0 if o.ok else 1


BENCHES = ("updown", "ike", "scenarios", "cwmp", "pm")


def cmd_bench(args: argparse.Namespace) -> int:
    import runpy

    which = BENCHES if args.which == "all" else (args.which,)
    if args.script_args and len(which) > 1:
        raise LabError("script arguments need one benchmark name, not all")
    for b in which:
        if b not in BENCHES:
            raise LabError(f"unknown benchmark {b!r} (one of: {', '.join(BENCHES)})")
        print(f"== lab.bench.{b}")
        sys.argv = [f"lab.bench.{b}", *args.script_args]
        runpy.run_module(f"lab.bench.{b}", run_name="__main__")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """The main job: the intranet lab, discovery + registration, verdicts, evidence."""
    from scenarios import runner

    reg = runner.load_all()
    outcomes = runner.run_many(["discovery-intranet"])
    o = outcomes[0]
    print("\n" + runner.verdict_table(outcomes))
    print(f"\nevidence in {o.run_dir}:\n  ladder + verdicts  {o.out_dir / 'report.html'}"
          f"\n  junit             {o.out_dir / 'junit.xml'}"
          f"\n  pcaps             {o.out_dir}/*.pcap (scenario), {o.run_dir / 'pcap'} (lab)"
          f"\n  events, logs      {o.run_dir / 'events'}, {o.run_dir / 'logs'}")
    del reg
    return 0 if o.ok else 1


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="hnblab", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="verb", required=True)
    p = sub.add_parser("up", help="bring a lab up from a topology file")
    p.add_argument("-t", "--topology", required=True, help="topology YAML file")
    p.add_argument("--name", help="lab name (default: the topology's name)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for ready")
    p.set_defaults(fn=cmd_up)
    p = sub.add_parser("down", help="remove a lab (or every hnblab leftover with --all)")
    p.add_argument("--name")
    p.add_argument("--all", action="store_true")
    p.set_defaults(fn=cmd_down)
    p = sub.add_parser("status", help="nodes, roles, addresses and states")
    p.add_argument("--name")
    p.set_defaults(fn=cmd_status)
    p = sub.add_parser("exec", help="run a command in a node: hnblab exec NODE -- CMD")
    p.add_argument("--name")
    p.add_argument("node")
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    p.set_defaults(fn=cmd_exec)
    p = sub.add_parser("logs", help="a node's output")
    p.add_argument("--name")
    p.add_argument("--tail", type=int)
    p.add_argument("node")
    p.set_defaults(fn=cmd_logs)
    p = sub.add_parser("alarm", help="raise or clear an alarm on an HNB")
    p.add_argument("action", choices=["raise", "clear"])
    p.add_argument("node")
    p.add_argument("--name")
    p.add_argument("--type", required=True, help='EventType, e.g. "Communications Alarm"')
    p.add_argument("--cause", required=True, help='ProbableCause, e.g. "Loss Of Signal"')
    p.add_argument("--problem", default="", help='SpecificProblem, e.g. "Iuh link down"')
    p.add_argument("--severity", default="Major",
                   help="Critical | Major | Minor | Warning | Indeterminate")
    p.set_defaults(fn=cmd_alarm)
    p = sub.add_parser("images", help="build missing images and list them")
    p.set_defaults(fn=cmd_images)
    p = sub.add_parser("run", help="run a scenario (or 'all') and verify it against the spec")
    p.add_argument("scenario", nargs="?", help="scenario name, or 'all'")
    p.add_argument("--list", action="store_true", help="list the scenarios")
    p.add_argument("-t", "--topology", help="run on this topology file instead of the "
                   "scenario's own (its overrides are not applied)")
    p.add_argument("--name", help="run in this running lab instead of a lab of its own")
    p.set_defaults(fn=cmd_run)
    p = sub.add_parser("demo", help="intranet lab: discovery + registration, verdicts, evidence")
    p.set_defaults(fn=cmd_demo)
    p = sub.add_parser("bench", help="run a benchmark script: " + " | ".join(BENCHES)
                       + " | all; arguments after NAME go to the script")
    p.add_argument("which", nargs="?", default="all")
    p.add_argument("script_args", nargs=argparse.REMAINDER,
                   help="passed to the script (e.g. hnblab bench scenarios -n 3)")
    p.set_defaults(fn=cmd_bench)
    return ap


def one_line(exc: BaseException) -> str:
    """A one-line reason for an error from below the lab (PKI, Docker engine, the OS)."""
    if isinstance(exc, docker.errors.APIError) and exc.explanation:
        what = f"the Docker engine refused: {exc.explanation}"
    elif isinstance(exc, docker.errors.DockerException):
        what = f"Docker: {exc}"
    elif isinstance(exc, OSError) and exc.strerror:
        what = exc.strerror + (f": {exc.filename}" if exc.filename else "")
    else:
        what = str(exc) or type(exc).__name__
    return " ".join(what.split())


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.fn(args))
    except (LabError, runtime.RuntimeError_, topology.TopologyError, images.ImageError,
            ScenarioError) as exc:
        msg = str(exc)
        print(f"hnblab {args.verb}: {msg}", file=sys.stderr)
        return 1
    except (pki.PkiError, docker.errors.DockerException, OSError) as exc:
        # Not ours to foresee in detail, but still a reason, not a traceback.
        print(f"hnblab {args.verb}: {one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"hnblab {args.verb}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
