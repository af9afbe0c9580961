"""The Docker engine driver: networks, containers, routes, capture, readiness, teardown.

The only module that talks to Docker (through the docker SDK). Every object it makes
carries the labels `hnblab.lab=<lab>` (plus node/role/run_dir on containers), so `down`
removes exactly one lab and `down --all` finds every leftover; the forwarding rules it puts
in the host's DOCKER-USER chain carry the comment `hnblab:<lab>` and are found by that.

Layout of a lab called L with run directory R:
  networks   L-<net>       internal bridge, the topology's subnet, bridge device hl<hash>
  containers L-<node>      the node image, fixed addresses, `python -m lab.nodes.<role>`
  container  L-capture     host network namespace, one tcpdump per lab bridge -> R/pcap/
R is bind-mounted at /run/hnblab in every container, the project's lab/ read-only at
/opt/hnblab/lab (so a code change needs no image rebuild).
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import shlex
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import docker
import docker.errors
import requests
from docker.models.containers import Container

from lab.topology import Node, Topology

ROOT = Path(__file__).resolve().parent.parent
LABEL = "hnblab.lab"
RUN_MOUNT = "/run/hnblab"
CODE_MOUNT = "/opt/hnblab/lab"
PYCACHE = ROOT / "build" / "pycache"
PYCACHE_MOUNT = "/opt/hnblab-pycache"

_client: docker.DockerClient | None = None


class RuntimeError_(RuntimeError):
    """A lab could not be brought up or acted on; the message says which node and why."""


def client() -> docker.DockerClient:
    global _client
    if _client is None:
        try:
            _client = docker.from_env(timeout=120)
            _client.ping()
        except docker.errors.DockerException as exc:
            raise RuntimeError_(f"cannot reach the Docker engine: {exc}") from exc
    return _client


# ---- images (used by lab.images) ------------------------------------------------------


def image_exists(tag: str) -> bool:
    try:
        client().images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


PULL_TIMEOUT = 15.0  # seconds without a word from the engine before a pull is given up


def try_pull(ref: str, progress: Callable[[str], None] = lambda s: None) -> tuple[bool, str]:
    """Pull `ref` where a registry answers; (pulled, why not). Fails fast where none does:
    the engine's own error comes at once, and a registry that does not answer is given up
    after PULL_TIMEOUT seconds of silence (its own client, so the main one keeps its long
    timeout for builds)."""
    repo, _, tag = ref.partition(":")
    client()  # a clear error when there is no engine at all
    dc = docker.from_env(timeout=PULL_TIMEOUT)
    last = ""
    try:
        for chunk in dc.api.pull(repo, tag=tag or "latest", stream=True, decode=True):
            if "error" in chunk:
                return False, str(chunk["error"]).strip()
            status = f"{chunk.get('status', '')} {chunk.get('progress', '')}".strip()
            if status and status != last and "Downloading" not in status:
                progress(f"  pull {ref}: {status}")
            last = status
        return image_exists(ref), ""
    except docker.errors.DockerException as exc:
        return False, str(getattr(exc, "explanation", None) or exc).strip()
    except (requests.exceptions.RequestException, OSError) as exc:
        return False, f"no answer within {PULL_TIMEOUT:.0f}s ({type(exc).__name__})"
    finally:
        dc.close()


def import_image(stream: IO[bytes], tag: str) -> None:
    repo, _, t = tag.partition(":")
    client().api.import_image_from_stream(stream, repository=repo, tag=t or "latest")


def build_image(ctx: Path, tag: str, buildargs: dict[str, str],
                progress: Callable[[str], None], layer: str = "node") -> None:
    shown = time.monotonic()
    for chunk in client().api.build(path=str(ctx), tag=tag, buildargs=buildargs, rm=True,
                                    forcerm=True, decode=True, labels={"hnblab.image": layer}):
        if "error" in chunk:
            raise RuntimeError_(f"docker build of {tag} failed: {chunk['error'].strip()}")
        line = str(chunk.get("stream", "")).strip()
        if line.startswith("Step "):
            progress(line)
            shown = time.monotonic()
        elif line and time.monotonic() - shown > 5:  # a long step: a sign of life
            progress(f"  {line[:100]}")
            shown = time.monotonic()


def image_tags(prefix: str) -> list[str]:
    return sorted(t for img in client().images.list() for t in img.tags if t.startswith(prefix))


# ---- labs ------------------------------------------------------------------------------


def container_name(lab: str, node: str) -> str:
    return f"{lab}-{node}"


def bridge_name(lab: str, net: str) -> str:
    # Linux caps interface names at 15 characters: a stable hash keeps two labs apart.
    return "hl" + hashlib.sha1(f"{lab}/{net}".encode()).hexdigest()[:10]


@dataclass
class NodeStatus:
    node: str
    role: str
    addresses: str
    state: str


def running_labs() -> dict[str, str]:
    """lab name -> run directory, for every lab that has containers."""
    out: dict[str, str] = {}
    for c in client().containers.list(all=True, filters={"label": LABEL}):
        out.setdefault(c.labels[LABEL], c.labels.get("hnblab.run_dir", ""))
    return out


def all_labs() -> dict[str, str]:
    """lab name -> run directory, for every lab with anything left: containers or networks
    (a lab whose containers are gone still holds its subnets)."""
    out = running_labs()
    for n in client().networks.list(filters={"label": LABEL}):
        labels = n.attrs.get("Labels") or {}
        out.setdefault(labels[LABEL], labels.get("hnblab.run_dir", ""))
    return out


def pick_lab(name: str | None, *, leftovers: bool = False,
             labs: dict[str, str] | None = None) -> str:
    """The lab a verb acts on: `name`, else the only one. With `leftovers`, a lab that
    has only networks left counts too (for `down`). `labs` is running_labs() or all_labs()
    when the caller has it already (each one asks Docker)."""
    if labs is None:
        labs = all_labs() if leftovers else running_labs()
    if name:
        if name not in labs:
            raise RuntimeError_(f"no lab named {name!r} is running"
                                + (f" (running: {', '.join(sorted(labs))})" if labs else "")
                                + ("; hnblab down --all removes every hnblab leftover"
                                   if leftovers else ""))
        return name
    if len(labs) == 1:
        return next(iter(labs))
    if not labs:
        raise RuntimeError_("no lab is running (start one with: hnblab up -t FILE)")
    raise RuntimeError_(f"several labs are running ({', '.join(sorted(labs))}): "
                        "say which with --name")


def node_container(lab: str, node: str) -> Container:
    try:
        return client().containers.get(container_name(lab, node))
    except docker.errors.NotFound:
        nodes = sorted(c.labels.get("hnblab.node", "?") for c in _containers(lab))
        raise RuntimeError_(f"lab {lab} has no node {node!r} (nodes: {', '.join(nodes)})") \
            from None


def _containers(lab: str) -> list[Container]:
    return client().containers.list(all=True, filters={"label": f"{LABEL}={lab}"})


def node_config(topo: Topology, node: Node, lab: str) -> dict[str, Any]:
    """What a node reads at start: who it is, where to write, its settings, and the
    topology facts it may need (addresses of other nodes, zone records)."""
    return {
        "node": node.name, "role": node.role, "lab": lab, "run_dir": RUN_MOUNT,
        "events": f"{RUN_MOUNT}/events/{node.name}.jsonl",
        "addresses": {k: str(v) for k, v in node.addresses.items()},
        "settings": node.settings,
        "topology": {
            "nodes": {n.name: {"role": n.role,
                               "addresses": {k: str(v) for k, v in n.addresses.items()},
                               "settings": n.settings}
                      for n in topo.nodes.values()},
            "zones": {z: {f: str(a) for f, a in recs.items()} for z, recs in topo.zones.items()},
            "networks": {n.name: {"subnet": str(n.subnet), "kind": n.kind}
                         for n in topo.networks.values()},
        },
    }


def _sysctls(node: Node) -> dict[str, str]:
    # IPv6 off: the lab is IPv4, and router solicitations would only clutter the pcaps.
    out = {"net.ipv6.conf.all.disable_ipv6": "1", "net.ipv6.conf.default.disable_ipv6": "1"}
    if node.forwards:
        out["net.ipv4.ip_forward"] = "1"
    return out


def _entry_command(topo: Topology, node: Node) -> list[str]:
    # Routes go in before the node program starts, in the same shell: no extra exec.
    steps = [f"ip route replace {r.destination} via {r.via}"
             for r in topo.routes() if r.node == node.name]
    steps.append(f"exec python -m lab.nodes.{node.role} --config "
                 f"{RUN_MOUNT}/config/{node.name}.json")
    return ["/bin/sh", "-c", " && ".join(steps)]


def up(topo: Topology, lab: str, run_dir: Path, image: str, *,
       extra: dict[str, dict[str, Any]] | None = None, timeout: float = 30.0,
       progress: Callable[[str], None] = lambda s: None) -> dict[str, float]:
    """Create and start the lab; returns each node's seconds from start to ready.
    On any failure or Ctrl-C, removes what it made and re-raises."""
    if lab in all_labs():
        raise RuntimeError_(f"a lab named {lab!r} is already running or left over "
                            f"(hnblab down --name {lab})")
    for sub in ("config", "events", "logs", "pcap"):
        (run_dir / sub).mkdir(parents=True, exist_ok=True)
    for node in topo.nodes.values():
        (run_dir / "config" / f"{node.name}.json").write_text(
            json.dumps({**node_config(topo, node, lab), **(extra or {}).get(node.name, {})},
                       indent=2))
    _check_free_subnets(topo)
    try:
        return _up(topo, lab, run_dir, image, timeout, progress)
    except docker.errors.APIError as exc:
        progress(f"up failed: removing what lab {lab} had made")
        down(lab)
        raise RuntimeError_(f"the Docker engine refused: {exc.explanation or exc}") from exc
    except BaseException:
        progress(f"up failed: removing what lab {lab} had made")
        down(lab)
        raise


def _check_free_subnets(topo: Topology) -> None:
    """Docker refuses overlapping bridge subnets; say which lab or network holds one."""
    for dn in client().networks.list():
        for cfg in (dn.attrs.get("IPAM") or {}).get("Config") or []:
            try:
                used = ipaddress.ip_network(cfg.get("Subnet", ""))
            except ValueError:
                continue
            for net in topo.networks.values():
                if used.version == 4 and net.subnet.overlaps(used):
                    owner = (dn.attrs.get("Labels") or {}).get(LABEL)
                    raise RuntimeError_(
                        f"{topo.source}: networks.{net.name}.subnet {net.subnet} overlaps Docker "
                        f"network {dn.name} ({used}"
                        + (f", lab {owner}" if owner else "") + "): stop that lab or use a "
                        "topology with other subnets")


def _up(topo: Topology, lab: str, run_dir: Path, image: str, timeout: float,
        progress: Callable[[str], None]) -> dict[str, float]:
    dc = client()
    labels = {LABEL: lab, "hnblab.run_dir": str(run_dir)}
    nets = {}
    for net in topo.networks.values():
        ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(
            subnet=str(net.subnet), gateway=str(next(net.subnet.hosts())))])
        nets[net.name] = dc.networks.create(
            f"{lab}-{net.name}", driver="bridge", internal=True, ipam=ipam,
            labels={**labels, "hnblab.network": net.name, "hnblab.kind": net.kind},
            options={"com.docker.network.bridge.name": bridge_name(lab, net.name)})
    progress(f"{len(nets)} networks created")
    _start_capture(topo, lab, run_dir, image, labels)

    # Bytecode of the bind-mounted code is cached on the host across nodes and labs:
    # compiling lab/ afresh in every node at once costs seconds on two cores.
    PYCACHE.mkdir(parents=True, exist_ok=True)
    mounts = {str(run_dir.resolve()): {"bind": RUN_MOUNT, "mode": "rw"},
              str(ROOT / "lab"): {"bind": CODE_MOUNT, "mode": "ro"},
              str(PYCACHE): {"bind": PYCACHE_MOUNT, "mode": "rw"}}

    def create(node: Node) -> Container:
        first, *rest = node.addresses.items()
        netcfg = dc.api.create_networking_config({
            f"{lab}-{first[0]}": dc.api.create_endpoint_config(ipv4_address=str(first[1]))})
        c = dc.api.create_container(
            image, command=_entry_command(topo, node), name=container_name(lab, node.name),
            hostname=node.name, labels={**labels, "hnblab.node": node.name,
                                        "hnblab.role": node.role},
            networking_config=netcfg,
            environment={"PYTHONPYCACHEPREFIX": PYCACHE_MOUNT, "PYTHONDONTWRITEBYTECODE": ""},
            host_config=dc.api.create_host_config(
                binds=mounts, cap_add=["NET_ADMIN", "NET_RAW"],
                devices=["/dev/net/tun:/dev/net/tun:rwm"] if node.needs_tun else None,
                sysctls=_sysctls(node),
                network_mode=f"{lab}-{first[0]}", init=True))
        container = dc.containers.get(c["Id"])
        for net, addr in rest:
            nets[net].connect(container, ipv4_address=str(addr))
        return container

    with ThreadPoolExecutor(max_workers=8) as pool:
        containers = dict(zip(topo.nodes, pool.map(create, topo.nodes.values()), strict=True))
        t0 = time.monotonic()
        list(pool.map(lambda c: c.start(), containers.values()))
    progress(f"{len(containers)} containers started")
    return wait_ready(lab, run_dir, list(topo.nodes), t0, timeout)


def _fw_rules(topo: Topology, lab: str) -> list[str]:
    """iptables rule specs that let routed lab traffic cross each lab bridge.

    Docker's isolation rules drop bridged frames whose source is outside the bridge's
    subnet, but tunnelled HNB traffic carries inner-pool sources (198.18.x) on the MNO
    network. DOCKER-USER is the chain Docker keeps for such rules; each names the lab."""
    out = []
    for n in topo.networks:
        br = bridge_name(lab, n)
        out.append(f"DOCKER-USER -i {br} -o {br} -m comment --comment hnblab:{lab} -j ACCEPT")
    return out


def _start_capture(topo: Topology, lab: str, run_dir: Path, image: str,
                   labels: dict[str, str]) -> None:
    """The lab's host-side helper, in the host's network namespace: one tcpdump per lab
    bridge (pcaps for the lab's whole life) and the forwarding rules of _fw_rules. It
    carries the lab label, so it goes away with the lab. Its exit trap removes the rules;
    `down` does not rely on that (a capture killed or exited leaves them): fw_sweep."""
    rules = _fw_rules(topo, lab)
    setup = " && ".join(f"iptables -I {r}" for r in rules)
    cleanup = "; ".join(f"iptables -D {r} 2>/dev/null" for r in rules)
    # -U and --immediate-mode: each packet is in the pcap as it arrives, so a scenario's
    # slice, cut right after it ends, holds its packets (the wire proofs read them)
    dumps = " ".join(f"tcpdump -q -n -U --immediate-mode -i {bridge_name(lab, n)} "
                     f"-w {RUN_MOUNT}/pcap/{n}.pcap 2>>{RUN_MOUNT}/logs/capture.log &"
                     for n in topo.networks)
    script = (f"{setup} || exit 1; trap '{cleanup}; kill $(jobs -p); exit 0' TERM; "
              f"{dumps} wait")
    client().containers.run(
        image, ["/bin/sh", "-c", script], name=f"{lab}-capture", detach=True,
        network_mode="host", cap_add=["NET_ADMIN", "NET_RAW"], init=True,
        labels={**labels, "hnblab.node": "capture", "hnblab.role": "capture"},
        volumes={str(run_dir.resolve()): {"bind": RUN_MOUNT, "mode": "rw"}})
    deadline = time.monotonic() + 10
    want = [run_dir / "pcap" / f"{n}.pcap" for n in topo.networks]
    while not all(p.exists() for p in want):
        if time.monotonic() > deadline:
            raise RuntimeError_(f"capture did not start: {_tail(run_dir / 'logs/capture.log')}")
        time.sleep(0.02)


def wait_ready(lab: str, run_dir: Path, nodes: Iterable[str], t0: float,
               timeout: float) -> dict[str, float]:
    pending = set(nodes)
    ready: dict[str, float] = {}
    deadline = t0 + timeout
    while pending:
        for node in sorted(pending):
            f = run_dir / "events" / f"{node}.jsonl"
            if f.exists() and '"kind":"node.ready"' in f.read_text():
                ready[node] = time.monotonic() - t0
                pending.discard(node)
        if not pending:
            break
        for node in sorted(pending):
            c = node_container(lab, node)
            c.reload()
            if c.status in ("exited", "dead"):
                raise RuntimeError_(f"node {node} exited during start-up "
                                    f"(code {c.attrs['State'].get('ExitCode')}); last log lines:\n"
                                    + _last_lines(c))
        if time.monotonic() > deadline:
            node = sorted(pending)[0]
            raise RuntimeError_(f"node {node} did not report ready within {timeout:.0f}s "
                                f"(also waiting for: {', '.join(sorted(pending - {node})) or '-'});"
                                f" last log lines:\n" + _last_lines(node_container(lab, node)))
        time.sleep(0.05)
    return ready


def _last_lines(c: Container, n: int = 15) -> str:
    text = c.logs(tail=n).decode(errors="replace").rstrip()
    return "\n".join("  | " + ln for ln in text.splitlines()) or "  | (no output)"


def _tail(path: Path, n: int = 5) -> str:
    try:
        return " / ".join(path.read_text().splitlines()[-n:])
    except OSError:
        return "(no log)"


def down(lab: str, *, sweep: bool = True) -> list[str]:
    """Remove every container, network and forwarding rule of the lab (saving node logs
    into its run directory first); returns the names removed. `sweep=False` leaves the
    rules to the caller (down_all sweeps every lab's in one helper container)."""
    dc = client()
    removed: list[str] = []
    containers = _containers(lab)
    networks = dc.networks.list(filters={"label": f"{LABEL}={lab}"})
    if not containers and not networks:
        return []
    # Stop the capture first so tcpdump flushes its pcaps.
    containers.sort(key=lambda c: c.labels.get("hnblab.role") != "capture")
    image = containers[0].attrs.get("Image") if containers else None

    def remove(c: Container) -> str:
        run_dir = c.labels.get("hnblab.run_dir")
        node = c.labels.get("hnblab.node", c.name)
        with contextlib.suppress(docker.errors.DockerException):
            if c.status == "running":
                c.stop(timeout=2 if node == "capture" else 1)
            if run_dir and Path(run_dir, "logs").is_dir():
                Path(run_dir, "logs", f"{node}.log").write_bytes(c.logs())
        with contextlib.suppress(docker.errors.NotFound):
            c.remove(force=True)
        return c.name

    if containers and containers[0].labels.get("hnblab.role") == "capture":
        removed.append(remove(containers.pop(0)))
    with ThreadPoolExecutor(max_workers=8) as pool:
        # The rules go whatever state the capture is in (its exit trap may never have run).
        rules = pool.submit(fw_sweep, lab, image=image) if sweep else None
        removed += list(pool.map(remove, containers))
    for net in networks:
        with contextlib.suppress(docker.errors.NotFound):
            net.remove()
            removed.append(net.name)
    # a failed sweep says so once the rest is gone
    return removed + (rules.result() if rules is not None else [])


def down_all(prefix: str = "") -> list[str]:
    """Remove every hnblab lab whose name starts with `prefix` (all of them by default),
    and every forwarding rule of such a lab, even one whose lab has nothing else left."""
    dc = client()
    removed: list[str] = []
    for lab in sorted(lab for lab in all_labs() if lab.startswith(prefix)):
        removed += down(lab, sweep=False)
    removed += fw_sweep(prefix, prefix=True)  # every listed lab's rules, and orphans'
    for c in dc.containers.list(all=True, filters={"label": HELPER_LABEL}):
        if c.status in ("created", "exited", "dead"):  # left by an interrupted run
            with contextlib.suppress(docker.errors.NotFound):
                c.remove(force=True)
    return removed


# ---- forwarding rules: found and removed by their comment -------------------------------

HELPER_LABEL = "hnblab.helper"

# Runs in a one-shot helper on the host's network namespace: lists the DOCKER-USER rules
# whose comment is hnblab:<lab> (exactly, or <lab> starting with a prefix) and, unless
# told to list only, deletes them. Deleting a rule that is already gone is not an error
# (the capture's own exit trap may have won the race).
_FW_SCRIPT = r"""
import shlex, subprocess, sys
mode, value = sys.argv[1], sys.argv[2]
out = subprocess.run(["iptables", "-S", "DOCKER-USER"], capture_output=True, text=True).stdout
for line in out.splitlines():
    w = shlex.split(line)
    if w[:2] != ["-A", "DOCKER-USER"] or "--comment" not in w[:-1]:
        continue
    comment = w[w.index("--comment") + 1]
    if not comment.startswith("hnblab:"):
        continue
    lab = comment[len("hnblab:"):]
    if not (lab == value if mode in ("delete", "list") else lab.startswith(value)):
        continue
    iface = w[w.index("-i") + 1] if "-i" in w[:-1] else "?"
    if mode.startswith("list") or subprocess.run(["iptables", "-D", *w[1:]]).returncode == 0:
        print(f"{lab} {iface}")
"""


def _helper_image() -> str | None:
    for img in client().images.list():
        if any(t.startswith(("hnblab/node:", "hnblab/base:")) for t in img.tags):
            return str(img.id)
    return None


def _fw_helper(mode: str, value: str, image: str | None) -> list[str]:
    image = image or _helper_image()
    if image is None:
        return []  # no hnblab image: no capture could ever have set a rule
    c = client().containers.create(
        image, ["python3", "-c", _FW_SCRIPT, mode, value], network_mode="host",
        cap_add=["NET_ADMIN", "NET_RAW"], labels={HELPER_LABEL: "fw"})
    try:
        c.start()
        code = c.wait(timeout=60).get("StatusCode", 1)
        out = c.logs(stdout=True, stderr=False).decode(errors="replace")
        if code != 0:
            raise RuntimeError_(f"the forwarding-rule helper failed (exit {code}): "
                                + c.logs(stdout=False, stderr=True).decode(
                                    errors="replace").strip()[-300:])
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            c.remove(force=True)
    return [f"DOCKER-USER rule of {lab} on {iface}"
            for lab, _, iface in (ln.partition(" ") for ln in out.splitlines() if ln)]


def fw_sweep(lab: str, *, prefix: bool = False, image: str | None = None) -> list[str]:
    """Delete the DOCKER-USER rules of lab `lab` (or, with `prefix`, of every lab whose
    name starts with it) from the host's firewall; returns what was deleted."""
    return _fw_helper("prefix" if prefix else "delete", lab, image)


def fw_rules(lab: str, *, prefix: bool = False) -> list[str]:
    """The DOCKER-USER rules of lab `lab` (or of every lab starting with it) now present."""
    return _fw_helper("list-prefix" if prefix else "list", lab, None)


def leftovers(lab: str | None = None) -> list[str]:
    """Names of containers and networks carrying the lab's label (or any hnblab label)."""
    flt = {"label": f"{LABEL}={lab}" if lab else LABEL}
    dc = client()
    return ([c.name for c in dc.containers.list(all=True, filters=flt)]
            + [n.name for n in dc.networks.list(filters=flt)])


def status(lab: str) -> list[NodeStatus]:
    rows = []
    for c in sorted(_containers(lab), key=lambda c: c.name):
        if c.labels.get("hnblab.role") == "capture":
            continue
        nets = c.attrs["NetworkSettings"]["Networks"]
        addrs = ", ".join(f"{k.removeprefix(lab + '-')}={v['IPAddress']}"
                          for k, v in sorted(nets.items()) if v.get("IPAddress"))
        run_dir = Path(c.labels.get("hnblab.run_dir", "."))
        node = c.labels.get("hnblab.node", c.name)
        ev = run_dir / "events" / f"{node}.jsonl"
        state = c.status
        if state == "running":
            state = "ready" if ev.exists() and '"kind":"node.ready"' in ev.read_text() \
                else "starting"
        rows.append(NodeStatus(node, c.labels.get("hnblab.role", "?"), addrs, state))
    return rows


def exec_in(lab: str, node: str, cmd: list[str]) -> tuple[int, str]:
    c = node_container(lab, node)
    if c.status != "running":
        raise RuntimeError_(f"node {node} of lab {lab} is {c.status}, not running")
    res = c.exec_run(cmd, demux=False)
    return res.exit_code, (res.output or b"").decode(errors="replace")


def logs(lab: str, node: str, tail: int | None = None) -> str:
    c = node_container(lab, node)
    return c.logs(tail=tail if tail else "all").decode(errors="replace")


def shell_join(cmd: list[str]) -> str:
    return shlex.join(cmd)
