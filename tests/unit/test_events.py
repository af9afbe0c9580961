"""The event record: writing, reading a run's events, following them incrementally, and
nodes closing their events file when they stop."""

from __future__ import annotations

import json
import os
from pathlib import Path

from lab.evidence.events import EventLog, EventTail, read_run_events
from lab.nodes.common import NodeConfig
from lab.nodes.hms.server import start_hms
from lab.nodes.hnb.node import HnbNode
from tests.unit.test_hms_support import base_settings, node_config


def _log(run: Path, node: str) -> EventLog:
    return EventLog(node, run / "events" / f"{node}.jsonl")


def test_events_round_trip_and_torn_line_is_skipped(tmp_path: Path) -> None:
    a, b = _log(tmp_path, "a"), _log(tmp_path, "b")
    a.emit("x.one", "first", peer="b", n=1)
    b.emit("x.two", "second")
    a.close()
    b.close()
    with (tmp_path / "events" / "a.jsonl").open("a") as f:
        f.write('{"time": 1, "node": "a", "ki')  # a node killed mid-write
    evs = read_run_events(tmp_path)
    assert [(e.node, e.kind, e.peer, e.fields) for e in evs] == [
        ("a", "x.one", "b", {"n": 1}), ("b", "x.two", None, {})]


def test_tail_reads_only_what_comes_after_it_starts(tmp_path: Path) -> None:
    a = _log(tmp_path, "a")
    a.emit("old.event", "before the tail")
    tail = EventTail(tmp_path)
    assert tail.poll() == []
    a.emit("new.event", "after")
    assert [e.kind for e in tail.poll()] == ["new.event"]
    assert tail.poll() == []  # nothing is read twice
    c = _log(tmp_path, "c")  # a file that appears later is followed from its start
    c.emit("c.event", "late node")
    a.emit("newer.event", "again")
    assert [e.kind for e in tail.poll()] == ["c.event", "newer.event"]
    assert [e.kind for e in tail.events] == ["new.event", "c.event", "newer.event"]


def test_tail_waits_for_a_line_to_be_whole(tmp_path: Path) -> None:
    path = tmp_path / "events" / "n.jsonl"
    path.parent.mkdir()
    path.write_text('{"time": 5, "node": "n", "kind": "a.b", "summary": "done"}\n'
                    '{"time": 6, "node": "n", "ki')  # torn: the tail starts before it
    tail = EventTail(tmp_path)
    line = json.dumps({"time": 7, "node": "n", "kind": "c.d", "summary": "s"})
    with path.open("a") as f:
        f.write('nd": "x.y", "summary": "late"}\n' + line[:10])
    assert [e.kind for e in tail.poll()] == ["x.y"]
    with path.open("a") as f:
        f.write(line[10:] + "\n")
    assert [e.kind for e in tail.poll()] == ["c.d"]


def test_tail_skips_a_malformed_line_and_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "events" / "n.jsonl"
    path.parent.mkdir()
    path.write_text("")
    tail = EventTail(tmp_path)
    path.write_text('not json\n{"time": 1, "node": "n", "kind": "k.k", "summary": ""}\n')
    assert [e.kind for e in tail.poll()] == ["k.k"]


def test_tail_keeps_time_order_across_nodes(tmp_path: Path) -> None:
    tail = EventTail(tmp_path / "none")  # no events directory yet
    d = tmp_path / "none" / "events"
    d.mkdir(parents=True)
    (d / "b.jsonl").write_text('{"time": 3, "node": "b", "kind": "k.b", "summary": ""}\n')
    tail.poll()
    (d / "a.jsonl").write_text('{"time": 2, "node": "a", "kind": "k.a", "summary": ""}\n')
    tail.poll()
    assert [e.time for e in tail.events] == [2.0, 3.0]


def test_fields_holding_dataclasses_and_odd_values_serialise(tmp_path: Path) -> None:
    from dataclasses import dataclass

    @dataclass
    class Param:
        name: str
        value: int

    a = _log(tmp_path, "a")
    a.emit("x.y", "s", params=[Param("Device.X", 1)], where=tmp_path / "f")
    a.close()
    (e,) = read_run_events(tmp_path)
    assert e.fields == {"params": [{"name": "Device.X", "value": 1}],
                        "where": str(tmp_path / "f")}


# ---- a node's stop closes its events file ------------------------------------------------


def _open_fds(path: Path) -> int:
    """How many of this process's file descriptors are open on `path` (Linux /proc)."""
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == str(path):
                n += 1
        except OSError:  # closed meanwhile (the listing's own fd)
            continue
    return n


def test_close_releases_the_file_and_later_events_stay_in_memory(tmp_path: Path) -> None:
    a = _log(tmp_path, "a")
    path = tmp_path / "events" / "a.jsonl"
    assert _open_fds(path) == 1
    a.close()
    assert _open_fds(path) == 0
    a.emit("late.event", "after close")  # a stop's last words: not lost, not written
    a.close()  # twice is fine
    assert [e.kind for e in a.memory] == ["late.event"] and path.read_text() == ""


async def test_hms_stop_closes_its_events_file(tmp_path: Path) -> None:
    path = tmp_path / "events" / "hms.jsonl"
    for _ in range(2):  # stopped and started again on one file: one writer at a time
        h = await start_hms(node_config(tmp_path, base_settings(tmp_path)))
        assert _open_fds(path) == 1
        await h.stop()
        assert _open_fds(path) == 0
    assert [e.kind for e in read_run_events(tmp_path)].count("node.ready") == 2


async def test_hnb_node_stop_closes_its_events_file(tmp_path: Path) -> None:
    path = tmp_path / "events" / "hnb1.jsonl"
    node = HnbNode(NodeConfig.from_dict({
        "node": "hnb1", "role": "hnb", "run_dir": str(tmp_path), "events": str(path),
        "identity": "100D0B2-HNB0001@hnb.lab", "settings": {"serial": "HNB0001"}}))
    node.events.emit("x.y", "written while running")
    assert _open_fds(path) == 1
    await node.stop()  # never started (no charon here): stop still lets go of the file
    assert _open_fds(path) == 0
    assert [e.kind for e in read_run_events(tmp_path)] == ["x.y"]
