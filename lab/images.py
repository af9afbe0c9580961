"""Node images without a registry.

Two layers, each tagged by a hash of what it is made of, so only a change of recipe or
dependency rebuilds and a code change costs nothing (the code is bind-mounted at run time):

  hnblab/base:<hash of the suite and images/base.packages>
      the first source that works (`base_source`): that image if the engine holds it;
      else `debian:bookworm` (local, or pulled where a registry answers) with the packages
      installed by images/base.Dockerfile; else `debootstrap --variant=minbase
      --include=<packages>` from the host's Debian mirror, then `tar | docker import`
      (platform.md: about a minute here). Both recipes install the same package list, so
      they share the tag.
  hnblab/node:<hash of base tag, images/node.Dockerfile, requirements>
      FROM base, a venv at /opt/venv filled offline from a wheelhouse of wheels for the
      node's Python (bookworm's CPython 3.11), whatever Python the host runs.

Only lab.runtime talks to the Docker engine; this module asks it through that driver.
"""

from __future__ import annotations

import hashlib
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lab import runtime

ROOT = Path(__file__).resolve().parent.parent
RECIPES = ROOT / "images"
BUILD = ROOT / "build"
SUITE = "bookworm"
DEBIAN = f"debian:{SUITE}"
# The node's Python: what `python3` is in Debian bookworm; its glibc bounds manylinux tags.
NODE_PYTHON = (3, 11)
NODE_GLIBC = (2, 36)
Progress = Callable[[str], None]


class ImageError(RuntimeError):
    pass


def _say(msg: str) -> None:
    print(f"[images] {msg}", file=sys.stderr, flush=True)


def base_packages() -> list[str]:
    lines = (RECIPES / "base.packages").read_text().splitlines()
    return [ln.split("#", 1)[0].strip() for ln in lines if ln.split("#", 1)[0].strip()]


def requirements() -> list[str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return sorted(data["project"]["dependencies"])


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode())
        h.update(b"\0")
    return h.hexdigest()[:12]


def base_tag() -> str:
    return f"hnblab/base:{_digest(SUITE, *base_packages())}"


def node_tag() -> str:
    dockerfile = (RECIPES / "node.Dockerfile").read_text()
    return f"hnblab/node:{_digest(base_tag(), dockerfile, *requirements())}"


def debian_mirror() -> str:
    """The host's Debian mirror, read from its apt sources (deb822 or one-line form)."""
    candidates: list[str] = []
    for f in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]:
        try:
            text = f.read_text()
        except OSError:
            continue
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("URIs:"):
                candidates += line.split()[1:]
            elif line.startswith("deb ") and "debian" in line:
                candidates += [w for w in line.split()[1:] if w.startswith("http")][:1]
    for uri in candidates:
        if "/debian" in uri and "security" not in uri:
            return uri
    return "http://deb.debian.org/debian"


@dataclass(frozen=True)
class BaseProbes:
    """What `base_source` asks, in order; each is called only when the ones before it
    said no (a pull is not tried when a local image will do)."""

    base_exists: Callable[[], bool]
    debian_local: Callable[[], bool]
    pull_debian: Callable[[], bool]
    has_debootstrap: Callable[[], bool]


def base_source(probes: BaseProbes) -> str:
    """Where the base image comes from: "local" (the engine has it), "debian" (build it
    FROM a local or just-pulled debian:bookworm) or "debootstrap"."""
    if probes.base_exists():
        return "local"
    if probes.debian_local() or probes.pull_debian():
        return "debian"
    if probes.has_debootstrap():
        return "debootstrap"
    raise ImageError(f"no base image: the engine has no {DEBIAN}, no registry answered a "
                     "pull, and this host has no debootstrap (apt-get install debootstrap)")


def ensure_base(progress: Progress = _say) -> str:
    tag = base_tag()
    source = base_source(BaseProbes(
        base_exists=lambda: runtime.image_exists(tag),
        debian_local=lambda: runtime.image_exists(DEBIAN),
        pull_debian=lambda: _try_pull(tag, progress),
        has_debootstrap=lambda: shutil.which("debootstrap") is not None))
    if source == "debian":
        _base_from_debian(tag, progress)
    elif source == "debootstrap":
        _base_from_debootstrap(tag, progress)
    return tag


def _try_pull(tag: str, progress: Progress) -> bool:
    progress(f"{tag} missing and no local {DEBIAN}: trying a pull")
    ok, why = runtime.try_pull(DEBIAN, progress)
    if not ok:
        progress(f"  no pull ({why})")
    return ok


def _base_from_debian(tag: str, progress: Progress) -> None:
    pkgs = base_packages()
    mirror = debian_mirror()
    progress(f"building {tag} FROM {DEBIAN} with {len(pkgs)} packages from {mirror}")
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="hnblab-basectx-") as tmp:
        ctx = Path(tmp)
        shutil.copy(RECIPES / "base.Dockerfile", ctx / "Dockerfile")
        runtime.build_image(ctx, tag, {"DEBIAN": DEBIAN, "PACKAGES": " ".join(pkgs),
                                       "MIRROR": mirror},
                            lambda line: progress(f"  {time.monotonic() - t0:5.0f}s {line}"),
                            layer="base")
    progress(f"{tag} ready in {time.monotonic() - t0:.0f}s")


