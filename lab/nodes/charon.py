"""Starting strongSwan's charon with kernel-libipsec and talking to it over VICI.

Shared by the SeGW (responder) and the HNB (initiator): both run their own charon in
their container. This kernel has no ESP (platform.md), so ESP runs in userspace over a
TUN device (kernel-libipsec, always UDP-encapsulated on 4500). Nothing is configured
through swanctl.conf: every credential, connection and pool goes in over VICI.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import vici

log = logging.getLogger(__name__)

CHARON = "/usr/lib/ipsec/charon"
VICI_SOCKET = "/var/run/charon.vici"
STRONGSWAN_CONF = "/etc/strongswan.conf"


def strongswan_conf(resolve_file: str | None = None) -> str:
    resolve = (f"    resolve {{\n      file = {resolve_file}\n    }}\n" if resolve_file else "")
    return (
        "charon {\n"
        "  install_virtual_ip = yes\n"
        "  retransmit_tries = 2\n"
        "  retransmit_timeout = 1.0\n"
        "  retransmit_base = 1.4\n"
        "  filelog {\n    stderr {\n      default = 1\n      ike = 1\n      cfg = 1\n"
        "      time_format = %H:%M:%S\n    }\n  }\n"
        "  plugins {\n"
        "    kernel-libipsec {\n      load = yes\n    }\n"
        # bypass-lan turns the local subnets into passthrough policies, which
        # kernel-libipsec realises as routes into ipsec0: the LAN would go dark.
        "    bypass-lan {\n      load = no\n    }\n"
        f"{resolve}"
        "  }\n"
        "}\n"
    )


class Charon:
    """A charon daemon owned by this process."""

    def __init__(self, resolve_file: str | None = None) -> None:
        self.resolve_file = resolve_file
        self.proc: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()

    def start(self, timeout: float = 15.0) -> None:
        Path(STRONGSWAN_CONF).write_text(strongswan_conf(self.resolve_file))
        with contextlib.suppress(FileNotFoundError):
            os.unlink(VICI_SOCKET)
        # charon's log goes to our stderr, i.e. the container log.
        self.proc = subprocess.Popen([CHARON], stdout=None, stderr=None)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"charon exited with code {self.proc.returncode} at start")
            try:
                session().version()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"charon's VICI socket {VICI_SOCKET} did not answer in {timeout}s")

    def watch(self, on_exit: Callable[[int], None]) -> threading.Thread:
        """Call on_exit(returncode) from a thread if charon exits without stop(): a node
        whose charon died is no longer what its node.ready said."""
        proc = self.proc
        if proc is None:
            raise RuntimeError("charon is not started")

        def run() -> None:
            rc = proc.wait()
            if not self._stopping.is_set():
                on_exit(rc)

        t = threading.Thread(target=run, name="charon-watch", daemon=True)
        t.start()
        return t

    def stop(self) -> None:
        self._stopping.set()
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def session() -> vici.Session:
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(VICI_SOCKET)
    return vici.Session(sock)


def load_credentials(s: vici.Session, ca: Path, cert: Path, key: Path) -> None:
    s.load_cert({"type": "X509", "flag": "CA", "data": ca.read_bytes()})
    s.load_cert({"type": "X509", "flag": "NONE", "data": cert.read_bytes()})
    s.load_key({"type": "any", "data": key.read_bytes()})


def decode(obj: Any) -> Any:
    """VICI answers carry bytes; turn them into str recursively."""
    if isinstance(obj, bytes):
        return obj.decode(errors="replace")
    if isinstance(obj, dict):
        return {decode(k): decode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [decode(v) for v in obj]
    return obj


def list_sas() -> list[dict[str, Any]]:
    """One dict per IKE SA: name, state, identities, addresses, virtual IPs, child SAs."""
    out = []
    for entry in session().list_sas():
        for name, sa in decode(entry).items():
            out.append({"conn": name, **sa})
    return out


def listen(kinds: list[str], handler: Callable[[str, dict[str, Any]], None],
           stop: threading.Event) -> threading.Thread:
    """Deliver VICI events (ike-updown, child-updown, log, ...) to handler in a thread."""

    def run() -> None:
        while not stop.is_set():
            try:
                for label, data in _events(kinds):
                    if stop.is_set():
                        return
                    handler(label, decode(data))
            except (OSError, vici.exception.SessionException) as exc:
                if stop.is_set():
                    return
                log.warning("VICI event stream broke (%s); reconnecting", exc)
                time.sleep(0.2)

    t = threading.Thread(target=run, name="vici-events", daemon=True)
    t.start()
    return t


def _events(kinds: list[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    for label, data in session().listen(kinds):
        yield (label.decode() if isinstance(label, bytes) else label), data
