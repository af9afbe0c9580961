"""charon.Charon.watch: a charon that exits on its own is reported (the SeGW node turns
this into "segw.charon_exited" and a non-zero exit); one stopped by the node is not.
A short-lived real process stands in for charon (no strongSwan on the unit-test host)."""

from __future__ import annotations

import subprocess
import sys
import threading

from lab.nodes import charon


def _daemon(code: str) -> charon.Charon:
    d = charon.Charon()
    d.proc = subprocess.Popen([sys.executable, "-c", code])
    return d


def test_an_exit_on_its_own_is_reported_with_the_code() -> None:
    d = _daemon("import sys; sys.exit(3)")
    got: list[int] = []
    done = threading.Event()
    d.watch(lambda rc: (got.append(rc), done.set()))
    assert done.wait(30)
    assert got == [3]


def test_stop_is_not_an_exit_to_report() -> None:
    d = _daemon("import time; time.sleep(60)")
    got: list[int] = []
    t = d.watch(got.append)
    d.stop()
    t.join(30)
    assert not t.is_alive() and got == []
