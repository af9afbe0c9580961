"""The HMS's own evidence for 5.3-5.6: its TS 32.435 check of uploaded PM files, the
file-server outage control, and what its CWMP records say (TransferComplete and Fault
codes, per-parameter faults, how a session reached it, the session an alarm rode in)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from lab.cwmp import rpc
from lab.nodes.hms.pmfiles import MeasFileError, check_fields, check_meas_collec
from lab.nodes.hms.server import HmsHandle
from lab.nodes.hnb.pm import build_meas_collec, meas_file_name
from tests.unit import test_hms_support
from tests.unit.test_hms_acs import _alarm
from tests.unit.test_hms_support import TOKEN, Cpe, kinds

hms_factory = test_hms_support.hms_factory  # the fixture, shared
AUTH = {"Authorization": f"Bearer {TOKEN}"}
FILES = {"Authorization": aiohttp.encode_basic_auth("hnb", "files-pw")}
BEGIN = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
END = BEGIN + timedelta(minutes=15)
NS = "http://www.3gpp.org/ftp/specs/archive/32_series/32.435#measCollec"


def good() -> bytes:
    return build_meas_collec(BEGIN, END, "HNB-00005A-SER0001", {"RRC.AttConnEstab.Sum": 7,
                                                                "RRC.SuccConnEstab.Sum": 6})


def test_a_measCollec_file_passes_with_its_summary() -> None:
    s = check_meas_collec(good())
    assert s.sender == "HNB-00005A-SER0001" and s.gran_period_s == 900
    assert s.begin_time == BEGIN.isoformat() and s.end_time == END.isoformat()
    assert (s.meas_types, s.values) == (2, 2)
    assert check_fields(good())["meas_ok"] is True


@pytest.mark.parametrize(("edit", "words"), [
    (lambda x: x.replace(NS.encode(), b"urn:other"), "expected {" + NS),
    (lambda x: x.replace(b"<granPeriod", b"<grainPeriod"), "expected one <granPeriod>"),
    (lambda x: x.replace(b' duration="PT900S" endTime', b' endTime'),
     "measInfo[1]/granPeriod@duration"),
    (lambda x: x.replace(b'<r p="2">', b'<r p="9">'), "p='9' names no measType"),
    (lambda x: x.replace(b">7</r>", b">seven</r>"), "'seven' is not a number"),
    (lambda x: x.replace(b"fileFormatVersion=", b"fileformatversion="),
     "missing attribute fileFormatVersion"),
    (lambda x: x.replace(b'endTime="2026-12-03T12:15:00+00:00"/>\n  </fileFooter>',
                         b'endTime="2026-12-03T11:00:00+00:00"/>\n  </fileFooter>'),
     "is not after beginTime"),
    (lambda x: x.replace(b"+00:00", b""), "has no UTC offset"),
    (lambda x: b"<measCollecFile>" + b"x" * 50 + b"</measCollecFile>", "root element"),
    (lambda x: b"not xml at all", "not usable XML"),
])
def test_a_file_that_is_not_TS_32_435_fails_naming_where(edit, words: str) -> None:
    bad = edit(good())
    assert bad != good()
    with pytest.raises(MeasFileError) as exc:
        check_meas_collec(bad)
    assert words in str(exc.value)
    assert check_fields(bad)["meas_ok"] is False and words in check_fields(bad)["meas_problem"]


async def _put(url: str, name: str, data: bytes) -> int:
    async with aiohttp.ClientSession(headers=FILES) as s, s.put(f"{url}/pm/{name}",
                                                             data=data) as r:
        return r.status


async def test_uploads_are_checked_and_listed_with_the_check(hms_factory) -> None:
    h: HmsHandle = await hms_factory()
    name = meas_file_name(BEGIN, END, "SER0001")
    assert await _put(h.urls["files_http"], name, good()) == 201
    assert await _put(h.urls["files_http"], "A-garbage.xml", b"<x/>") == 201
    ok, bad = [e.fields for e in kinds(h, "file.rx")]
    assert ok["meas_ok"] is True and ok["begin_time"] == BEGIN.isoformat()
    assert ok["gran_period_s"] == 900
    assert bad["meas_ok"] is False and "root element" in bad["meas_problem"]
    async with aiohttp.ClientSession(headers=AUTH) as s:
        async with s.get(f"{h.urls['api']}/files", params={"kind": "pm", "check": "1"}) as r:
            listed = {f["name"]: f["meas"] for f in await r.json()}
        async with s.get(f"{h.urls['api']}/files", params={"check": "2"}) as r:
            assert r.status == 400 and (await r.json())["field"] == "check"
    assert listed[name]["meas_ok"] is True and listed["A-garbage.xml"]["meas_ok"] is False


async def test_file_server_outage_refuses_connections_then_comes_back(hms_factory) -> None:
    h: HmsHandle = await hms_factory()
    url, api = h.urls["files_http"], h.urls["api"]
    name = meas_file_name(BEGIN, END, "SER0001")
    async with aiohttp.ClientSession(headers=AUTH) as s:
        async with s.post(f"{api}/files/outage", json={"transports": ["http"],
                                                       "down": True}) as r:
            assert r.status == 200 and (await r.json())["down"] == ["http"]
        # the file server's port no longer answers: the connection is refused
        with pytest.raises(aiohttp.ClientConnectionError):
            await _put(url, name, good())
        async with s.get(f"{api}/files/outage") as r:
            assert (await r.json()) == {"down": ["http"], "transports": ["http"]}
        # the ACS is not affected
        async with Cpe(h.urls["cwmp"]) as cpe:
            await cpe.session(["1 BOOT"])
        async with s.post(f"{api}/files/outage", json={"transports": ["http"],
                                                       "down": False}) as r:
            assert (await r.json())["down"] == []
        assert await _put(url, name, good()) == 201  # same port again
        for body, field in (({"transports": ["ftp"], "down": True}, "transports"),
                            ({"transports": [], "down": True}, "transports"),
                            ({"transports": ["http"], "down": "yes"}, "down"),
                            ({"transports": ["http"], "down": True, "x": 1}, "x")):
            async with s.post(f"{api}/files/outage", json=body) as r:
                assert r.status == 400 and (await r.json())["field"] == field, body
    assert [e.fields["state"] for e in kinds(h, "file.outage")] == ["down", "up"]
    assert [e.fields["name"] for e in kinds(h, "file.rx")] == [name]


async def test_cwmp_records_carry_codes_faults_and_the_connection(hms_factory) -> None:
    h: HmsHandle = await hms_factory()
    async with Cpe(h.urls["cwmp"]) as cpe:
        await cpe.session(["1 BOOT"])
        assert isinstance((await cpe.inform(["7 TRANSFER COMPLETE", "M Download"])).body,
                          rpc.InformResponse)
        tc = rpc.TransferComplete(command_key="hms-task-99", fault_code=9018,
                                  fault_string="CM file corrupted")
        await cpe.post(tc, id="tc-1")
        await cpe.post(None)
        await cpe.session(["4 VALUE CHANGE"], _alarm(1, "NewAlarm", "2026-12-03T12:00:00Z"))
    rx = [e for e in kinds(h, "cwmp.rx")]
    inform = next(e for e in rx if e.fields["msg"] == "Inform")
    assert inform.fields["tls"] is False and inform.fields["local_addr"] == "127.0.0.1"
    assert inform.fields["remote_addr"] == "127.0.0.1"
    t = next(e for e in rx if e.fields["msg"] == "TransferComplete")
    assert (t.fields["fault_code"], t.fields["command_key"]) == (9018, "hms-task-99")
    (alarm,) = kinds(h, "hms.alarm")
    start = [e for e in kinds(h, "hms.session.start")][-1]
    assert alarm.fields["session"] == start.fields["session"]
    assert alarm.fields["events"] == ["4 VALUE CHANGE"]


async def test_spv_fault_record_names_each_refused_parameter(hms_factory) -> None:
    h: HmsHandle = await hms_factory()
    async with Cpe(h.urls["cwmp"]) as cpe:
        await cpe.session(["1 BOOT"])
        task = {"kind": "SPV", "args": {"parameters": {"Device.A.X": "1"}}}
        async with aiohttp.ClientSession(headers=AUTH) as s, s.post(
                f"{h.urls['api']}/devices/{cpe.device_id}/tasks", json=task) as r:
            assert r.status == 201
        fault = rpc.Fault(9003, "Invalid arguments", [
            rpc.SetParameterValuesFault("Device.A.X", 9005, "no such parameter")])
        cpe.answer = lambda req: fault  # type: ignore[method-assign]
        await cpe.session(["6 CONNECTION REQUEST"])
    f = next(e for e in kinds(h, "cwmp.rx") if e.fields["msg"] == "Fault")
    assert f.fields["fault_code"] == 9003
    assert f.fields["spv_faults"] == [{"name": "Device.A.X", "code": 9005}]
    sent = next(e for e in kinds(h, "cwmp.tx") if e.fields["msg"] == "SetParameterValues")
    assert sent.fields["names"] == ["Device.A.X"] and "fault_code" not in sent.fields
