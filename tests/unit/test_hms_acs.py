"""The ACS session engine against a scripted CPE over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import aiohttp

from lab.cwmp import envelope as E
from lab.cwmp import rpc
from lab.datamodel.cmfile import parse_cm_file
from lab.nodes.hms import params as P
from lab.pki import Pki
from tests.unit import test_hms_support
from tests.unit.test_hms_support import TOKEN, Cpe, kinds

hms_factory = test_hms_support.hms_factory  # the fixture, shared

REM = "Device.Services.FAPService.1.REM.UMTS.WCDMA.Cell.1.BCCH."
LOC_OK = {REM + "PLMNID": "00101", REM + "LAC": "17", REM + "CellID": "4242"}
POLICY = [
    {"name": "paris", "match": {"lat": [48.0, 49.0], "lon": [2.0, 3.0]},
     "serving_segw": "segw-paris.mno.lab", "serving_hms_url": "https://hms-paris.mno.lab:7548/"},
    {"name": "plmn-00101", "match": {"plmn": "00101", "lac": [17, 18]},
     "serving_segw": "segw.mno.lab", "serving_hms_url": "https://hms.mno.lab:7548/",
     "hnbgw": "hnbgw.mno.lab"},
]


def api(h) -> tuple[str, dict[str, str]]:
    return h.urls["api"], {"Authorization": f"Bearer {TOKEN}"}


# ---- initial HMS (5.1) -----------------------------------------------------------------


async def test_initial_assigns_serving_elements_by_cell(hms_factory) -> None:
    h = await hms_factory(role="initial", policy=POLICY)
    async with Cpe(h.urls["cwmp"]) as cpe:
        reqs = await cpe.session(["0 BOOTSTRAP", "1 BOOT"], LOC_OK)
    assert [type(r).__name__ for r in reqs] == ["SetParameterValues"]
    assert cpe.values == {P.SECGW_SERVER1: "segw.mno.lab",
                          P.MGMT_URL: "https://hms.mno.lab:7548/",
                          P.FAPGW_SERVER1: "hnbgw.mno.lab"}
    dev = h.store.get_device(cpe.device_id)
    assert dev is not None and dev.assigned["serving_segw"] == "segw.mno.lab"
    assert dev.location["cells"] == [{"plmn": "00101", "lac": "17", "cell": "4242"}]
    loc = kinds(h, "hms.location")[-1]
    assert loc.fields["ok"] is True and loc.fields["rule"] == "plmn-00101"
    assert kinds(h, "hms.assigned")
    assert [t.state for t in h.store.list_tasks(cpe.device_id)] == ["done"]


async def test_initial_assigns_by_gps_box_without_hnbgw(hms_factory) -> None:
    h = await hms_factory(role="initial", policy=POLICY)
    gps = {"Device.FAP.GPS.LockedLatitude": "48856614",
           "Device.FAP.GPS.LockedLongitude": "2352222"}
    async with Cpe(h.urls["cwmp"]) as cpe:
        await cpe.session(["0 BOOTSTRAP"], gps)
    assert cpe.values == {P.SECGW_SERVER1: "segw-paris.mno.lab",
                          P.MGMT_URL: "https://hms-paris.mno.lab:7548/"}


async def test_initial_refuses_location_no_rule_serves(hms_factory) -> None:
    h = await hms_factory(role="initial", policy=POLICY)
    async with Cpe(h.urls["cwmp"]) as cpe:
        r = await cpe.inform(["0 BOOTSTRAP"], {REM + "PLMNID": "99999", REM + "LAC": "1"})
    assert r.status == 500 and isinstance(r.body, rpc.Fault)
    assert r.body.code == 8001 and "location not served" in r.body.string
    assert "PLMN 99999" in r.body.string
    assert r.env is not None and r.env.id == "cpe-1"
    refused = kinds(h, "hms.refused")
    assert refused and refused[0].fields["reason"] == "location matches no policy rule"
    assert h.store.list_tasks(cpe.device_id) == []


async def test_both_roles_assign_and_provision_in_one_session(hms_factory) -> None:
    h = await hms_factory(role="both", policy=POLICY[1:],
                          provisioning={"params": {"Device.ManagementServer.PeriodicInformInterval":
                                                   300}})
    async with Cpe(h.urls["cwmp"]) as cpe:
        reqs = await cpe.session(["0 BOOTSTRAP"], LOC_OK)
    assert len(reqs) == 2
    assert cpe.values["Device.ManagementServer.PeriodicInformInterval"] == "300"
    assert reqs[1].parameters[0].type == "xsd:unsignedInt"
    assert h.store.get_device(cpe.device_id).state == "registered"


# ---- serving HMS: registration, provisioning (5.2, 5.3, 5.5.1, 5.6.1) -----------------------


SERVING = dict(
    provisioning={"params": {"Device.Services.FAPService.1.CellConfig.UMTS.RAN.RNCID": 42,
                             "Device.ManagementServer.PeriodicInformEnable": True},
                  "hnbgw": "hnbgw.mno.lab", "ipsec": True},
    alarm_reporting=[{"match": {"PerceivedSeverity": "Critical"}, "mechanism": "0 Expedited"},
                     {"match": "*", "mechanism": "1 Queued"}],
    pm_upload={"interval": 900},
    connection_request={"username": "acs", "password": "cr-secret"},
)
SUPPORTED = {
    "Device.FaultMgmt.SupportedAlarm.1.PerceivedSeverity": "Critical",
    "Device.FaultMgmt.SupportedAlarm.1.EventType": "Communications Alarm",
    "Device.FaultMgmt.SupportedAlarm.2.PerceivedSeverity": "Minor",
    "Device.FaultMgmt.SupportedAlarm.2.EventType": "Equipment Alarm",
}


async def test_serving_provisions_by_spv_then_alarm_and_pm_config(hms_factory) -> None:
    h = await hms_factory(**SERVING)
    async with Cpe(h.urls["cwmp"]) as cpe:
        cpe.values.update(SUPPORTED)
        reqs = await cpe.session(["1 BOOT"])
        names = [type(r).__name__ for r in reqs]
        assert names == ["SetParameterValues", "GetParameterValues", "AddObject",
                         "SetParameterValues", "SetParameterValues"]
        prov = {p.name: (p.value, p.type) for p in reqs[0].parameters}
        assert prov[P.FAPGW_SERVER1] == ("hnbgw.mno.lab", "xsd:string")
        assert prov["Device.IPsec.Enable"] == ("true", "xsd:boolean")
        assert prov["Device.Services.FAPService.1.CellConfig.UMTS.RAN.RNCID"][1] == \
            "xsd:unsignedInt"
        assert prov[P.CR_USERNAME] == ("acs", "xsd:string")
        assert reqs[1].names == ["Device.FaultMgmt.SupportedAlarm."]
        assert reqs[2].object_name == "Device.FAP.PerfMgmt.Config."
        assert cpe.values["Device.FaultMgmt.SupportedAlarm.1.ReportingMechanism"] == "0 Expedited"
        assert cpe.values["Device.FaultMgmt.SupportedAlarm.2.ReportingMechanism"] == "1 Queued"
        pm = {p.name: p.value for p in reqs[4].parameters}  # on the instance AddObject made
        assert pm["Device.FAP.PerfMgmt.Config.2.URL"] == h.urls["files_http"] + "/pm/"
        assert pm["Device.FAP.PerfMgmt.Config.2.PeriodicUploadInterval"] == "900"
        assert pm["Device.FAP.PerfMgmt.Config.2.Username"] == "hnb"
        dev = h.store.get_device(cpe.device_id)
        assert dev.state == "registered" and dev.cr_username == "acs"
        assert dev.params[P.FAPGW_SERVER1] == "hnbgw.mno.lab"
        # a later boot of a registered device provisions nothing again
        assert await cpe.session(["1 BOOT"]) == []
    purposes = [t.purpose for t in h.store.list_tasks(cpe.device_id)]
    assert purposes == ["provision", "alarm-read", "pm-add", "alarm-config", "pm-config"]
    assert {t.state for t in h.store.list_tasks(cpe.device_id)} == {"done"}
    assert kinds(h, "hms.registered") and kinds(h, "hms.pm_config")


async def test_alarm_config_uses_supported_alarms_from_inform(hms_factory) -> None:
    h = await hms_factory(alarm_reporting=SERVING["alarm_reporting"])
    async with Cpe(h.urls["cwmp"]) as cpe:
        reqs = await cpe.session(["0 BOOTSTRAP"], SUPPORTED)
    assert [type(r).__name__ for r in reqs] == ["SetParameterValues"]  # no GPV needed
    assert {p.name: p.value for p in reqs[0].parameters} == {
        "Device.FaultMgmt.SupportedAlarm.1.ReportingMechanism": "0 Expedited",
        "Device.FaultMgmt.SupportedAlarm.2.ReportingMechanism": "1 Queued"}


async def test_provisioning_spv_fault_keeps_device_new(hms_factory) -> None:
    h = await hms_factory(provisioning=SERVING["provisioning"])
    async with Cpe(h.urls["cwmp"]) as cpe:
        cpe.fail["SetParameterValues"] = rpc.Fault(9003, "Invalid arguments", [
            rpc.SetParameterValuesFault(P.FAPGW_SERVER1, 9007, "Invalid parameter value")])
        await cpe.session(["1 BOOT"])
    task = h.store.list_tasks(cpe.device_id)[0]
    assert task.state == "failed" and task.result["fault"] == 9003
    assert task.result["spv_faults"][0]["name"] == P.FAPGW_SERVER1
    assert h.store.get_device(cpe.device_id).state == "new"
    assert kinds(h, "hms.provision_failed")


async def test_serving_provisions_by_cm_download_and_transfer_complete(hms_factory) -> None:
    h = await hms_factory(cm_mode="download", provisioning=SERVING["provisioning"])
    async with Cpe(h.urls["cwmp"]) as cpe:
        reqs = await cpe.session(["0 BOOTSTRAP", "1 BOOT"])
        assert len(reqs) == 1 and isinstance(reqs[0], rpc.Download)
        dl = reqs[0]
        assert dl.file_type == "3 Vendor Configuration File"
        assert dl.url.startswith(h.urls["files_http"] + "/cm/")
        # the CM file is there, behind the file server's password, and carries the values
        basic = {"Authorization": aiohttp.encode_basic_auth(dl.username, dl.password)}
        async with aiohttp.ClientSession() as s, s.get(dl.url, headers=basic) as r:
            assert r.status == 200
            cm = dict(parse_cm_file(await r.read()))
        assert cm[P.FAPGW_SERVER1] == "hnbgw.mno.lab" and cm["Device.IPsec.Enable"] == "true"
        assert dl.file_size == (h.area.dir("cm") / dl.target_file_name).stat().st_size
        task = h.store.list_tasks(cpe.device_id)[0]
        assert task.state == "sent" and task.awaiting_transfer
        assert h.store.get_device(cpe.device_id).state == "new"
        # 5.3.1 D: the result comes in a later session
        tc = rpc.TransferComplete(command_key=dl.command_key, fault_code=0,
                                  start_time="2026-12-03T12:00:01Z",
                                  complete_time="2026-12-03T12:00:02Z")
        r = await cpe.inform(["7 TRANSFER COMPLETE", "M Download"])
        assert isinstance(r.body, rpc.InformResponse)
        r = await cpe.post(tc, id="tc-1")
        assert r.status == 200 and isinstance(r.body, rpc.TransferCompleteResponse)
        assert r.env.id == "tc-1"
        assert (await cpe.post(None)).status == 204
    task = h.store.get_task(task.id)
    assert task.state == "done" and task.result["fault"] == 0
    assert h.store.get_device(cpe.device_id).state == "registered"
    assert [f.kind for f in h.store.list_files()] == ["cm"]


async def test_transfer_complete_failure_and_unknown_key(hms_factory) -> None:
    h = await hms_factory(cm_mode="download", provisioning=SERVING["provisioning"])
    async with Cpe(h.urls["cwmp"]) as cpe:
        (dl,) = await cpe.session(["0 BOOTSTRAP"])
        await cpe.session(["7 TRANSFER COMPLETE", "M Download"], cpe_requests=[
            rpc.TransferComplete(dl.command_key, 9018, "file corrupted"),
            rpc.TransferComplete("somebody-else", 0)])
    task = h.store.list_tasks(cpe.device_id)[0]
    assert task.state == "failed" and task.result["fault"] == 9018
    assert h.store.get_device(cpe.device_id).state == "new"
    assert kinds(h, "hms.transfer_unknown")[0].fields["command_key"] == "somebody-else"


# ---- de-provisioning (5.4) -------------------------------------------------------------------


async def _register(h, cpe: Cpe) -> None:
    await cpe.session(["0 BOOTSTRAP"])
    assert h.store.get_device(cpe.device_id).state == "registered"


async def test_deprovision_factory_reset_refuses_until_allowed(hms_factory) -> None:
    h = await hms_factory(provisioning=SERVING["provisioning"])
    url, auth = api(h)
    async with Cpe(h.urls["cwmp"]) as cpe, aiohttp.ClientSession(headers=auth) as s:
        await _register(h, cpe)
        async with s.post(f"{url}/devices/{cpe.device_id}/deprovision",
                          json={"method": "factory-reset"}) as r:
            assert r.status == 202
        reqs = await cpe.session(["6 CONNECTION REQUEST"])
        assert [type(q).__name__ for q in reqs] == ["FactoryReset"]
        assert h.store.get_device(cpe.device_id).state == "deprovisioned"
        # back from the factory reset: refused, and no registration happens
        r = await cpe.inform(["0 BOOTSTRAP", "1 BOOT"])
        assert r.status == 500 and r.body.code == 8001
        assert "de-provisioned" in r.body.string
        assert len(h.store.list_tasks(cpe.device_id)) == 2  # provision + reset, nothing new
        assert kinds(h, "hms.refused")[-1].fields["reason"] == "de-provisioned by the operator"
        async with s.post(f"{url}/devices/{cpe.device_id}/allow") as r:
            assert r.status == 200 and (await r.json())["state"] == "new"
        reqs = await cpe.session(["0 BOOTSTRAP", "1 BOOT"])
        assert [type(q).__name__ for q in reqs] == ["SetParameterValues"]
    assert h.store.get_device(cpe.device_id).state == "registered"


async def test_deprovision_by_spv_reset(hms_factory) -> None:
    h = await hms_factory(provisioning=SERVING["provisioning"], deprovision={
        "method": "spv", "params": {P.FAPGW_SERVER1: "", "Device.IPsec.Enable": False}})
    url, auth = api(h)
    async with Cpe(h.urls["cwmp"]) as cpe, aiohttp.ClientSession(headers=auth) as s:
        await _register(h, cpe)
        async with s.post(f"{url}/devices/{cpe.device_id}/deprovision") as r:
            assert r.status == 202
        (spv,) = await cpe.session(["2 PERIODIC"])
        assert {p.name: p.value for p in spv.parameters} == {P.FAPGW_SERVER1: "",
                                                             "Device.IPsec.Enable": "false"}
        r = await cpe.inform(["2 PERIODIC"])
        assert r.body.code == 8001


# ---- alarms (5.5.2) and the IPsec address change (5.2.2) -------------------------------------


def _alarm(n: int, ntype: str, t: str, source: str = "ExpeditedEvent") -> dict[str, str]:
    b = f"Device.FaultMgmt.{source}.{n}."
    return {b + "AlarmIdentifier": "A-77", b + "NotificationType": ntype, b + "EventTime": t,
            b + "ManagedObjectInstance": "Device.Services.FAPService.1",
            b + "EventType": "Communications Alarm", b + "ProbableCause": "Loss Of Signal",
            b + "SpecificProblem": "Iuh link down", b + "PerceivedSeverity": "Critical",
            b + "AdditionalText": "SCTP lost"}


async def test_alarms_stored_as_current_and_history(hms_factory) -> None:
    h = await hms_factory()
    url, auth = api(h)
    async with Cpe(h.urls["cwmp"]) as cpe, aiohttp.ClientSession(headers=auth) as s:
        await cpe.session(["4 VALUE CHANGE"], _alarm(1, "NewAlarm", "2026-12-03T12:00:00Z"))
        # the same event again (a retried Inform): not recorded twice
        await cpe.session(["4 VALUE CHANGE"], _alarm(1, "NewAlarm", "2026-12-03T12:00:00Z"))
        cur = h.store.current_alarms(cpe.device_id)
        assert len(cur) == 1 and cur[0]["data"]["PerceivedSeverity"] == "Critical"
        # a queued (passive) change rides in a periodic Inform, then the clear
        await cpe.session(["2 PERIODIC"], _alarm(1, "ChangedAlarm", "2026-12-03T12:05:00Z",
                                                 "QueuedEvent"))
        await cpe.session(["4 VALUE CHANGE"], _alarm(1, "ClearedAlarm", "2026-12-03T12:10:00Z"))
        async with s.get(f"{url}/alarms", params={"device": cpe.device_id}) as r:
            body = await r.json()
    assert body["current"] == []
    assert [a["notification_type"] for a in body["history"]] == ["NewAlarm", "ChangedAlarm",
                                                                "ClearedAlarm"]
    assert [e.fields["notification_type"] for e in kinds(h, "hms.alarm")] == [
        "NewAlarm", "ChangedAlarm", "ClearedAlarm"]


async def test_bad_alarm_entry_is_reported_not_stored(hms_factory) -> None:
    h = await hms_factory()
    params = _alarm(1, "Whatever", "2026-12-03T12:00:00Z")
    async with Cpe(h.urls["cwmp"]) as cpe:
        await cpe.session(["4 VALUE CHANGE"], params)
    assert h.store.alarm_history() == []
    assert "ExpeditedEvent.1.NotificationType" in kinds(h, "hms.alarm_invalid")[0].summary


async def test_inner_ipsec_address_change_updates_device(hms_factory) -> None:
    h = await hms_factory()
    sa = "Device.IPsec.IKEv2SA.1.LocalAddress"
    async with Cpe(h.urls["cwmp"]) as cpe:
        await cpe.session(["1 BOOT"], {sa: "10.20.0.2"})
        await cpe.session(["4 VALUE CHANGE"], {sa: "10.20.0.9"})
    assert h.store.get_device(cpe.device_id).inner_ip == "10.20.0.9"
    ev = kinds(h, "hms.inner_ip")
    assert [(e.fields["old"], e.fields["new"], e.fields["value_change"]) for e in ev] == [
        ("", "10.20.0.2", False), ("10.20.0.2", "10.20.0.9", True)]


# ---- sessions ------------------------------------------------------------------------------


async def test_answers_in_the_cpe_namespace_and_echoes_id(hms_factory) -> None:
    h = await hms_factory()
    async with Cpe(h.urls["cwmp"], ns=E.NS_1_0) as cpe:
        cpe.new_session()
        r = await cpe.post(cpe.inform_msg(["1 BOOT"]), id="my-id-17")
        assert r.env.ns == E.NS_1_0 and r.env.id == "my-id-17"
        assert b"urn:dslforum-org:cwmp-1-0" in r.raw
        r = await cpe.post(rpc.GetRPCMethods(), id="x2")
        assert r.body.methods == rpc.ACS_METHODS and r.env.id == "x2"
        r = await cpe.post(None)
        assert r.status == 204
    rx = [e for e in kinds(h, "cwmp.") if e.fields.get("msg") == "Inform"]
    assert rx[0].fields["dir"] == "in" and rx[0].fields["cwmp_id"] == "my-id-17"
    assert rx[0].fields["device"] == cpe.device_id


async def test_session_followed_without_cookies_by_connection(hms_factory) -> None:
    h = await hms_factory(provisioning=SERVING["provisioning"])
    async with Cpe(h.urls["cwmp"], cookies=False) as cpe:  # a CPE that ignores cookies
        reqs = await cpe.session(["1 BOOT"])
    assert len(reqs) == 1 and h.store.get_device(cpe.device_id).state == "registered"


async def test_abandoned_session_replaced_by_new_inform(hms_factory) -> None:
    h = await hms_factory(provisioning=SERVING["provisioning"])
    async with Cpe(h.urls["cwmp"], cookies=False) as cpe:
        await cpe.inform(["1 BOOT"])
        r = await cpe.post(None)
        assert isinstance(r.body, rpc.SetParameterValues)  # ...and the CPE never answers
        reqs = await cpe.session(["1 BOOT"])  # a new session: no fault, request again
    assert [type(q).__name__ for q in reqs] == ["SetParameterValues"]
    (task,) = h.store.list_tasks(cpe.device_id)
    assert task.state == "done" and task.attempts == 2
    assert "abandoned" in kinds(h, "hms.session.end")[0].fields["reason"]



async def test_idle_session_times_out_and_its_request_goes_back_on_the_queue(
        hms_factory) -> None:
    h = await hms_factory(provisioning=SERVING["provisioning"], session_timeout=0.2)
    async with Cpe(h.urls["cwmp"]) as quiet, Cpe(h.urls["cwmp"], serial="SER0002") as other:
        await quiet.inform(["1 BOOT"])
        r = await quiet.post(None)
        assert isinstance(r.body, rpc.SetParameterValues)  # ...and the CPE goes quiet
        spv, spv_id = r.body, r.env.id
        await asyncio.sleep(0.3)
        # the next request, another CPE's, finds the idle session and ends it
        assert [type(q).__name__ for q in await other.session(["1 BOOT"])] == [
            "SetParameterValues"]
        r = await quiet.post(quiet.answer(spv), id=spv_id)  # too late: no such session
        assert r.status == 500 and r.body.code == 8003
    (task,) = h.store.list_tasks(quiet.device_id)
    assert task.state == "queued" and task.attempts == 1
    (end,) = [e for e in kinds(h, "hms.session.end") if e.fields["device"] == quiet.device_id]
    assert end.fields["reason"] == "timed out"
    (requeued,) = kinds(h, "hms.task.requeued")
    assert requeued.fields["task"] == task.id and requeued.fields["reason"] == "timed out"

async def test_hold_requests(hms_factory) -> None:
    h = await hms_factory(hold_requests=True, provisioning=SERVING["provisioning"],
                          pm_upload={"interval": 60})
    async with Cpe(h.urls["cwmp"]) as cpe:
        r = await cpe.inform(["1 BOOT"])
        assert r.env.hold_requests is True
        r = await cpe.post(rpc.GetRPCMethods())  # not allowed while held
        assert r.status == 500 and r.body.code == 8003 and "HoldRequests" in r.body.string
        r = await cpe.post(None)
        assert isinstance(r.body, rpc.SetParameterValues) and r.env.hold_requests is True
        r = await cpe.post(cpe.answer(r.body), id=r.env.id)
        # the last request queued at Inform time releases the hold
        assert isinstance(r.body, rpc.AddObject) and r.env.hold_requests is False
        r = await cpe.post(cpe.answer(r.body), id=r.env.id)
        assert isinstance(r.body, rpc.SetParameterValues) and r.env.hold_requests is None
        r = await cpe.post(cpe.answer(r.body), id=r.env.id)
        assert r.status == 204


async def test_task_queue_survives_restart_mid_procedure(hms_factory, tmp_path: Path) -> None:
    h = await hms_factory(provisioning=SERVING["provisioning"])
    async with Cpe(h.urls["cwmp"]) as cpe:
        await cpe.session(["4 VALUE CHANGE"], _alarm(1, "NewAlarm", "2026-12-03T12:00:00Z"))
        h.store.update_device(cpe.device_id, state="new")
        r = await cpe.inform(["1 BOOT"])
        r = await cpe.post(None)
        assert isinstance(r.body, rpc.SetParameterValues)
        spv, spv_id = r.body, r.env.id
        await h.stop()  # the HMS goes down before the CPE answers

        h2 = await hms_factory(provisioning=SERVING["provisioning"])  # same state_dir
        assert h2.store.schema_version() >= 1
        first, task = [t for t in h2.store.list_tasks(cpe.device_id) if t.purpose == "provision"]
        assert first.state == "done"
        assert task.state == "queued" and task.attempts == 1
        assert len(h2.store.current_alarms(cpe.device_id)) == 1
        assert h2.store.get_device(cpe.device_id).state == "new"
        # the answer to the lost session's request is refused; the CPE starts over
        cpe.url = h2.urls["cwmp"]
        r = await cpe.post(cpe.answer(spv), id=spv_id)
        assert r.status == 500 and r.body.code == 8003
        reqs = await cpe.session(["1 BOOT"])
    assert [type(q).__name__ for q in reqs] == ["SetParameterValues"]
    assert h2.store.get_task(task.id).state == "done"
    assert h2.store.get_device(cpe.device_id).state == "registered"


async def test_unanswered_request_is_requeued_and_given_up(hms_factory) -> None:
    h = await hms_factory(max_attempts=2)
    url, auth = api(h)
    async with Cpe(h.urls["cwmp"]) as cpe, aiohttp.ClientSession(headers=auth) as s:
        await cpe.session(["1 BOOT"])
        async with s.post(f"{url}/devices/{cpe.device_id}/tasks",
                          json={"kind": "GPV", "args": {"names": ["Device.DeviceInfo."]}}) as r:
            assert r.status == 201
        for _ in range(2):  # the CPE answers the request with an empty POST, twice
            await cpe.inform(["2 PERIODIC"])
            r = await cpe.post(None)
            assert isinstance(r.body, rpc.GetParameterValues)
            assert (await cpe.post(None)).status == 204
        assert await cpe.session(["2 PERIODIC"]) == []
    (task,) = h.store.list_tasks(cpe.device_id)
    assert task.state == "failed" and "no response after 2 attempts" in task.result["error"]


async def test_cwmp_over_https_with_cpe_digest_auth(hms_factory, tmp_path: Path) -> None:
    paths = Pki.create(tmp_path / "pki", "t").issue_server("hms", dns=["localhost"],
                                                           ips=["127.0.0.1"])
    h = await hms_factory(tls_cert=str(paths.cert), tls_key=str(paths.key), https_port=0,
                          cpe_auth={"username": "hnb-1", "password": "s3cret"},
                          provisioning=SERVING["provisioning"])
    ctx = ssl.create_default_context(cafile=str(paths.ca))
    url = h.urls["cwmps"].replace("127.0.0.1", "localhost")
    good = (aiohttp.DigestAuthMiddleware("hnb-1", "s3cret"),)
    async with Cpe(url, ssl=ctx, middlewares=good) as cpe:
        reqs = await cpe.session(["0 BOOTSTRAP"])
    assert len(reqs) == 1 and h.store.get_device(cpe.device_id).state == "registered"
    bad = (aiohttp.DigestAuthMiddleware("hnb-1", "guess"),)
    async with Cpe(url, serial="INTRUDER", ssl=ctx, middlewares=bad) as cpe:
        r = await cpe.inform(["0 BOOTSTRAP"])
        assert r.status == 401
    async with aiohttp.ClientSession() as s, s.post(url, data=b"", ssl=ctx, headers={
            "Authorization": aiohttp.encode_basic_auth("hnb-1", "s3cret")}) as resp:
        assert resp.status == 400  # Basic is accepted too: on to "no session"
    assert h.store.get_device("00005A-INTRUDER") is None
    assert "wrong digest response" in kinds(h, "hms.auth_failed")[0].fields["reason"]
