"""Operator controls of a running SeGW, run inside its container:

    python -m lab.nodes.segw.ctl --config FILE list-sas
    python -m lab.nodes.segw.ctl --config FILE disconnect IDENTITY
    python -m lab.nodes.segw.ctl --config FILE readdress IDENTITY   # prints the new address

`hnblab` calls these through `hnblab exec`. They talk to charon over VICI directly and
record what they did in the SeGW's events file.
"""

from __future__ import annotations

import argparse
import json
import sys

from lab.nodes import charon
from lab.nodes.common import NodeConfig
from lab.nodes.segw.__main__ import build
from lab.nodes.segw.pools import PoolError


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="segw-ctl")
    ap.add_argument("--config", required=True)
    ap.add_argument("verb", choices=["list-sas", "disconnect", "readdress"])
    ap.add_argument("identity", nargs="?")
    args = ap.parse_args(argv)
    if args.verb == "list-sas":
        json.dump(charon.list_sas(), sys.stdout, indent=2)
        print()
        return 0
    if not args.identity:
        ap.error(f"{args.verb} needs an HNB identity")
    with open(args.config) as f:
        gw = build(NodeConfig.from_dict(json.load(f)))
    if args.verb == "disconnect":
        print(gw.disconnect(args.identity))
        return 0
    try:
        print(gw.readdress(args.identity))
    except PoolError as exc:
        print(f"segw-ctl: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
