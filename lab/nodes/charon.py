"""Starting strongSwan's charon with kernel-libipsec and talking to it over VICI.

Shared by the SeGW (responder) and the HNB (initiator): both run their own charon in
their container. This kernel has no ESP (platform.md), so ESP runs in userspace over a
TUN device (kernel-libipsec, always UDP-encapsulated on 4500). Nothing is configured
through swanctl.conf: every credential, connection and pool goes in over VICI.

Also shared: how one IKE attempt's charon log lines become the reason it failed (`explain`,
`complete`, `facts`), a mechanism each end runs with its own table of rules
(lab.nodes.segw.auth.segw_rules, lab.nodes.hnb.network.HNB_RULES).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
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


# ---- why an IKE attempt failed -------------------------------------------------------------
#
# A table of rules maps one attempt's log lines to reasons:
# - a rule's `kind` groups reasons: only the first reason of each kind is said, in the
#   order the lines came;
# - a `fact` rule says nothing itself: it remembers group 1 of the first line it matches
#   (the certificate received, the identity claimed) for the meanings of other rules, read
#   from all lines, so a fact logged after the failure still counts;
# - a `consequence` rule is said only when no other reason was found ("no trusted public
#   key" is what an unknown CA or an expired certificate ends in);
# - `needs` names the facts a cause's meaning uses: until they are known too, `complete`
#   says the lines may not tell the whole story yet (VICI log events can arrive late).

# A template (\1 = the line's groups) or a function of the match and the facts.
Meaning = str | Callable[[re.Match[str], Mapping[str, str]], str]


@dataclass(frozen=True)
class Rule:
    pattern: re.Pattern[str]
    kind: str
    meaning: Meaning = ""
    fact: bool = False
    consequence: bool = False
    needs: tuple[str, ...] = ()


def rule(pattern: str, kind: str, meaning: Meaning = "", *, fact: bool = False,
         consequence: bool = False, needs: tuple[str, ...] = ()) -> Rule:
    return Rule(re.compile(pattern), kind, meaning, fact, consequence, needs)


def facts(lines: Iterable[str], rules: Iterable[Rule]) -> dict[str, str]:
    """What the `fact` rules remember from `lines`: kind -> group 1 of its first match."""
    out: dict[str, str] = {}
    fact_rules = [r for r in rules if r.fact]
    for line in lines:
        for r in fact_rules:
            if r.kind not in out and (m := r.pattern.search(line)):
                out[r.kind] = m.group(1)
    return out


def _reasons(lines: list[str], rules: list[Rule]
             ) -> tuple[dict[str, str], dict[str, str], bool]:
    """(causes, consequences) by kind, and whether every cause has the facts it needs."""
    known = facts(lines, rules)
    causes: dict[str, str] = {}
    effects: dict[str, str] = {}
    whole = True
    said = [r for r in rules if not r.fact]
    for line in lines:
        for r in said:  # the first rule that matches a line explains it
            m = r.pattern.search(line)
            if m:
                text = r.meaning(m, known) if callable(r.meaning) else m.expand(r.meaning)
                (effects if r.consequence else causes).setdefault(r.kind, text)
                whole = whole and (r.consequence or all(f in known for f in r.needs))
                break
    return causes, effects, whole


def explain(lines: list[str], rules: list[Rule]) -> str | None:
    """The reasons `lines` give, "; "-joined; None when no line says why."""
    causes, effects, _ = _reasons(lines, rules)
    return "; ".join((causes or effects).values()) or None


def complete(lines: list[str], rules: list[Rule]) -> bool:
    """Whether `lines` give a cause (not only a consequence), with the facts it needs."""
    causes, _, whole = _reasons(lines, rules)
    return bool(causes) and whole
