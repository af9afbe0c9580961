"""`hnblab`: bring labs up and down, look inside them, build images.

Every verb that acts on a lab takes --name (default: the only running lab). Failures exit
non-zero with a one-line reason on stderr.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from lab import images, runtime, topology
from lab.lab import LabError, bring_up

ROOT = Path(__file__).resolve().parent.parent


def _table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*header), fmt.format(*("-" * w for w in widths)),
                      *(fmt.format(*map(str, r)) for r in rows)])


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
    lab = runtime.pick_lab(args.name)
    run_dir = runtime.running_labs().get(lab, "")
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
    p = sub.add_parser("images", help="build missing images and list them")
    p.set_defaults(fn=cmd_images)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.fn(args))
    except (LabError, runtime.RuntimeError_, topology.TopologyError, images.ImageError) as exc:
        msg = str(exc)
        print(f"hnblab {args.verb}: {msg}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"hnblab {args.verb}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
