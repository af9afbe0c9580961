"""A lab as a whole: topology + run directory + images + PKI + runtime, brought up together.

`bring_up` is what `hnblab up` does; `running_lab` is the same as a context manager that
always tears down (tests, scenarios, benchmarks use it).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from lab import images, runtime, topology

ROOT = Path(__file__).resolve().parent.parent
RUNS = ROOT / "runs"


class LabError(RuntimeError):
    pass


@dataclass
class Lab:
    name: str
    topology: topology.Topology
    run_dir: Path
    ready_times: dict[str, float] = field(default_factory=dict)
    up_seconds: float = 0.0

    def exec(self, node: str, *cmd: str) -> tuple[int, str]:
        return runtime.exec_in(self.name, node, list(cmd))

    def down(self) -> list[str]:
        return runtime.down(self.name)


def new_run_dir(lab: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")[:-3]
    d = RUNS / f"{lab}-{stamp}"
    d.mkdir(parents=True, exist_ok=False)
    return d


def bring_up(topo_file: Path, *, name: str | None = None, timeout: float = 60.0,
             progress: Callable[[str], None] = print) -> Lab:
    topo = topology.load(topo_file)
    lab_name = name or topo.name
    if not lab_name.replace("-", "").isalnum():
        raise LabError(f"--name {lab_name!r}: use letters, digits and '-'")
    image = images.ensure_node()
    run_dir = new_run_dir(lab_name)
    (run_dir / "topology.yaml").write_text(Path(topo_file).read_text())
    _make_pki(topo, run_dir)
    t0 = time.monotonic()
    ready = runtime.up(topo, lab_name, run_dir, image, timeout=timeout, progress=progress)
    return Lab(lab_name, topo, run_dir, ready, time.monotonic() - t0)


def _make_pki(topo: topology.Topology, run_dir: Path) -> None:
    """Operator PKI for the lab, when the PKI module is present (see lab.pki)."""
    try:
        from lab import pki
    except ImportError:
        return
    maker = getattr(pki, "make_lab_pki", None)
    if maker is not None:
        maker(topo, run_dir / "pki")


@contextlib.contextmanager
def running_lab(topo_file: Path, *, name: str | None = None,
                timeout: float = 60.0) -> Iterator[Lab]:
    lab = None
    try:
        lab = bring_up(topo_file, name=name, timeout=timeout, progress=lambda s: None)
        yield lab
    finally:
        if lab is not None:
            lab.down()
