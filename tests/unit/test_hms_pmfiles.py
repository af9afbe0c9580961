"""The HMS's own evidence for 5.3-5.6: its TS 32.435 check of uploaded PM files (the
one strict reader, lab.pmfile, on hand-written files), the
file-server outage control, and what its CWMP records say (TransferComplete and Fault
codes, per-parameter faults, how a session reached it, the session an alarm rode in)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from lab.cwmp import rpc
from lab.nodes.hms.pmfiles import check_fields, check_file
from lab.nodes.hms.server import HmsHandle
from lab.pmfile import (
    MAX_SIZE,
    MeasFileError,
    build_meas_collec,
    meas_file_name,
    parse_meas_collec,
)
from tests.unit import test_hms_support
from tests.unit.test_hms_acs import _alarm
from tests.unit.test_hms_support import TOKEN, Cpe, kinds

hms_factory = test_hms_support.hms_factory  # the fixture, shared
AUTH = {"Authorization": f"Bearer {TOKEN}"}
FILES = {"Authorization": aiohttp.encode_basic_auth("hnb", "files-pw")}
BEGIN = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
END = BEGIN + timedelta(minutes=15)
NS = "http://www.3gpp.org/ftp/specs/archive/32_series/32.435#measCollec"


# Written by hand after the TS 32.435 example (not by lab.pmfile's writer): the reader is
# checked against a file it did not make. Two measInfo blocks, two measured objects, a
# NIL value, a suspect flag.
HANDMADE = b"""<?xml version="1.0" encoding="UTF-8"?>
<measCollecFile xmlns="http://www.3gpp.org/ftp/specs/archive/32_series/32.435#measCollec">
  <fileHeader fileFormatVersion="32.435 V10.0" vendorName="Vendor A" dnPrefix="DC=a.lab">
    <fileSender localDn="HNB-00005A-SER0001" elementType="HNB"/>
    <measCollec beginTime="2026-12-03T12:00:00+00:00"/>
  </fileHeader>
  <measData>
    <managedElement localDn="HNB-00005A-SER0001" userLabel="hnb 1"/>
    <measInfo measInfoId="RRC">
      <job jobId="7"/>
      <granPeriod duration="PT900S" endTime="2026-12-03T12:15:00+00:00"/>
      <repPeriod duration="PT900S"/>
      <measType p="1">RRC.AttConnEstab.Sum</measType>
      <measType p="2">RRC.SuccConnEstab.Sum</measType>
      <measValue measObjLdn="HNBFunction=1">
        <r p="1">7</r>
        <r p="2">6</r>
      </measValue>
      <measValue measObjLdn="HNBFunction=2">
        <r p="1">3</r>
        <r p="2">NIL</r>
        <suspect>true</suspect>
      </measValue>
    </measInfo>
    <measInfo measInfoId="RAB">
      <granPeriod duration="PT15M" endTime="2026-12-03T12:15:00Z"/>
      <measType p="1">RAB.AttEstabCS.Conv</measType>
      <measValue measObjLdn="HNBFunction=1">
        <r p="1">12</r>
      </measValue>
    </measInfo>
  </measData>
  <fileFooter>
    <measCollec endTime="2026-12-03T12:15:00+00:00"/>
  </fileFooter>
</measCollecFile>
"""


def good() -> bytes:
    """What the HNB's writer makes (for the upload tests)."""
    return build_meas_collec(BEGIN, END, "HNB-00005A-SER0001", {"RRC.AttConnEstab.Sum": 7,
                                                                "RRC.SuccConnEstab.Sum": 6})


def test_a_handmade_measCollec_file_reads_with_its_summary() -> None:
    m = parse_meas_collec(HANDMADE)
    assert (m.sender, m.element_type, m.vendor, m.dn_prefix) == (
        "HNB-00005A-SER0001", "HNB", "Vendor A", "DC=a.lab")
    assert m.begin_time == BEGIN.isoformat() and m.end_time == END.isoformat()
    assert [(i.meas_info_id, i.job_id, i.gran_period_s) for i in m.infos] == [
        ("RRC", "7", 900), ("RAB", "", 900)]
    assert m.infos[0].values["HNBFunction=2"] == {"RRC.AttConnEstab.Sum": "3",
                                                  "RRC.SuccConnEstab.Sum": "NIL"}
    assert m.infos[0].suspect == {"HNBFunction=2": True}
    # summed over the measured objects; NIL is no number
    assert m.counters() == {"RRC.AttConnEstab.Sum": 10, "RRC.SuccConnEstab.Sum": 6,
                            "RAB.AttEstabCS.Conv": 12}
    fields = check_fields(HANDMADE)
    assert fields == {"meas_ok": True, "sender": "HNB-00005A-SER0001",
                      "begin_time": BEGIN.isoformat(), "end_time": END.isoformat(),
                      "gran_period_s": 900, "meas_types": 3, "values": 5}


def test_the_writers_file_reads_back() -> None:
    m = parse_meas_collec(good())
    assert m.sender == "HNB-00005A-SER0001" and m.gran_period_s == 900
    assert m.counters() == {"RRC.AttConnEstab.Sum": 7, "RRC.SuccConnEstab.Sum": 6}
    assert check_fields(good())["meas_ok"] is True


def _swap(old: bytes, new: bytes) -> Callable[[bytes], bytes]:
    def edit(x: bytes) -> bytes:
        assert x.count(old) == 1, old  # the fixture holds the text to break exactly once
        return x.replace(old, new)
    return edit


