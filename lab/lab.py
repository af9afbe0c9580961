"""A lab as a whole: topology + run directory + images + PKI + runtime, brought up together.

`bring_up` is what `hnblab up` does; `running_lab` is the same as a context manager that
always tears down (tests, scenarios, benchmarks use it).
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lab import images, pki, runtime, topology

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
    extra = node_extras(topo, run_dir)
    t0 = time.monotonic()
    ready = runtime.up(topo, lab_name, run_dir, image, extra=extra, timeout=timeout,
                       progress=progress)
    return Lab(lab_name, topo, run_dir, ready, time.monotonic() - t0)


def node_extras(topo: topology.Topology, run_dir: Path) -> dict[str, dict[str, Any]]:
    """What each node's config gets beyond the topology: the paths of its CA, certificate
    and key from the lab's operator PKI in <run>/pki (a node's `cert` setting picks a
    negative variant: foreign CA, expired, or wrong-name for servers), the identity the
    HNB claims, and the HMS's own settings."""
    p = pki.Pki.create(run_dir / "pki", topo.name)
    out: dict[str, dict[str, Any]] = {}
    for node in topo.nodes.values():
        variant = node.settings.get("cert", "good")
        knobs = {"foreign": variant == "foreign", "expired": variant == "expired"}
        ips = [str(a) for a in node.addresses.values()]
        if node.role in ("segw", "hms"):
            fqdns = [node.settings["fqdn"]] if node.settings.get("fqdn") else []
            paths = p.issue_server(node.name, fqdns, ips, **knobs,
                                   wrong_name="wrong-name.operator.example"
                                   if variant == "wrong-name" else None)
        elif node.role == "hnb":
            paths = p.issue_hnb(topology.hnb_identity(node.settings, node.name),
                                name=node.name, **knobs)
        else:
            paths = None
        extra: dict[str, Any] = {"pki": {"ca": _inside(p.ca_path, run_dir)}}
        if paths:
            extra["pki"].update(cert=_inside(paths.cert, run_dir), key=_inside(paths.key, run_dir))
        if node.role == "hnb":
            extra["identity"] = topology.ike_identity(node.settings, node.name)
        if node.role == "hms":
            extra["settings"] = hms_settings(node, paths, run_dir)
        out[node.name] = extra
    return out


HMS_LAB_KEYS = ("fqdn", "tls", "cert")
HMS_HTTPS_PORT = 7548


def hms_settings(node: topology.Node, paths: pki.CertPaths | None,
                 run_dir: Path) -> dict[str, Any]:
    """The HMS node's own settings: the topology's, less the lab's keys, plus its TLS
    certificate and the lab's operator API token."""
    st = {k: v for k, v in node.settings.items() if k not in HMS_LAB_KEYS}
    st["api_token"] = api_token(run_dir)
    if paths is not None:
        st["tls_cert"] = _inside(paths.cert, run_dir)
        st["tls_key"] = _inside(paths.key, run_dir)
        if node.settings.get("tls"):
            st["https_port"] = HMS_HTTPS_PORT
    return st


def api_token(run_dir: Path) -> str:
    """The lab's operator API token, made once and kept in the run directory."""
    f = run_dir / "api_token"
    if not f.exists():
        f.write_text(secrets.token_hex(16))
        f.chmod(0o600)
    return f.read_text().strip()


def _inside(path: Path, run_dir: Path) -> str:
    return f"{runtime.RUN_MOUNT}/{path.relative_to(run_dir)}"


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
