"""`python -m lab.nodes.hms --config FILE`: the node process as the runtime starts it."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import signal
import sys
from pathlib import Path

from lab.evidence.events import read_events
from lab.nodes.common import SecondCachedFormatter
from tests.unit.test_hms_support import Cpe, base_settings

ROOT = Path(__file__).resolve().parents[2]


async def _spawn(tmp_path: Path, settings: dict) -> tuple[asyncio.subprocess.Process, Path]:
    events = tmp_path / "events" / "hms-serving.jsonl"
    cfg = tmp_path / "hms.json"
    cfg.write_text(json.dumps({"node": "hms-serving", "role": "hms", "run_dir": str(tmp_path),
                               "events": str(events), "settings": settings}))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "lab.nodes.hms", "--config", str(cfg), cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    return proc, events


async def test_node_process_ready_serves_and_stops(tmp_path: Path) -> None:
    settings = base_settings(tmp_path, files={"ftp_port": 0, "sftp_port": 0})
    proc, events = await _spawn(tmp_path, settings)
    try:
        ready = None
        for _ in range(300):  # wait for the ready line (the process may be slow to import)
            evs = [e for e in read_events([events]) if e.kind == "node.ready"]
            if evs:
                ready = evs[0]
                break
            if proc.returncode is not None:
                break
            await asyncio.sleep(0.05)
        assert ready is not None, (await proc.stderr.read()).decode()
        ports = ready.fields["ports"]
        assert set(ports) == {"cwmp", "api", "files_http", "ftp", "sftp"}
        async with Cpe(ready.fields["urls"]["cwmp"]) as cpe:
            assert await cpe.session(["1 BOOT"]) == []
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        rc = await asyncio.wait_for(proc.wait(), 20)
    assert rc == 0
    kinds = [e.kind for e in read_events([events])]
    assert "cwmp.rx" in kinds and "hms.session.end" in kinds
    assert (tmp_path / "hms-state" / "hms.sqlite3").exists()
    # the node's log (what an engineer tails) has a line for each CWMP message
    log = (await proc.stderr.read()).decode()
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} hms-serving lab\.evidence\.events INFO "
    for line in ("cwmp.rx Inform 1 BOOT", "cwmp.tx InformResponse", "cwmp.rx empty",
                 "cwmp.tx empty (204: session end)"):
        assert re.search(f"^{stamp}{re.escape(line)} <-> 127.0.0.1$", log, re.M), (line, log)


def test_log_lines_are_logging_formatter_lines() -> None:
    fmt = "%(asctime)s hms %(name)s %(levelname)s %(message)s"
    plain, cached = logging.Formatter(fmt), SecondCachedFormatter(fmt)
    t0 = 1_796_300_000.0
    for i in range(600):  # across second boundaries, and back in time (a clock step)
        rec = logging.makeLogRecord({"name": "lab.evidence.events", "levelname": "INFO",
                                     "msg": "cwmp.rx %s", "args": (i,)})
        rec.created = t0 + (i * 0.0137 if i < 500 else -i * 0.3)
        rec.msecs = (rec.created - int(rec.created)) * 1000
        assert cached.format(rec) == plain.format(rec)
    custom = SecondCachedFormatter(fmt, datefmt="%H:%M")  # a datefmt is used as given
    assert custom.format(rec) == logging.Formatter(fmt, datefmt="%H:%M").format(rec)


async def test_node_process_bad_settings_exit_2(tmp_path: Path) -> None:
    settings = base_settings(tmp_path, role="boss")
    proc, _ = await _spawn(tmp_path, settings)
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 2
    assert b"bad settings: settings.role: 'boss'" in err
