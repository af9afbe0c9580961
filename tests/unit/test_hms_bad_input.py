"""Bad input to the ACS: each gets the proper CWMP fault or HTTP error, is logged as an
event, and the HMS keeps serving with its store intact (a refused unknown device leaves no
device behind)."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from lab.cwmp import rpc
from lab.nodes.hms.server import HmsHandle
from tests.unit import test_hms_support
from tests.unit.test_hms_acs import LOC_OK, POLICY, REM, _alarm
from tests.unit.test_hms_support import OUI, Cpe, kinds

hms_factory = test_hms_support.hms_factory  # the fixture, shared

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>&lol3;
</soap:Body></soap:Envelope>"""


def _env(body: str, ns: str = "urn:dslforum-org:cwmp-1-1", id_: str = "bad-1") -> bytes:
    return (f'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
            f'xmlns:cwmp="{ns}"><soap:Header><cwmp:ID soap:mustUnderstand="1">{id_}</cwmp:ID>'
            f"</soap:Header><soap:Body>{body}</soap:Body></soap:Envelope>").encode()


async def _still_serving(h: HmsHandle, devices_before: int) -> None:
    async with Cpe(h.urls["cwmp"], serial="AFTER-BAD") as cpe:
        assert await cpe.session(["1 BOOT"]) == []
    assert len(h.store.list_devices()) == devices_before + 1
    assert h.store.schema_version() >= 1


@pytest.fixture
async def hms(hms_factory) -> HmsHandle:
    h = await hms_factory(max_body=4096)
    async with Cpe(h.urls["cwmp"], serial="BEFORE") as cpe:
        await cpe.session(["1 BOOT"])
    return h


@pytest.mark.parametrize(("data", "code", "words"), [
    (b"<soap:Envelope xmlns:soap='x'><unclosed>", 8003, "not well-formed"),
    (BOMB, 8003, "DOCTYPE declaration refused"),
    (b"<html><body>hello</body></html>", 8003, "not a SOAP 1.1 Envelope"),
    (_env("<x:Inform xmlns:x='urn:dslforum-org:cwmp-9-9'/>"), 8003, "unknown namespace"),
    (_env("<cwmp:Kicked/>"), 8000, "method not supported: Kicked"),
    (_env("<cwmp:Inform><DeviceId/></cwmp:Inform>"), 8003, "missing mandatory element"),
    (_env("<cwmp:TransferComplete><CommandKey>k</CommandKey><FaultStruct><FaultCode>0"
          "</FaultCode><FaultString/></FaultStruct><StartTime>2026-12-03T12:00:00Z</StartTime>"
          "<CompleteTime>2026-12-03T12:00:00Z</CompleteTime></cwmp:TransferComplete>"),
     8003, "session must begin with an Inform"),
])
async def test_bad_message_gets_fault_and_server_keeps_serving(hms: HmsHandle, data: bytes,
                                                                code: int, words: str) -> None:
    async with Cpe(hms.urls["cwmp"], serial="BAD") as cpe:
        r = await cpe.post_raw(data)
    assert r.status == 500 and isinstance(r.body, rpc.Fault), (r.status, r.raw)
    assert r.body.code == code and words in r.body.string
    if b"bad-1" in data:
        assert r.env.id == "bad-1"  # echoed even on a broken request
    bad = kinds(hms, "hms.bad_request")
    assert bad and bad[-1].fields["fault"] == code
    await _still_serving(hms, 1)


async def test_oversized_body_413(hms: HmsHandle) -> None:
    big = _env("<cwmp:GetRPCMethods/>" + " " * 5000)
    async with Cpe(hms.urls["cwmp"]) as cpe:
        r = await cpe.post_raw(big)
        assert r.status == 413 and b"exceeds the limit of 4096 bytes" in r.raw

        async def chunks():  # no Content-Length: the limit holds while reading
            for _ in range(10):
                yield b" " * 1000

        async with cpe.http.post(hms.urls["cwmp"], data=chunks()) as resp:
            assert resp.status == 413
    assert [e.fields["status"] for e in kinds(hms, "hms.bad_request")] == [413, 413]
    await _still_serving(hms, 1)