@pytest.mark.parametrize(("edit", "words"), [
    (_swap(NS.encode(), b"urn:other"), "expected {" + NS),
    (lambda x: x.replace(b"measCollecFile", b"measCollectionFile"), "root element is {"),
    (_swap(b'<granPeriod duration="PT15M"', b'<grainPeriod duration="PT15M"'),
     "measData[1]/measInfo[2]: expected one <granPeriod>, found 0"),
    (_swap(b'duration="PT15M" ', b""), "measData[1]/measInfo[2]/granPeriod@duration: missing"),
    (_swap(b"PT15M", b"15 minutes"),
     "measInfo[2]/granPeriod@duration: '15 minutes' is not an xs:duration"),
    (_swap(b"PT15M", b"PT0S"), "measInfo[2]/granPeriod@duration: duration 'PT0S' is not "
                               "positive"),
    (_swap(b'endTime="2026-12-03T12:15:00Z"', b'endTime="2026-12-03T13:15:00Z"'),
     "measData[1]/measInfo[2]/granPeriod@endTime 2026-12-03T13:15:00+00:00 is outside"),
    (_swap(b'<r p="2">NIL</r>', b'<r p="9">NIL</r>'),
     "measInfo[1]/measValue[2]/r: p='9' names no measType"),
    (_swap(b'<r p="2">6</r>', b'<r p="1">6</r>'), "measInfo[1]/measValue[1]/r: p=1 repeated"),
    (_swap(b">12</r>", b">twelve</r>"),
     "measInfo[2]/measValue[1]/r p=1: 'twelve' is not a number"),
    (_swap(b'<measType p="2">', b'<measType p="1">'),
     "measInfo[1]/measType: p '1' missing or repeated"),
    (_swap(b'<measType p="1">RAB.AttEstabCS.Conv</measType>', b'<measType p="1"> </measType>'),
     "measInfo[2]/measType p=1: no measurement type name"),
    (_swap(b'<measValue measObjLdn="HNBFunction=2">', b"<measValue>"),
     "measInfo[1]/measValue[2]: missing attribute measObjLdn"),
    (_swap(b"<suspect>true</suspect>", b"<suspect>yes</suspect>"),
     "measInfo[1]/measValue[2]/suspect: expected true or false, got 'yes'"),
    (_swap(b' userLabel="hnb 1"/>', b"/><managedElement/>"),
     "measData[1]: expected one <managedElement>, found 2"),
    (_swap(b"fileFormatVersion=", b"fileformatversion="),
     "fileHeader: missing attribute fileFormatVersion"),
    (_swap(b'beginTime="2026-12-03T12:00:00+00:00"', b'beginTime="tomorrow"'),
     "fileHeader/measCollec@beginTime: 'tomorrow' is not an xs:dateTime"),
    (_swap(b'<measCollec endTime="2026-12-03T12:15:00+00:00"/>',
           b'<measCollec endTime="2026-12-03T11:00:00+00:00"/>'),
     "fileFooter/measCollec@endTime 2026-12-03T11:00:00+00:00 is not after beginTime"),
    (lambda x: x.replace(b"+00:00", b"").replace(b"Z\"", b'"'),
     "fileHeader/measCollec@beginTime: '2026-12-03T12:00:00' has no UTC offset"),
    (lambda x: x[:x.index(b"  <measData>")] + x[x.index(b"  <fileFooter>"):],
     "measCollecFile: no <measData>"),
    (lambda x: x[:x.index(b"  <fileFooter>")] + b"</measCollecFile>",
     "measCollecFile: expected one <fileFooter>, found 0"),
    (lambda x: x[:-30], "not usable XML: not well-formed"),
    (lambda x: x.replace(b"<measCollecFile", b'<!DOCTYPE x [<!ENTITY e "e">]><measCollecFile'),
     "not usable XML: line 2: DOCTYPE declaration refused"),
])
def test_a_file_that_is_not_TS_32_435_fails_naming_where(edit, words: str) -> None:
    bad = edit(HANDMADE)
    assert bad != HANDMADE
    with pytest.raises(MeasFileError) as exc:
        parse_meas_collec(bad)
    assert words in str(exc.value)
    assert check_fields(bad)["meas_ok"] is False and words in check_fields(bad)["meas_problem"]


def test_a_large_file_is_read_and_an_oversized_one_refused_unread(tmp_path: Path) -> None:
    # about 80 bytes per counter: 1.1 MB, over xmlsafe's 1 MiB CWMP default
    values = {f"VS.big.{i}": i for i in range(15_000)}
    data = build_meas_collec(BEGIN, END, "HNB-1", values)
    assert len(data) > 1_100_000
    assert len(parse_meas_collec(data).counters()) == len(values)
    assert check_fields(data)["meas_ok"] is True
    huge = HANDMADE + b" " * MAX_SIZE
    with pytest.raises(MeasFileError, match=f"exceeds the limit of {MAX_SIZE} bytes"):
        parse_meas_collec(huge)
    stored = tmp_path / "huge.xml"
    stored.write_bytes(huge)
    assert check_file(stored) == {"meas_ok": None,
                                  "meas_problem": f"not checked: over {MAX_SIZE} bytes"}
    (tmp_path / "big.xml").write_bytes(data)
    assert check_file(tmp_path / "big.xml")["meas_ok"] is True
    assert check_file(tmp_path / "gone.xml")["meas_problem"].startswith(
        "cannot read the stored file")


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
