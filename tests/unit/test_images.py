"""Image recipes without Docker: where the base comes from, and a wheelhouse for the node's
Python whatever the host's is. The Docker calls are replaced at the edge (lab.runtime)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lab import images, runtime
from lab.images import BaseProbes, ImageError


class Probes:
    """Records which probes base_source asked, answering from `answers`."""

    def __init__(self, **answers: bool) -> None:
        self.asked: list[str] = []
        self.answers = answers

    def probe(self, name: str) -> bool:
        self.asked.append(name)
        return self.answers.get(name, False)

    def make(self) -> BaseProbes:
        return BaseProbes(*(lambda n=n: self.probe(n) for n in
                            ("base", "debian", "pull", "debootstrap")))


@pytest.mark.parametrize(("answers", "source", "asked"), [
    ({"base": True, "debian": True}, "local", ["base"]),
    ({"debian": True, "pull": True}, "debian", ["base", "debian"]),  # no pull when local
    ({"pull": True, "debootstrap": True}, "debian", ["base", "debian", "pull"]),
    ({"debootstrap": True}, "debootstrap", ["base", "debian", "pull", "debootstrap"]),
])
def test_base_source_order(answers: dict[str, bool], source: str, asked: list[str]) -> None:
    p = Probes(**answers)
    assert images.base_source(p.make()) == source
    assert p.asked == asked


def test_no_base_source_says_what_was_tried() -> None:
    with pytest.raises(ImageError, match=r"no debian:bookworm.*no registry.*no debootstrap"):
        images.base_source(Probes().make())


def test_base_from_a_local_debian_installs_the_debootstrap_packages(
        monkeypatch: pytest.MonkeyPatch) -> None:
    have = {"debian:bookworm"}
    builds: list[tuple[str, dict[str, str], str, str]] = []
    monkeypatch.setattr(runtime, "image_exists", lambda tag: tag in have)
    monkeypatch.setattr(runtime, "try_pull", lambda *a: pytest.fail("pulled with a local image"))

    def build(ctx: Path, tag: str, args: dict[str, str], progress: object,
              layer: str = "node") -> None:
        builds.append((tag, args, (ctx / "Dockerfile").read_text(), layer))
        have.add(tag)

    monkeypatch.setattr(runtime, "build_image", build)
    tag = images.ensure_base(progress=lambda s: None)
    assert tag == images.base_tag()
    [(built, args, dockerfile, layer)] = builds
    assert built == tag and layer == "base"
    assert args["DEBIAN"] == "debian:bookworm"
    assert args["PACKAGES"].split() == images.base_packages()
    assert "FROM ${DEBIAN}" in dockerfile
    assert re.search(r"apt-get install -y --no-install-recommends \$\{PACKAGES\}", dockerfile)
    # a second call finds the base it made
    assert images.ensure_base(progress=lambda s: None) == tag and len(builds) == 1


def test_failed_pull_falls_back_to_debootstrap(monkeypatch: pytest.MonkeyPatch) -> None:
    said: list[str] = []
    made: list[str] = []
    monkeypatch.setattr(runtime, "image_exists", lambda tag: False)
    monkeypatch.setattr(runtime, "try_pull", lambda ref, progress: (False, "no such host"))
    monkeypatch.setattr(images.shutil, "which", lambda name: "/usr/sbin/debootstrap")
    monkeypatch.setattr(images, "_base_from_debootstrap", lambda tag, progress: made.append(tag))
    images.ensure_base(progress=said.append)
    assert made == [images.base_tag()]
    assert any("no pull (no such host)" in s for s in said)


def test_base_tag_is_the_package_list() -> None:
    # Both recipes give one image: the tag hashes what is in it, not how it was made.
    assert images.base_tag() == f"hnblab/base:{images._digest('bookworm', *images.base_packages())}"


@pytest.mark.parametrize(("wheel", "fits"), [
    ("pyyaml-6.0.4-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl", True),
    ("pyyaml-6.0.4-cp312-cp312-manylinux2014_x86_64.manylinux_2_17_x86_64.whl", False),
    ("cryptography-50.0.2-cp311-abi3-manylinux_2_34_x86_64.whl", True),
    ("cryptography-44.0.0-cp37-abi3-manylinux_2_28_x86_64.whl", True),
    ("x-1.0-cp312-abi3-manylinux_2_28_x86_64.whl", False),      # stable ABI of a newer 3.x
    ("x-1.0-cp311-cp311-manylinux_2_38_x86_64.whl", False),     # newer glibc than bookworm
    ("x-1.0-cp311-cp311-musllinux_1_2_x86_64.whl", False),
    ("x-1.0-cp311-cp311-manylinux2014_aarch64.whl", False),
    ("x-1.0-cp311-cp311-win_amd64.whl", False),
    ("pycrate-0.8.1-py2.py3-none-any.whl", True),
    ("dnslib-0.9.26-py3-none-any.whl", True),
    ("x-1.0-py312-none-any.whl", False),
    ("x-1.0-1build-py3-none-any.whl", True),                     # with a build tag
    ("not-a-wheel.whl", False),
])
def test_wheel_fits_the_node_python(wheel: str, fits: bool) -> None:
    assert images.wheel_fits(wheel, arch="x86_64") is fits


def test_download_targets_the_node_python_not_the_host() -> None:
    cmd = images._download_cmd(["pyyaml>=6"], Path("/d"), Path("/l"))
    assert cmd[cmd.index("--python-version") + 1] == "3.11"
    assert "--only-binary=:all:" in cmd and cmd[cmd.index("--implementation") + 1] == "cp"
    plats = [cmd[i + 1] for i, a in enumerate(cmd) if a == "--platform"]
    assert "manylinux2014_" + images.platform.machine() in plats
    assert f"manylinux_2_36_{images.platform.machine()}" in plats
    assert f"manylinux_2_37_{images.platform.machine()}" not in plats
    assert cmd[-1] == "pyyaml>=6"


def test_wheelhouse_builds_a_pure_sdist_on_the_host(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    """A dependency with only an sdist: built on the host, then pip is asked again with it
    in --find-links, and the wheelhouse has both kinds of wheel."""
    monkeypatch.setattr(images, "BUILD", tmp_path)
    monkeypatch.setattr(images, "requirements", lambda: ["pyyaml>=6", "pyftpdlib>=1.5.9"])
    calls: list[list[str]] = []

    def pip(cmd: list[str], progress: object, t0: float) -> tuple[bool, str]:
        calls.append(cmd)
        if cmd[3] == "wheel":
            Path(cmd[cmd.index("--wheel-dir") + 1], "pyftpdlib-2.2.0-py3-none-any.whl").touch()
            return True, ""
        links = Path(cmd[cmd.index("--find-links") + 1])
        if not list(links.glob("pyftpdlib-*")):
            return False, "ERROR: No matching distribution found for pyftpdlib>=1.5.9"
        dest = Path(cmd[cmd.index("--dest") + 1])
        (dest / "PyYAML-6.0.4-cp311-cp311-manylinux2014_x86_64.whl").touch()
        return True, ""

    monkeypatch.setattr(images, "_run_pip", pip)
    monkeypatch.setattr(images.platform, "machine", lambda: "x86_64")
    house = images.wheelhouse(progress=lambda s: None)
    assert sorted(p.name for p in house.glob("*.whl")) == [
        "PyYAML-6.0.4-cp311-cp311-manylinux2014_x86_64.whl", "pyftpdlib-2.2.0-py3-none-any.whl"]
    assert [c[3] for c in calls] == ["download", "wheel", "download"]
    assert calls[1][-1] == "pyftpdlib>=1.5.9"
    # cached: no pip at all the second time
    calls.clear()
    assert images.wheelhouse(progress=lambda s: None) == house and calls == []


def test_wheelhouse_refuses_a_binary_sdist_built_for_another_python(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(images, "BUILD", tmp_path)
    monkeypatch.setattr(images, "requirements", lambda: ["fastthing>=1"])

    def pip(cmd: list[str], progress: object, t0: float) -> tuple[bool, str]:
        if cmd[3] == "wheel":
            Path(cmd[cmd.index("--wheel-dir") + 1],
                 "fastthing-1.0-cp312-cp312-linux_x86_64.whl").touch()
            return True, ""
        return False, "ERROR: No matching distribution found for fastthing>=1"

    monkeypatch.setattr(images, "_run_pip", pip)
    monkeypatch.setattr(images.sys, "version_info", (3, 12, 0))
    with pytest.raises(ImageError) as ei:
        images.wheelhouse(progress=lambda s: None)
    msg = str(ei.value)
    assert "fastthing>=1 has no binary wheel for CPython 3.11" in msg
    assert "cp312" in msg and "host's Python 3.12" in msg


def test_a_cached_wheelhouse_with_wheels_the_node_cannot_use_is_rebuilt(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(images, "BUILD", tmp_path)
    monkeypatch.setattr(images, "requirements", lambda: ["pyyaml>=6"])
    monkeypatch.setattr(images.platform, "machine", lambda: "x86_64")
    old = tmp_path / f"wheelhouse-{images._digest('pyyaml>=6')}"
    old.mkdir()
    (old / "PyYAML-6.0.4-cp312-cp312-manylinux2014_x86_64.whl").touch()  # a 3.12 host's
    (old / ".complete").touch()

    def pip(cmd: list[str], progress: object, t0: float) -> tuple[bool, str]:
        Path(cmd[cmd.index("--dest") + 1], "PyYAML-6.0.4-cp311-cp311-manylinux2014_x86_64.whl"
             ).touch()
        return True, ""

    monkeypatch.setattr(images, "_run_pip", pip)
    said: list[str] = []
    house = images.wheelhouse(progress=said.append)
    assert [p.name for p in house.glob("*.whl")] == [
        "PyYAML-6.0.4-cp311-cp311-manylinux2014_x86_64.whl"]
    assert any("cannot install" in s for s in said)

