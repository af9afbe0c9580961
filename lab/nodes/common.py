"""What every node process shares: its config, logging, its event log, the ready signal.

A node runs as `python -m lab.nodes.<role> --config FILE`; FILE is JSON written by the
runtime into the run directory (bind-mounted at the same path inside the container):

    {"node": "hms-initial", "role": "hms", "lab": "intranet", "run_dir": "/run/hnblab",
     "events": "/run/hnblab/events/hms-initial.jsonl", "addresses": {"mno": "10.0.0.10"},
     "settings": {...role settings from the topology...}, "topology": {...resolved facts...}}

A node never knows it is in a lab: it only reads this file. In-process tests build the same
dict by hand.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.evidence.events import EventLog


@dataclass
class NodeConfig:
    node: str
    role: str
    run_dir: Path
    events_path: Path | None
    addresses: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NodeConfig:
        missing = [k for k in ("node", "role") if k not in d]
        if missing:
            raise ValueError(f"node config: missing field(s) {', '.join(missing)}")
        run_dir = Path(d.get("run_dir", "."))
        ev = d.get("events")
        return cls(node=d["node"], role=d["role"], run_dir=run_dir,
                   events_path=Path(ev) if ev else None,
                   addresses=dict(d.get("addresses") or {}),
                   settings=dict(d.get("settings") or {}), raw=d)

    def events(self) -> EventLog:
        return EventLog(self.node, self.events_path)


def load_config(argv: list[str] | None = None) -> NodeConfig:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True, help="node config JSON")
    args = ap.parse_args(argv)
    path = Path(args.config)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        sys.exit(f"{path}: cannot read node config: {exc}")
    try:
        return NodeConfig.from_dict(data)
    except ValueError as exc:
        sys.exit(f"{path}: {exc}")


def setup_logging(node: str, level: int = logging.INFO) -> None:
    logging.basicConfig(
        level=level, stream=sys.stderr,
        format=f"%(asctime)s {node} %(name)s %(levelname)s %(message)s")


def signal_ready(events: EventLog, **fields: Any) -> None:
    """The runtime waits for this event in the node's events file."""
    events.emit("node.ready", "ready", **fields)
