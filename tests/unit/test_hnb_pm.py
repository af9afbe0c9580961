"""PM files (TS 32.435 measCollec) as the HNB writes them, and the periodic uploader
(TS 32.583 5.6). The reader's own checks, on hand-written files: test_hms_pmfiles."""

from __future__ import annotations

import asyncio
import random
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lab import pmfile
from lab.cwmp import rpc
from lab.datamodel import DataModel
from lab.evidence.events import EventLog
from lab.nodes.hnb import pm, transfers
from tests.unit.test_hnb_session import WAIT, FileServer

PMC = "Device.FAP.PerfMgmt.Config."


def test_file_name_and_roundtrip() -> None:
    begin = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    end = datetime(2026, 12, 3, 12, 15, tzinfo=UTC)
    assert pmfile.meas_file_name(begin, end, "HNB-00A0B1-0001") == \
        "A20261203.1200+0000-1215+0000_HNB-00A0B1-0001.xml"
    assert pmfile.meas_file_name(begin, end, "HNB 1", rc=2) == \
        "A20261203.1200+0000-1215+0000_HNB_1_-_2.xml"
    values = pmfile.sample_counters(random.Random(7))
    data = pmfile.build_meas_collec(begin, end, "HNB-00A0B1-0001", values, vendor="lab")
    got = pmfile.parse_meas_collec(data)
    assert got.sender == "HNB-00A0B1-0001" and got.vendor == "lab"
    assert got.begin_time == "2026-12-03T12:00:00+00:00"
    assert got.end_time == "2026-12-03T12:15:00+00:00"
    assert got.infos[0].gran_period_s == 900 and got.gran_period_s == 900
    assert got.infos[0].values["HNBFunction=1"]["RRC.AttConnEstab.Sum"] == \
        str(values["RRC.AttConnEstab.Sum"])
    assert got.counters() == values
    assert values["RRC.SuccConnEstab.Sum"] <= values["RRC.AttConnEstab.Sum"]
    assert values["RAB.AttEstabCS.Conv"] > 0
    assert b"http://www.3gpp.org/ftp/specs/archive/32_series/32.435#measCollec" in data


def test_writer_refuses_an_empty_period() -> None:
    t = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="is not after its begin"):
        pmfile.build_meas_collec(t, t, "S", {"X": 1})


def _model_with_pm(url: str, enable: bool = True, interval: int = 1) -> DataModel:
    model = DataModel.factory()
    n = model.add_object(PMC, "")
    model.set_values([
        rpc.ParameterValue(f"{PMC}{n}.Enable", "true" if enable else "false"),
        rpc.ParameterValue(f"{PMC}{n}.URL", url),
        rpc.ParameterValue(f"{PMC}{n}.Username", "pmuser"),
        rpc.ParameterValue(f"{PMC}{n}.Password", "pmpass"),
        rpc.ParameterValue(f"{PMC}{n}.PeriodicUploadInterval", str(interval)),
    ], "")
    return model


async def test_uploader_uploads_keeps_backlog_on_failure_and_stops_when_disabled(
        tmp_path: Path) -> None:
    fs = FileServer({"pmuser": "pmpass"})
    await fs.start()
    model = _model_with_pm(fs.base + "/pm/")
    events = EventLog("hnb")
    up = pm.PmUploader(model, lambda u, d, n, p: transfers.upload(u, d, n, p),
                       tmp_path / "backlog", events, sender="HNB-1", time_scale=0.02)
    up.start()
    try:
        await asyncio.wait_for(up.wait_cycles(2), WAIT)
        assert len(fs.stored) >= 2 and up.backlog() == []
        for path, data in fs.stored.items():
            assert re.fullmatch(r"/pm/A\d{8}\.\d{4}\+0000-\d{4}\+0000_HNB-1(_-_\d+)?\.xml",
                                path), path
            assert pmfile.parse_meas_collec(data).sender == "HNB-1"

        # the file server fails: files pile up in the backlog, none is lost
        fs.fail_put = 503
        before = len(fs.stored)
        c = up.cycles
        await asyncio.wait_for(up.wait_cycles(c + 2), WAIT)
        kept = [p.name for p in up.backlog()]
        assert len(kept) >= 2 and len(fs.stored) == before
        failed = [e for e in events.memory if e.kind == "pm.upload_failed"]
        assert failed and "503" in failed[-1].summary

        # it recovers: the next period uploads the backlog too, oldest first
        fs.fail_put = None
        c = up.cycles
        await asyncio.wait_for(up.wait_cycles(c + 1), WAIT)
        names = [p.rsplit("/", 1)[1] for p in fs.stored]
        assert names[before:before + len(kept)] == kept  # in the order they were made

        # disabled: the uploader goes idle and uploads nothing more
        model.set_values([rpc.ParameterValue(f"{PMC}1.Enable", "false")], "")
        up.reconfigure()
        await asyncio.wait_for(up.wait_idle(), WAIT)
        done = up.cycles
        assert not up.config().active
        up.reconfigure()
        await asyncio.wait_for(up.wait_idle(), WAIT)
        assert up.cycles == done
    finally:
        await up.stop()
        await fs.stop()


def test_backlog_cap_drops_oldest(tmp_path: Path) -> None:
    model = _model_with_pm("http://127.0.0.1:9/pm/")
    events = EventLog("hnb")

    async def never(*_: object) -> None:
        raise transfers.TransferError(9011, "down")

    up = pm.PmUploader(model, never, tmp_path / "b", events, sender="S", max_backlog=3)

    async def run() -> None:
        for _ in range(5):
            await up.run_period()

    asyncio.run(run())
    assert len(up.backlog()) == 3
    assert len([e for e in events.memory if e.kind == "pm.dropped"]) == 2


def test_no_config_instance_means_off(tmp_path: Path) -> None:
    async def unused(*_: object) -> None:
        raise AssertionError("no upload expected")

    up = pm.PmUploader(DataModel.factory(), unused, tmp_path / "b", EventLog("x"), sender="S")
    assert up.instance() is None and not up.config().active


def test_destination_appends_file_name() -> None:
    assert pm.destination("http://h/pm/", "A.xml") == "http://h/pm/A.xml"
    assert pm.destination("ftp://h/pm", "A.xml") == "ftp://h/pm/A.xml"