async def test_empty_post_without_session_and_wrong_method(hms: HmsHandle) -> None:
    async with Cpe(hms.urls["cwmp"]) as cpe:
        r = await cpe.post(None)
        assert r.status == 400 and b"a session begins with an Inform" in r.raw
        async with cpe.http.get(hms.urls["cwmp"]) as resp:
            assert resp.status == 405 and resp.headers["Allow"] == "POST"
    await _still_serving(hms, 1)


async def test_out_of_order_messages(hms_factory) -> None:
    h = await hms_factory(provisioning={"params": {"Device.IPsec.Enable": True}})
    async with Cpe(h.urls["cwmp"]) as cpe:
        await cpe.inform(["1 BOOT"])
        # a response although the ACS asked nothing
        r = await cpe.post(rpc.SetParameterValuesResponse(0))
        assert r.body.code == 8003 and "no ACS request is outstanding" in r.body.string
        r = await cpe.post(None)
        assert isinstance(r.body, rpc.SetParameterValues)
        # the wrong response to the ACS's request: refused, the request stays open
        r2 = await cpe.post(rpc.GetParameterValuesResponse([]), id=r.env.id)
        assert r2.body.code == 8003 and "expected SetParameterValuesResponse" in r2.body.string
        (task,) = h.store.list_tasks(cpe.device_id)
        assert task.state == "sent"
        r3 = await cpe.post(cpe.answer(r.body), id=r.env.id)
        assert r3.status == 204
        assert h.store.get_task(task.id).state == "done"
        # a second Inform in one session ends it
        await cpe.inform(["2 PERIODIC"])
        r = await cpe.post(cpe.inform_msg(["2 PERIODIC"]))
        assert r.body.code == 8003 and "second Inform" in r.body.string
        r = await cpe.post(None)
        assert r.status == 400  # that session is gone
    reasons = [e.fields["reason"] for e in kinds(h, "hms.bad_request")]
    assert len(reasons) == 4


async def test_inform_without_serial_refused(hms: HmsHandle) -> None:
    async with Cpe(hms.urls["cwmp"], serial=" ") as cpe:
        r = await cpe.post(cpe.inform_msg(["1 BOOT"]))
    assert r.body.code == 8003 and "SerialNumber" in r.body.string
    await _still_serving(hms, 1)


async def test_many_bad_requests_concurrently(hms: HmsHandle) -> None:
    async with aiohttp.ClientSession() as s:
        async def one(i: int) -> int:
            async with s.post(hms.urls["cwmp"], data=b"<broken" * (i + 1)) as r:
                return r.status
        statuses = await asyncio.gather(*(one(i) for i in range(20)))
    assert set(statuses) == {500}
    await _still_serving(hms, 1)


async def test_internal_error_answers_8002_and_keeps_serving(hms: HmsHandle,
                                                             monkeypatch) -> None:
    # a bug in a plan (simulated) must not take the ACS down
    from lab.nodes.hms import plans

    def broken(*a, **kw):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(plans, "registration", broken)
    async with Cpe(hms.urls["cwmp"], serial="VICTIM") as cpe:
        r = await cpe.inform(["0 BOOTSTRAP"])
    assert r.status == 500 and r.body.code == 8002 and "RuntimeError" in r.body.string
    assert "simulated bug" in kinds(hms, "hms.internal_error")[0].fields["error"]
    monkeypatch.undo()
    await _still_serving(hms, 2)


