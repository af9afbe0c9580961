"""The HNB-GW stub over real sockets on 127.0.0.1: accept, reject, bad input, the node."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import struct
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lab.evidence.events import EventLog, read_events
from lab.hnbap import (
    MAX_PDU,
    PPID_HNBAP,
    IuhConnection,
    RegisterAccept,
    RegisterReject,
    RegisterRequest,
    decode,
    encode,
    open_iuh_connection,
    recv_pdu,
    register,
    send_pdu,
    transport_kind,
)
from lab.nodes.hnbgw.server import HnbGateway, Policy, SettingsError

REPO = Path(__file__).resolve().parents[2]
KNOWN = RegisterRequest("1000295-SER123@femto.example", "00101", 0x1234567, 1, 2, 3)
UNKNOWN = RegisterRequest("1ABCDEF-EVIL@elsewhere.example", "00101", 1, 1, 1, 1)
BY_PLMN = RegisterRequest("1ABCDEF-ROAM@elsewhere.example", "26201", 1, 1, 1, 1)


@pytest.fixture
async def gw() -> AsyncIterator[HnbGateway]:
    g = HnbGateway(Policy(rnc_id=100, allowed=["1000295-*@FEMTO.example", "26201"]),
                   EventLog("hnbgw"))
    await g.start("127.0.0.1", 0)
    try:
        yield g
    finally:
        await g.close()


async def test_known_hnb_is_accepted_with_events(gw: HnbGateway) -> None:
    hnb_events = EventLog("hnb")
    got = await register("127.0.0.1", gw.port, KNOWN, hnb_events, peer="hnbgw")
    assert got == RegisterAccept(100)
    assert [(e.kind, e.fields["msg"]) for e in hnb_events.memory] == [
        ("hnbap.tx", "HNBRegisterRequest"), ("hnbap.rx", "HNBRegisterAccept")]
    assert hnb_events.memory[0].peer == "hnbgw"
    gw_ev = [e for e in gw.events.memory if e.kind.startswith("hnbap.")]
    assert [(e.kind, e.fields["dir"], e.fields["msg"]) for e in gw_ev] == [
        ("hnbap.rx", "in", "HNBRegisterRequest"), ("hnbap.tx", "out", "HNBRegisterAccept")]
    for e in [*gw_ev, *hnb_events.memory]:
        assert e.fields["identity"] == KNOWN.identity
        assert e.fields["transport"] == transport_kind()
    # the HNB-GW's event shows the IEs it received, the answer's shows the RNC-ID
    rx = gw_ev[0].fields
    assert (rx["plmn"], rx["cell_id"], rx["lac"], rx["rac"], rx["sac"], rx["csg_id"]) == (
        "00101", 0x1234567, 1, 2, 3, None)
    assert gw_ev[1].fields["rnc_id"] == 100


async def test_unknown_hnb_is_rejected(gw: HnbGateway) -> None:
    assert await register("127.0.0.1", gw.port, UNKNOWN) == RegisterReject("unauthorised-HNB")
    assert gw.registered == {}


async def test_allowed_plmn_admits_any_identity(gw: HnbGateway) -> None:
    assert await register("127.0.0.1", gw.port, BY_PLMN) == RegisterAccept(100)


async def test_registered_while_connected(gw: HnbGateway) -> None:
    async with await IuhConnection.open("127.0.0.1", gw.port) as conn:
        assert await conn.register(KNOWN) == RegisterAccept(100)
        assert KNOWN.identity in gw.registered
    for _ in range(500):  # the server notices the close asynchronously
        if KNOWN.identity not in gw.registered:
            break
        await asyncio.sleep(0.01)
    assert KNOWN.identity not in gw.registered


async def test_garbage_gets_protocol_reject_and_server_keeps_serving(gw: HnbGateway) -> None:
    reader, writer = await open_iuh_connection("127.0.0.1", gw.port)
    try:
        await send_pdu(writer, PPID_HNBAP, b"\xde\xad\xbe\xef garbage")
        got = await recv_pdu(reader)
        assert got is not None and got[0] == PPID_HNBAP
        assert decode(got[1]) == RegisterReject("transfer-syntax-error")
        # The same connection still works after a malformed PDU.
        await send_pdu(writer, PPID_HNBAP, encode(KNOWN))
        got = await recv_pdu(reader)
        assert got is not None and decode(got[1]) == RegisterAccept(100)
    finally:
        writer.close()
    malformed = [e for e in gw.events.memory if e.fields.get("msg") == "malformed"]
    assert malformed and malformed[0].fields["cause"] == "transfer-syntax-error"
    # ... and so does a new one.
    assert await register("127.0.0.1", gw.port, KNOWN) == RegisterAccept(100)


async def test_hnb_sending_an_accept_is_answered_with_protocol_reject(gw: HnbGateway) -> None:
    reader, writer = await open_iuh_connection("127.0.0.1", gw.port)
    try:
        await send_pdu(writer, PPID_HNBAP, encode(RegisterAccept(1)))
        got = await recv_pdu(reader)
        assert got is not None
        assert decode(got[1]) == RegisterReject("message-not-compatible-with-receiver-state")
    finally:
        writer.close()


async def test_broken_frame_closes_only_that_connection(gw: HnbGateway) -> None:
    reader, writer = await open_iuh_connection("127.0.0.1", gw.port)
    try:
        writer.write(struct.pack("!II", MAX_PDU + 1, PPID_HNBAP))
        await writer.drain()
        assert await recv_pdu(reader) is None  # the server hung up
    finally:
        writer.close()
    assert await register("127.0.0.1", gw.port, KNOWN) == RegisterAccept(100)


async def test_other_ppid_is_ignored(gw: HnbGateway) -> None:
    reader, writer = await open_iuh_connection("127.0.0.1", gw.port)
    try:
        await send_pdu(writer, 19, b"rua payload")
        await send_pdu(writer, PPID_HNBAP, encode(KNOWN))
        got = await recv_pdu(reader)
        assert got is not None and decode(got[1]) == RegisterAccept(100)
    finally:
        writer.close()
    assert any(e.kind == "iuh.ignored" and e.fields["ppid"] == 19 for e in gw.events.memory)


async def test_overload_rejects_with_backoff() -> None:
    g = HnbGateway(Policy(rnc_id=1, allowed=["*"], overload_backoff=60), EventLog("hnbgw"))
    await g.start("127.0.0.1", 0)
    try:
        assert await register("127.0.0.1", g.port, KNOWN) == RegisterReject("overload", 60)
    finally:
        await g.close()


@pytest.mark.parametrize("settings, what", [
    ({"allowed": "*"}, "settings.rnc_id"),
    ({"rnc_id": 70000, "allowed": "*"}, "settings.rnc_id"),
    ({"rnc_id": 1}, "settings.allowed: missing"),
    ({"rnc_id": 1, "allowed": [1, 2]}, "settings.allowed"),
    ({"rnc_id": 1, "allowed": "*", "overload_backoff": -1}, "settings.overload_backoff"),
])
def test_bad_settings(settings: dict, what: str) -> None:
    with pytest.raises(SettingsError, match=what):
        Policy.from_settings(settings)


def test_policy_star_and_list() -> None:
    assert Policy.from_settings({"rnc_id": 5, "allowed": "*"}).admits(UNKNOWN)
    p = Policy.from_settings({"rnc_id": 5, "allowed": [KNOWN.identity]})
    assert p.admits(KNOWN) and not p.admits(UNKNOWN)


# -- the node process ---------------------------------------------------------------------

def _node_config(tmp: Path, settings: dict) -> Path:
    cfg = {"node": "hnbgw", "role": "hnbgw", "lab": "unit", "run_dir": str(tmp),
           "events": str(tmp / "events" / "hnbgw.jsonl"), "addresses": {},
           "settings": settings}
    path = tmp / "hnbgw.json"
    path.write_text(json.dumps(cfg))
    return path


def _start(cfg: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-m", "lab.nodes.hnbgw", "--config", str(cfg)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


async def test_node_main_serves_until_sigterm(tmp_path: Path) -> None:
    cfg = _node_config(tmp_path, {"rnc_id": 77, "allowed": ["1000295-*@femto.example"],
                                  "listen": "127.0.0.1", "port": 0})
    proc = _start(cfg)
    try:
        ready = None
        for _ in range(1000):  # wait for node.ready (bounded, not a timing assertion)
            ready = next((e for e in read_events([tmp_path / "events" / "hnbgw.jsonl"])
                          if e.kind == "node.ready"), None)
            if ready or proc.poll() is not None:
                break
            await asyncio.sleep(0.02)
        assert ready is not None, proc.stderr.read().decode() if proc.poll() is not None else ""
        assert ready.fields["transport"] == transport_kind()
        port = ready.fields["port"]
        assert await register("127.0.0.1", port, KNOWN) == RegisterAccept(77)
        assert await register("127.0.0.1", port, UNKNOWN) == RegisterReject("unauthorised-HNB")
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
    kinds = [e.fields.get("msg") for e in read_events([tmp_path / "events" / "hnbgw.jsonl"])
             if e.kind.startswith("hnbap.")]
    assert kinds == ["HNBRegisterRequest", "HNBRegisterAccept",
                     "HNBRegisterRequest", "HNBRegisterReject"]


def test_node_main_bad_settings_exit_with_message(tmp_path: Path) -> None:
    cfg = _node_config(tmp_path, {"rnc_id": "one", "allowed": "*"})
    proc = subprocess.run([sys.executable, "-m", "lab.nodes.hnbgw", "--config", str(cfg)],
                          cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)),
                          capture_output=True, timeout=60)
    assert proc.returncode != 0
    assert b"settings.rnc_id='one'" in proc.stderr