def _base_from_debootstrap(tag: str, progress: Progress) -> None:
    mirror = debian_mirror()
    pkgs = base_packages()
    progress(f"no {DEBIAN}: debootstrap {SUITE} from {mirror} with {len(pkgs)} packages "
             "(about a minute)")
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="hnblab-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        cmd = ["debootstrap", "--variant=minbase", f"--include={','.join(pkgs)}",
               SUITE, str(rootfs), mirror]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        tail: list[str] = []
        for n, line in enumerate(proc.stdout, 1):
            tail = [*tail, line.rstrip()][-20:]
            if line.startswith("I: ") and ("Retrieving" not in line or n % 40 == 0):
                progress(f"  {time.monotonic() - t0:5.0f}s {line[3:].strip()}")
        if proc.wait() != 0:
            raise ImageError("debootstrap failed:\n  " + "\n  ".join(tail))
        # Slim the image: apt lists and docs are not needed in a lab node.
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc",
                     "usr/share/man"):
            shutil.rmtree(rootfs / junk, ignore_errors=True)
        progress(f"  {time.monotonic() - t0:5.0f}s importing rootfs as {tag}")
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        assert tar.stdout is not None
        runtime.import_image(tar.stdout, tag)
        if tar.wait() != 0:
            raise ImageError("tar of the rootfs failed")
    progress(f"{tag} ready in {time.monotonic() - t0:.0f}s")


# ---- the wheelhouse: wheels for the node's Python, not the host's -----------------------


def node_platforms(arch: str | None = None) -> list[str]:
    """pip --platform tags a bookworm node runs: manylinux up to its glibc, newest first."""
    arch = arch or platform.machine()
    return ([f"manylinux_{NODE_GLIBC[0]}_{m}_{arch}" for m in range(NODE_GLIBC[1], 4, -1)]
            + [f"manylinux2014_{arch}", f"manylinux2010_{arch}", f"manylinux1_{arch}"])


def _download_cmd(reqs: list[str], dest: Path, links: Path) -> list[str]:
    py = f"{NODE_PYTHON[0]}{NODE_PYTHON[1]}"
    cmd = [sys.executable, "-m", "pip", "download", "--only-binary=:all:",
           "--python-version", f"{NODE_PYTHON[0]}.{NODE_PYTHON[1]}", "--implementation", "cp",
           "--abi", f"cp{py}", "--abi", "abi3", "--abi", "none"]
    for plat in [*node_platforms(), "any"]:
        cmd += ["--platform", plat]
    return [*cmd, "--find-links", str(links), "--dest", str(dest), "--progress-bar", "off",
            *reqs]


_LEGACY_GLIBC = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}


def wheel_fits(filename: str, arch: str | None = None) -> bool:
    """True when a wheel installs into the node's CPython (by its file name's tags)."""
    arch = arch or platform.machine()
    parts = filename.removesuffix(".whl").split("-")
    if len(parts) < 5:
        return False
    pys, abis, plats = (p.split(".") for p in parts[-3:])
    major, minor = NODE_PYTHON

    def py_ok(tag: str, abi: str) -> bool:
        m = re.fullmatch(r"(py|cp)(\d)(\d*)", tag)
        if not m or int(m[2]) != major:
            return False
        version = int(m[3]) if m[3] else None
        if abi == "none":  # pure Python (or no ABI): py3, py311, cp311
            return version is None or version == minor or (m[1] == "py" and version <= minor)
        if abi == "abi3":  # the stable ABI of this or an older 3.x
            return m[1] == "cp" and version is not None and version <= minor
        return m[1] == "cp" and version == minor and abi == f"cp{major}{minor}"

    def plat_ok(tag: str) -> bool:
        if tag == "any" or tag == f"linux_{arch}":
            return True
        legacy, _, rest = tag.partition("_")
        if legacy in _LEGACY_GLIBC:
            return rest == arch and _LEGACY_GLIBC[legacy] <= NODE_GLIBC
        m = re.fullmatch(rf"manylinux_(\d+)_(\d+)_{re.escape(arch)}", tag)
        return bool(m) and (int(m[1]), int(m[2])) <= NODE_GLIBC

    return (any(py_ok(p, a) for p in pys for a in abis) and any(plat_ok(p) for p in plats))


_MISSING = re.compile(r"No matching distribution found for (\S+)")