async def test_unknown_device_refused_8001_not_stored_known_one_still_served(
        hms_factory) -> None:
    h = await hms_factory(auto_register=False)
    known = h.store.upsert_device(f"{OUI}-KNOWN", oui=OUI, serial="KNOWN")  # operator's
    alarm = _alarm(1, "NewAlarm", "2026-12-03T12:00:00Z")
    # spoofed Informs, ever new serials and one repeated, carrying an alarm
    for serial in ("SPOOF0", "SPOOF1", "SPOOF2", "SPOOF0"):
        async with Cpe(h.urls["cwmp"], serial=serial) as cpe:
            r = await cpe.inform(["0 BOOTSTRAP"], alarm)
            assert r.status == 500 and isinstance(r.body, rpc.Fault), (r.status, r.raw)
            assert r.body.code == 8001 and r.body.string == (
                f"Request denied: {OUI}-{serial} unknown device and auto_register is off; "
                "the operator must allow it first")
            assert r.env is not None and r.env.id == "cpe-1"
            r = await cpe.post(None)
            assert r.status == 400  # no session was opened for it
    assert [d.id for d in h.store.list_devices()] == [known.id]
    assert h.store.list_tasks() == [] and h.store.alarm_history() == []
    assert not kinds(h, "hms.device.new") and not kinds(h, "hms.alarm")
    refused = kinds(h, "hms.refused")
    assert [(e.fields["device"], e.fields["fault"], e.fields["state"], e.fields["refusals"])
            for e in refused] == [(f"{OUI}-SPOOF0", 8001, "unknown", 1),
                                  (f"{OUI}-SPOOF1", 8001, "unknown", 1),
                                  (f"{OUI}-SPOOF2", 8001, "unknown", 1),
                                  (f"{OUI}-SPOOF0", 8001, "unknown", 2)]
    assert {e.fields["reason"] for e in refused} == {"unknown device and auto_register is off"}
    # the bounded note of who was turned away (for the operator), not a device
    assert {(r["id"], r["count"], r["ip"]) for r in h.store.list_refused()} == {
        (f"{OUI}-SPOOF0", 2, "127.0.0.1"), (f"{OUI}-SPOOF1", 1, "127.0.0.1"),
        (f"{OUI}-SPOOF2", 1, "127.0.0.1")}
    # the known device is served as before
    async with Cpe(h.urls["cwmp"], serial="KNOWN") as cpe:
        assert await cpe.session(["1 BOOT"]) == []
    dev = h.store.get_device(known.id)
    assert dev is not None and dev.last_events == ["1 BOOT"] and dev.ip == "127.0.0.1"
    # the operator sees who was refused and admits one: it becomes a device and is served
    auth = {"Authorization": f"Bearer {test_hms_support.TOKEN}"}
    async with aiohttp.ClientSession(headers=auth) as s:
        async with s.get(f"{h.urls['api']}/refused") as r:
            assert r.status == 200
            assert sorted(x["id"] for x in await r.json()) == [
                f"{OUI}-SPOOF0", f"{OUI}-SPOOF1", f"{OUI}-SPOOF2"]
        async with s.post(f"{h.urls['api']}/devices/{OUI}-SPOOF1/allow") as r:
            assert r.status == 200, await r.text()
            admitted = await r.json()
        assert admitted["id"] == f"{OUI}-SPOOF1" and admitted["state"] == "new"
        async with s.post(f"{h.urls['api']}/devices/{OUI}-NEVER/allow") as r:
            assert r.status == 404 and "NEVER" in (await r.json())["error"]
    assert f"{OUI}-SPOOF1" not in {x["id"] for x in h.store.list_refused()}
    async with Cpe(h.urls["cwmp"], serial="SPOOF1") as cpe:
        assert await cpe.session(["1 BOOT"]) == []
    assert [d.id for d in h.store.list_devices()] == [known.id, f"{OUI}-SPOOF1"]


async def test_unknown_device_outside_every_rule_is_not_stored(hms_factory) -> None:
    h = await hms_factory(role="initial", policy=POLICY)
    async with Cpe(h.urls["cwmp"], serial="FAR") as cpe:
        r = await cpe.inform(["0 BOOTSTRAP"], {REM + "PLMNID": "99999", REM + "LAC": "1"})
    assert r.status == 500 and r.body.code == 8001 and "location not served" in r.body.string
    assert h.store.list_devices() == []
    assert kinds(h, "hms.location")[-1].fields["ok"] is False
    (refused,) = kinds(h, "hms.refused")
    assert refused.fields["reason"] == "location matches no policy rule"
    async with Cpe(h.urls["cwmp"], serial="NEAR") as cpe:
        assert [type(q).__name__ for q in await cpe.session(["0 BOOTSTRAP"], LOC_OK)] == [
            "SetParameterValues"]
    assert [d.serial for d in h.store.list_devices()] == ["NEAR"]
