"""Node images without a registry.

Two layers, each tagged by a hash of what it is made of, so only a change of recipe or
dependency rebuilds and a code change costs nothing (the code is bind-mounted at run time):

  hnblab/base:<hash of images/base.packages>
      a local image if present; else a pull of debian:bookworm where a registry answers;
      else `debootstrap --variant=minbase --include=<packages>` from the host's Debian
      mirror, then `tar | docker import` (platform.md: about a minute here).
  hnblab/node:<hash of base tag, images/node.Dockerfile, requirements>
      FROM base, a venv at /opt/venv filled offline from a wheelhouse built on the host.

Only lab.runtime talks to the Docker engine; this module asks it through that driver.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

from lab import runtime

ROOT = Path(__file__).resolve().parent.parent
RECIPES = ROOT / "images"
BUILD = ROOT / "build"
SUITE = "bookworm"
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


def ensure_base(progress: Progress = _say) -> str:
    tag = base_tag()
    if runtime.image_exists(tag):
        return tag
    progress(f"{tag} missing: trying a pull of debian:{SUITE}")
    if runtime.try_pull(f"debian:{SUITE}"):
        raise ImageError(  # A pulled Debian still needs the packages: say so plainly.
            "a registry answered; building FROM a pulled debian is not implemented, "
            "remove the pulled image or add the recipe")
    if not shutil.which("debootstrap"):
        raise ImageError("no registry and no debootstrap on this host: "
                         "install it (apt-get install debootstrap) and run again")
    mirror = debian_mirror()
    pkgs = base_packages()
    progress(f"no registry: debootstrap {SUITE} from {mirror} with {len(pkgs)} packages "
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
    return tag


def wheelhouse(progress: Progress = _say) -> Path:
    """Wheels of every runtime dependency, built on the host (same CPython 3.11 ABI as
    bookworm's python3), cached by the requirements' hash."""
    reqs = requirements()
    target = BUILD / f"wheelhouse-{_digest(*reqs)}"
    if (target / ".complete").exists():
        return target
    progress(f"building the wheelhouse for {len(reqs)} requirements")
    tmp = target.with_suffix(".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir",
                          str(tmp), *reqs], capture_output=True, text=True)
    if res.returncode != 0:
        raise ImageError(f"pip wheel failed:\n{res.stderr[-2000:]}")
    (tmp / ".complete").touch()
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target


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