def wheelhouse(progress: Progress = _say) -> Path:
    """Wheels of every runtime dependency for the node's CPython 3.11 (bookworm), whatever
    Python the host runs: binary wheels by `pip download` for that interpreter and
    platform; a dependency published only as an sdist is built on the host, and taken
    only if that gives a pure-Python wheel. Cached by the requirements' hash (a cached
    one with a wheel the node cannot install is rebuilt)."""
    reqs = requirements()
    target = BUILD / f"wheelhouse-{_digest(*reqs)}"
    if (target / ".complete").exists():
        unfit = [w.name for w in target.glob("*.whl") if not wheel_fits(w.name)]
        if not unfit:
            return target
        progress(f"wheelhouse {target.name} holds wheels a CPython "
                 f"{NODE_PYTHON[0]}.{NODE_PYTHON[1]} node cannot install "
                 f"({', '.join(unfit[:3])}): rebuilding it")
    progress(f"building the wheelhouse for {len(reqs)} requirements (CPython "
             f"{NODE_PYTHON[0]}.{NODE_PYTHON[1]}, {platform.machine()})")
    t0 = time.monotonic()
    tmp = target.with_suffix(".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        _fill_wheelhouse(reqs, tmp, progress, t0)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    (tmp / ".complete").touch()
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    progress(f"wheelhouse ready in {time.monotonic() - t0:.0f}s "
             f"({len(list(target.glob('*.whl')))} wheels)")
    return target


def _fill_wheelhouse(reqs: list[str], tmp: Path, progress: Progress, t0: float) -> None:
    sdists = tmp / "sdist-wheels"
    sdists.mkdir(parents=True)
    built: set[str] = set()
    while True:
        ok, out = _run_pip(_download_cmd(reqs, tmp, sdists), progress, t0)
        if ok:
            break
        missing = _MISSING.search(out)
        if not missing or missing[1] in built:
            raise ImageError(f"pip download for CPython {NODE_PYTHON[0]}.{NODE_PYTHON[1]} "
                             f"failed:\n{out[-2000:]}")
        req = missing[1]
        built.add(req)
        progress(f"  {time.monotonic() - t0:5.0f}s {req}: no binary wheel for the node; "
                 "building it from its sdist on the host")
        _build_pure_wheel(req, sdists, progress, t0)
    for w in sdists.glob("*.whl"):
        shutil.move(w, tmp / w.name)
    sdists.rmdir()
    unfit = [w.name for w in tmp.glob("*.whl") if not wheel_fits(w.name)]
    if unfit:  # pip chose them for the target; a mismatch here is a bug to hear about
        raise ImageError(f"wheels the node's CPython cannot install: {', '.join(unfit)}")


def _build_pure_wheel(req: str, dest: Path, progress: Progress, t0: float) -> None:
    with tempfile.TemporaryDirectory(prefix="hnblab-sdist-") as tmp:
        ok, out = _run_pip([sys.executable, "-m", "pip", "wheel", "--no-deps", "--progress-bar",
                            "off", "--wheel-dir", tmp, req], progress, t0)
        if not ok:
            raise ImageError(f"pip wheel {req} failed:\n{out[-2000:]}")
        for w in Path(tmp).glob("*.whl"):
            if not w.name.endswith("-none-any.whl"):
                host = "{}.{}".format(*sys.version_info[:2])
                raise ImageError(
                    f"{req} has no binary wheel for CPython {NODE_PYTHON[0]}.{NODE_PYTHON[1]} "
                    f"and its sdist builds a binary one ({w.name}) with the host's Python "
                    f"{host}: the node cannot install that; pin a version with wheels or "
                    f"build on a host with Python {NODE_PYTHON[0]}.{NODE_PYTHON[1]}")
            shutil.move(w, dest / w.name)


def _run_pip(cmd: list[str], progress: Progress, t0: float) -> tuple[bool, str]:
    """Run pip, showing each package it collects; (succeeded, its output)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        for line in proc.stdout:
            lines.append(line.rstrip())
            if line.startswith(("Collecting ", "Building wheel")):
                progress(f"  {time.monotonic() - t0:5.0f}s {line.strip()}")
        return proc.wait() == 0, "\n".join(lines)
    finally:
        if proc.poll() is None:  # interrupted: leave no pip behind
            proc.kill()
            proc.wait()


def ensure_node(progress: Progress = _say) -> str:
    tag = node_tag()
    if runtime.image_exists(tag):
        return tag
    base = ensure_base(progress)
    wheels = wheelhouse(progress)
    progress(f"building {tag} FROM {base}")
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="hnblab-ctx-") as tmp:
        ctx = Path(tmp)
        shutil.copy(RECIPES / "node.Dockerfile", ctx / "Dockerfile")
        shutil.copytree(wheels, ctx / "wheelhouse")
        (ctx / "requirements.txt").write_text("\n".join(requirements()) + "\n")
        runtime.build_image(ctx, tag, {"BASE": base},
                            lambda line: progress(f"  {time.monotonic() - t0:5.0f}s {line}"))
    progress(f"{tag} ready in {time.monotonic() - t0:.0f}s")
    return tag


def list_images() -> list[tuple[str, str, bool]]:
    """(tag, what, current) for every hnblab image the engine holds."""
    current = {base_tag(), node_tag()}
    return [(t, "base" if t.startswith("hnblab/base") else "node", t in current)
            for t in runtime.image_tags("hnblab/")]
