"""The CLI's failure contract: a non-zero exit and one line naming the reason, never a
traceback, whatever layer the error comes from."""

from __future__ import annotations

import argparse
import errno

import docker.errors
import pytest

from lab import cli, pki, runtime


def run_failing(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                exc: BaseException) -> tuple[int, str]:
    def boom(args: argparse.Namespace) -> int:
        raise exc

    monkeypatch.setattr(cli, "cmd_status", boom)
    code = cli.main(["status"])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(("exc", "line"), [
    (pki.PkiError("runs/x/pki/ca.key: missing while its pair exists; remove both"),
     "hnblab status: runs/x/pki/ca.key: missing while its pair exists; remove both"),
    (docker.errors.DockerException("Error while fetching server API version:\n  refused"),
     "hnblab status: Docker: Error while fetching server API version: refused"),
    (docker.errors.NotFound("404 Client Error", explanation="No such container: lab-hnb1"),
     "hnblab status: the Docker engine refused: No such container: lab-hnb1"),
    (PermissionError(errno.EACCES, "Permission denied", "/work/runs/x"),
     "hnblab status: Permission denied: /work/runs/x"),
    (OSError("disk on fire"), "hnblab status: disk on fire"),
    (runtime.RuntimeError_("no lab is running"), "hnblab status: no lab is running"),
])
def test_errors_below_the_lab_are_one_line(monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str],
                                           exc: BaseException, line: str) -> None:
    code, err = run_failing(monkeypatch, capsys, exc)
    assert code == 1
    assert err == line + "\n"
    assert "Traceback" not in err


def test_down_by_name_finds_a_lab_with_only_networks_left(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`down --name X` asks for labs with leftovers, not only running containers."""
    downed: list[str] = []
    asked: list[str] = []
    monkeypatch.setattr(runtime, "running_labs", lambda: {})
    monkeypatch.setattr(runtime, "all_labs", lambda: asked.append("all") or {"x": "/runs/x-1"})
    monkeypatch.setattr(runtime, "down", lambda lab: downed.append(lab) or ["x-mno"])
    assert cli.main(["down", "--name", "x"]) == 0
    assert downed == ["x"]
    assert asked == ["all"]   # Docker is asked for the labs once
    assert "lab x removed (1 objects); logs and pcaps kept in /runs/x-1" in \
        capsys.readouterr().out
    # and with no --name, the only lab left over is the one
    assert cli.main(["down"]) == 0 and downed == ["x", "x"]


def test_down_of_an_unknown_lab_says_which_exist(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(runtime, "all_labs", lambda: {"a": "", "b": ""})
    assert cli.main(["down", "--name", "x"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("hnblab down: no lab named 'x' is running (running: a, b)")
    assert err.count("\n") == 1
