"""The CWMP part of every TS 32.583 procedure, end to end in one process: the real HNB
management plane (lab.nodes.hnb.device.Hnb) against real HMS nodes (start_hms), over
real HTTP on 127.0.0.1 through a recording tap (procedures_support.CwmpTap). No Docker,
no IPsec, no DNS: those belong to the e2e tests. Each test is one procedure and asserts
what the HMS stored (store and operator API) and what the HNB's data model and events
show.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from lab.cwmp import envelope, rpc
from lab.datamodel.cmfile import write_cm_file
from lab.nodes.hms.server import HmsHandle
from lab.nodes.hnb import transfers
from lab.nodes.hnb.device import Hnb
from lab.pmfile import parse_meas_collec
from tests.unit import procedures_support
from tests.unit.procedures_support import (
    FACTORY_CR,
    FILES_PW,
    FILES_USER,
    GATEWAY,
    HMS_CR,
    LAT,
    LON,
    MS,
    WAIT,
    ProcLab,
    events_of,
    message_names,
    schema_problems,
)

proc = procedures_support.proc  # the fixture (starts the tap; stops every node at teardown)

PARIS = {"lat": [48.0, 49.5], "lon": [1.5, 3.5]}
LONDON = (51.5072, -0.1276)
FAP = "Device.Services.FAPService.1."
CELL_ID = FAP + "CellConfig.UMTS.RAN.CellID"
PLMN = FAP + "CellConfig.UMTS.CN.PLMNID"
HNB_NAME = FAP + "AccessMgmt.UMTS.HNBName"
IPSEC = "Device.IPsec.Enable"
SUPPORTED = "Device.FaultMgmt.SupportedAlarm."
PM1 = "Device.FAP.PerfMgmt.Config.1."
INNER_IP = "Device.IPsec.IKEv2SA.1.LocalAddress"

# what the serving HMS provisions at registration (5.2.1 step 5.3)
PROVISIONING: dict[str, Any] = {
    "params": {CELL_ID: 4242, PLMN: "00101", HNB_NAME: "paris-hnb-1"},
    "hnbgw": "hnbgw.serving.lab", "hnbgw_port": 29170, "ipsec": True,
}
SERVING: dict[str, Any] = {
    "provisioning": PROVISIONING,
    "connection_request": {"username": HMS_CR[0], "password": HMS_CR[1]},
}
# the alarm entries of the HNB's factory SupportedAlarm table used below
SEGW_DOWN = ("Communications Alarm", "Connection Establishment Error",
             "Security gateway unreachable")  # factory: Expedited (instance 1)
IUH_DOWN = ("Communications Alarm", "Loss Of Signal", "Iuh link down")  # Expedited (3)
TEMP_HIGH = ("Equipment Alarm", "Temperature Unacceptable", "Board temperature high")  # Queued (4)
# 5.5.1: the operator turns the factory mechanisms round, so only a working SPV explains
# what the HNB then does
ALARM_RULES = [
    {"match": {"SpecificProblem": TEMP_HIGH[2]}, "mechanism": "0 Expedited"},
    {"match": {"SpecificProblem": SEGW_DOWN[2]}, "mechanism": "1 Queued"},
    {"match": {"SpecificProblem": IUH_DOWN[2]}, "mechanism": "3 Disabled"},
]


async def _discovery_pair(proc: ProcLab, *, hnbgw: str | None = "hnbgw.paris.lab",
                          **serving: Any) -> tuple[HmsHandle, HmsHandle, str, str]:
    """A serving HMS, and an initial HMS whose one rule (Paris) points at it."""
    srv = await proc.hms("hms-serving", **serving)
    serving_url = proc.tap.route("serving", srv.urls["cwmp"])
    rule: dict[str, Any] = {"name": "paris", "match": PARIS, "serving_segw": "segw-paris.lab",
                            "serving_hms_url": serving_url}
    if hnbgw:
        rule["hnbgw"] = hnbgw
    ini = await proc.hms("hms-initial", role="initial", policy=[rule])
    return ini, srv, proc.tap.route("initial", ini.urls["cwmp"]), serving_url


async def _registered(proc: ProcLab, **over: Any) -> tuple[HmsHandle, Hnb, str]:
    """A serving HMS (SERVING settings + `over`) and an HNB registered with it."""
    hnb_kw = over.pop("hnb", {})
    srv = await proc.hms("hms", **{**SERVING, **over})
    hnb = await proc.hnb(proc.tap.route("serving", srv.urls["cwmp"]), **hnb_kw)
    dev = proc.device_id(hnb)
    await proc.until(lambda: (d := srv.store.get_device(dev)) and d.state == "registered",
                     f"{dev} registered")
    await proc.settled(srv, dev)
    await proc.quiet(hnb)
    return srv, hnb, dev


def _assert_provisioned(hnb: Hnb) -> None:
    assert hnb.get(CELL_ID) == "4242" and hnb.get(PLMN) == "00101"
    assert hnb.get(HNB_NAME) == "paris-hnb-1"
    assert hnb.get(GATEWAY + "FAPGWServer1") == "hnbgw.serving.lab"
    assert hnb.get(GATEWAY + "FAPGWPort") == "29170"
    assert hnb.get(IPSEC) == "true"
    assert (hnb.get(MS + "ConnectionRequestUsername"),
            hnb.get(MS + "ConnectionRequestPassword")) == HMS_CR


def _decoded(proc: ProcLab, route: str | None = None) -> list[tuple[str, Any]]:
    return [(who, envelope.decode(data).body) for who, data in proc.tap.messages(route)]


# ---- 5.1 discovery ---------------------------------------------------------------------------


async def test_discovery_then_bootstrap_at_serving_hms(proc: ProcLab) -> None:
    """5.1: Inform with identity and GPS; SPV of serving SeGW, serving HMS URL and HNB-GW;
    session released; the next session goes to the serving HMS with 0 BOOTSTRAP."""
    ini, srv, initial_url, serving_url = await _discovery_pair(proc)
    hnb = await proc.hnb(initial_url)
    dev = proc.device_id(hnb)

    first = await proc.session(hnb, ["0 BOOTSTRAP", "1 BOOT"])
    assert first.url == initial_url
    assert first.received == ["InformResponse", "SetParameterValues", "empty"]
    assert first.inform is not None and first.inform.device_id.serial_number == "HNB0001"
    told = {p.name: p.value for p in first.inform.parameters}
    assert (told[LAT], told[LON]) == ("48856600", "2352200")  # micro-degrees (TR-262)
    rec = await proc.session(hnb, ["0 BOOTSTRAP"], after=first.index + 1)
    assert rec.url == serving_url and rec.events == ["0 BOOTSTRAP"]

    # the SPV the initial HMS sent, as the HNB received it
    spv = next(b for who, b in _decoded(proc, "initial")
               if isinstance(b, rpc.SetParameterValues))
    assert {p.name: p.value for p in spv.parameters} == {
        GATEWAY + "SecGWServer1": "segw-paris.lab", MS + "URL": serving_url,
        GATEWAY + "FAPGWServer1": "hnbgw.paris.lab"}
    assert hnb.get(GATEWAY + "SecGWServer1") == "segw-paris.lab"
    assert hnb.get(GATEWAY + "FAPGWServer1") == "hnbgw.paris.lab"
    assert hnb.get(MS + "URL") == serving_url
    assert events_of(hnb.events, "cwmp.url_changed")[0].fields["new"] == serving_url

    d = ini.store.get_device(dev)
    assert d is not None and d.location["lat"] == 48.8566 and d.location["lon"] == 2.3522
    assert d.assigned == {"serving_segw": "segw-paris.lab", "serving_hms_url": serving_url,
                          "hnbgw": "hnbgw.paris.lab"}
    (task,) = ini.store.list_tasks(dev)
    assert (task.purpose, task.kind, task.state) == ("assign", "SPV", "done")
    assert events_of(ini, "hms.location")[0].fields["rule"] == "paris"
    assert len(events_of(ini, "hms.session.start")) == 1  # released, never came back
    s = await proc.until(lambda: srv.store.get_device(dev), "the serving HMS to know the HNB")
    assert s.last_events == ["0 BOOTSTRAP"]


async def test_discovery_refused_outside_every_rule_and_retried(proc: ProcLab) -> None:
    """5.1 step 5: a location no rule serves gets Fault 8001 and the HNB retries with a
    growing RetryCount; an HNB in Paris, at the same time, is assigned (without HNB-GW:
    this policy leaves it to the serving HMS)."""
    ini, _srv, initial_url, serving_url = await _discovery_pair(proc, hnbgw=None)
    london = await proc.hnb(initial_url, "HNB-LDN", gps=LONDON)
    paris = await proc.hnb(initial_url, "HNB-PAR")
    ldn = proc.device_id(london)

    failed = [await proc.session(london, ok=False)]
    failed.append(await proc.session(london, ok=False, after=failed[0].index + 1))
    await proc.session(paris, ["0 BOOTSTRAP"], after=1)  # at the serving HMS

    assert all("8001" in r.error for r in failed)
    assert [r.retry_count for r in failed] == [0, 1]
    assert failed[1].events == ["0 BOOTSTRAP", "1 BOOT"]  # nothing was delivered
    assert london.get(MS + "URL") == initial_url  # still at the initial HMS
    assert london.get(GATEWAY + "SecGWServer1") == ""
    refused = events_of(ini, "hms.refused", device=ldn)
    assert len(refused) >= 2 and refused[0].fields["fault"] == 8001
    assert "location" in refused[0].fields["reason"]
    assert ini.store.list_tasks(ldn) == []
    faults = [b for who, b in _decoded(proc, "initial") if isinstance(b, rpc.Fault)]
    assert faults and {f.code for f in faults} == {8001}
    # Paris: SeGW and HMS only
    assert paris.get(MS + "URL") == serving_url
    assert paris.get(GATEWAY + "FAPGWServer1") == ""
    assert ini.store.get_device(proc.device_id(paris)).assigned["hnbgw"] is None


# ---- 5.2.1 registration (5.3.2 SPV and 5.3.1 CM download) ------------------------------------


async def test_registration_with_spv(proc: ProcLab) -> None:
    """5.2.1 steps 5.1-5.4: Inform, InformResponse, SPV with the configuration, the HNB-GW
    and the IPsec usage indicator, SPV response; the device is registered."""
    srv, hnb, dev = await _registered(proc)
    _assert_provisioned(hnb)
    (task,) = srv.store.list_tasks(dev)
    assert (task.purpose, task.kind, task.state) == ("provision", "SPV", "done")
    assert task.result["status"] == 0
    # the ParameterKey the SPV carried is the task's (TR-069: the ACS's way to know)
    assert hnb.get(MS + "ParameterKey") == task.command_key
    d = await proc.api(srv, "GET", f"/api/devices/{dev}")
    assert d["state"] == "registered" and d["params"][CELL_ID] == "4242"
    assert d["cr_url"] == hnb.connection_request_url
    names = message_names(proc.tap.messages())
    assert names == ["cpe:Inform", "acs:InformResponse", "acs:SetParameterValues",
                     "cpe:SetParameterValuesResponse"]


async def test_registration_with_cm_download(proc: ProcLab) -> None:
    """5.2.1 steps 5.3-bis/5.4-bis: Download of a generated CM file, fetched from the HMS
    file server, applied, then TransferComplete with FaultCode 0 in a new session."""
    srv, hnb, dev = await _registered(proc, cm_mode="download")
    _assert_provisioned(hnb)
    (task,) = srv.store.list_tasks(dev)
    assert (task.purpose, task.kind, task.state) == ("provision", "Download", "done")
    assert task.result["response"] == "TransferComplete" and task.result["fault"] == 0
    (cm,) = srv.store.list_files("cm")
    assert cm.device == dev and task.args["url"].endswith("/cm/" + cm.name)
    applied = events_of(hnb.events, "cm.applied")
    assert applied and CELL_ID in applied[0].fields["changed"]
    rec = await proc.session(hnb, ["7 TRANSFER COMPLETE"])
    assert "M Download" in rec.events and rec.sent[1] == "TransferComplete"
    (tc,) = [b for who, b in _decoded(proc) if isinstance(b, rpc.TransferComplete)]
    assert tc.fault_code == 0 and tc.command_key == task.command_key


async def test_spv_update_by_connection_request(proc: ProcLab) -> None:
    """5.3.2 after registration: the operator queues an SPV and asks for a connection
    request; the HNB opens a session with 6 CONNECTION REQUEST and applies it. The
    connection request authenticates with the credentials the HMS provisioned."""
    srv, hnb, dev = await _registered(proc)
    n = len(hnb.sessions)
    out = await proc.api(srv, "POST", f"/api/devices/{dev}/tasks", {
        "kind": "SPV", "args": {"parameters": {CELL_ID: 777, HNB_NAME: "renamed"}},
        "connection_request": True})
    assert out["connection_request"]["ok"], out
    rec = await proc.session(hnb, ["6 CONNECTION REQUEST"], after=n)
    assert rec.received == ["InformResponse", "SetParameterValues", "empty"]
    assert hnb.get(CELL_ID) == "777" and hnb.get(HNB_NAME) == "renamed"
    task = await proc.until(
        lambda: (t := srv.store.get_task(out["task"]["id"])) and t.state == "done" and t,
        "the SPV task done")
    assert task.result["status"] == 0
    assert srv.store.get_device(dev).params[CELL_ID] == "777"
    assert events_of(hnb.events, "connreq.rx")


async def test_cm_download_update_by_connection_request(proc: ProcLab) -> None:
    """5.3.1 after registration: the operator offers a CM file and triggers a Download by
    connection request; the HNB fetches it from the HMS file server, installs it and
    reports FaultCode 0. A file with one illegal value installs nothing (9018)."""
    srv, hnb, dev = await _registered(proc)

    async def download(name: str, values: dict[str, str]) -> Any:
        data = write_cm_file(values, local_dn=f"HNB-{dev}")
        await proc.api(srv, "POST", "/api/files/cm", {"name": name, "content": data.decode()})
        out = await proc.api(srv, "POST", f"/api/devices/{dev}/tasks", {
            "kind": "Download", "args": {"cm_file": name}, "connection_request": True})
        assert out["connection_request"]["ok"], out
        task = await proc.until(
            lambda: (t := srv.store.get_task(out["task"]["id"])) and t.finished and t,
            f"TransferComplete for {name}")
        # the TRANSFER COMPLETE session would carry the next task: the operator's next
        # connection request is for a quiet HNB
        await proc.quiet(hnb)
        return task

    good = await download("update-1.xml", {CELL_ID: "999", HNB_NAME: "updated"})
    assert good.state == "done" and good.result["fault"] == 0
    assert (hnb.get(CELL_ID), hnb.get(HNB_NAME)) == ("999", "updated")
    bad = await download("update-2.xml", {HNB_NAME: "never", CELL_ID: "999999999"})
    assert bad.state == "failed" and bad.result["fault"] == 9018
    assert CELL_ID in bad.result["fault_string"]
    assert (hnb.get(CELL_ID), hnb.get(HNB_NAME)) == ("999", "updated")  # all or nothing
    downloads = [e for e in events_of(hnb.events, "transfer.download") if
                 e.fields["state"] == "end"]
    assert [e.fields["fault_code"] for e in downloads] == [0, 9018]
    # both sides record the TransferComplete's FaultCode and CommandKey (5.3.1 D), and the
    # HNB's record of each Download names the session it came in: the connection request's
    sent = [e.fields for e in events_of(hnb.events, "cwmp.tx")
            if e.fields["msg"] == "TransferComplete"]
    got = [e.fields for e in events_of(srv, "cwmp.rx") if e.fields["msg"] == "TransferComplete"]
    for side in (sent, got):
        assert [(f["fault_code"], f["command_key"]) for f in side] == [
            (0, good.command_key), (9018, bad.command_key)]
    rx = [e for e in events_of(hnb.events, "cwmp.rx") if e.fields["msg"] == "Download"]
    assert len(rx) == 2 and all("6 CONNECTION REQUEST" in e.fields["events"] for e in rx)


async def test_http_transfers_in_the_same_second(proc: ProcLab) -> None:
    """Two HNB downloads (lab.nodes.hnb.transfers, fresh client each, as the HNB does)
    from the HMS file server back to back: both must succeed (each Digest challenge has
    its own nonce, so the second client's nc=1 is no replay)."""
    srv = await proc.hms("hms", **SERVING)
    data = write_cm_file({HNB_NAME: "x"})
    srv.area.add_cm("same-second.xml", data)
    url = srv.ctx.cm_url("same-second.xml")
    for _ in range(3):  # three pairs: not all of them can straddle a second boundary
        for _ in range(2):
            assert await transfers.download(url, FILES_USER, FILES_PW) == data


async def test_inner_ipsec_address_change_reported(proc: ProcLab) -> None:
    """5.2.2: a new inner IPsec address makes the HNB open a session at once and report it
    in the Inform (4 VALUE CHANGE); the HMS records it for the device."""
    srv, hnb, dev = await _registered(proc)
    n = len(hnb.sessions)
    assert hnb.set_internal(INNER_IP, "10.20.0.7")
    rec = await proc.session(hnb, ["4 VALUE CHANGE"], after=n)
    assert {p.name: p.value for p in rec.inform.parameters}[INNER_IP] == "10.20.0.7"
    assert srv.store.get_device(dev).inner_ip == "10.20.0.7"
    (ev,) = events_of(srv, "hms.inner_ip", device=dev)
    assert ev.fields["new"] == "10.20.0.7" and ev.fields["value_change"] is True


# ---- 5.4 de-provisioning ---------------------------------------------------------------------


async def test_deprovision_by_factory_reset_then_allow(proc: ProcLab) -> None:
    """5.4 FactoryReset: the reset happens only after the session completed (a GPV later in
    the same session still reads the provisioned values); the HNB comes back with
    0 BOOTSTRAP, is refused (8001) while de-provisioned, and registers again once the
    operator allows it."""
    srv, hnb, dev = await _registered(proc)
    n = len(hnb.sessions)
    await proc.api(srv, "POST", f"/api/devices/{dev}/deprovision", {"method": "factory-reset"})
    gpv = await proc.api(srv, "POST", f"/api/devices/{dev}/tasks",
                         {"kind": "GPV", "args": {"names": [CELL_ID]},
                          "connection_request": True})
    assert gpv["connection_request"]["ok"], gpv

    cr = await proc.session(hnb, ["6 CONNECTION REQUEST"], after=n)
    assert cr.received == ["InformResponse", "FactoryReset", "GetParameterValues", "empty"]
    done = srv.store.get_task(gpv["task"]["id"])
    assert done is not None and done.result["parameters"] == {CELL_ID: "4242"}
    # in the HNB's log: that session ended, then the reset, then the next session began
    ends, starts = _session_marks(hnb, "end"), _session_marks(hnb, "start")
    (reset_at,) = [i for i, e in enumerate(hnb.events.memory)
                   if e.kind == "cwmp.factory_reset"]
    assert ends[cr.index] < reset_at < starts[cr.index + 1]

    refused = await proc.session(hnb, ["0 BOOTSTRAP", "1 BOOT"], after=cr.index + 1, ok=False)
    assert "8001" in refused.error
    assert (hnb.get(CELL_ID), hnb.get(HNB_NAME)) == ("0", "")  # factory values again
    assert hnb.get(MS + "ConnectionRequestUsername") == FACTORY_CR[0]
    d = srv.store.get_device(dev)
    assert d.state == "deprovisioned" and not d.allowed
    assert events_of(srv, "hms.refused", device=dev)[0].fields["state"] == "deprovisioned"

    await proc.api(srv, "POST", f"/api/devices/{dev}/allow")
    back = await proc.session(hnb, ["0 BOOTSTRAP"], after=refused.index + 1)
    assert back.received == ["InformResponse", "SetParameterValues", "empty"]
    await proc.until(lambda: srv.store.get_device(dev).state == "registered", "re-registration")
    _assert_provisioned(hnb)


def _session_marks(hnb: Hnb, state: str) -> list[int]:
    """Positions in the HNB's event log of each session's start or end, by session index."""
    return [i for i, e in enumerate(hnb.events.memory)
            if e.kind == "cwmp.session" and e.fields.get("state") == state]


async def test_deprovision_by_spv_then_allow(proc: ProcLab) -> None:
    """5.4 SetParameterValues: the operator's parameter set is reset on the HNB; its next
    session is refused (8001) until the operator allows it, then it registers again."""
    srv, hnb, dev = await _registered(proc, deprovision={
        "method": "spv", "params": {FAP + "FAPControl.UMTS.AdminState": False,
                                    GATEWAY + "FAPGWServer1": "", CELL_ID: 0}})
    n = len(hnb.sessions)
    out = await proc.api(srv, "POST", f"/api/devices/{dev}/deprovision",
                         {"method": "spv", "connection_request": True})
    assert out["connection_request"]["ok"], out
    await proc.session(hnb, ["6 CONNECTION REQUEST"], after=n)
    assert hnb.get(FAP + "FAPControl.UMTS.AdminState") == "false"
    assert hnb.get(GATEWAY + "FAPGWServer1") == "" and hnb.get(CELL_ID) == "0"
    await proc.until(lambda: srv.store.get_device(dev).state == "deprovisioned",
                     "de-provisioned")

    n = len(hnb.sessions)
    await proc.api(srv, "POST", f"/api/devices/{dev}/connection-request")
    refused = await proc.session(hnb, ["6 CONNECTION REQUEST"], after=n, ok=False)
    assert "8001" in refused.error
    assert hnb.get(CELL_ID) == "0"  # no registration happened

    await proc.api(srv, "POST", f"/api/devices/{dev}/allow")
    n = len(hnb.sessions)
    await proc.api(srv, "POST", f"/api/devices/{dev}/connection-request")
    await proc.session(hnb, ["6 CONNECTION REQUEST"], after=n)
    await proc.until(lambda: srv.store.get_device(dev).state == "registered", "re-registration")
    _assert_provisioned(hnb)
    provisions = [t for t in srv.store.list_tasks(dev) if t.purpose == "provision"]
    assert [t.state for t in provisions] == ["done", "done"]


# ---- 5.5 alarms ------------------------------------------------------------------------------


async def test_alarm_reporting_configured_then_reported(proc: ProcLab) -> None:
    """5.5.1: the HMS sets SupportedAlarm ReportingMechanism by SPV (after reading the
    table). 5.5.2: an expedited alarm opens a session at once (4 VALUE CHANGE); a queued
    one rides only in the next session; a disabled one is never reported."""
    srv, hnb, dev = await _registered(proc, alarm_reporting=ALARM_RULES)
    purposes = [(t.purpose, t.kind, t.state) for t in srv.store.list_tasks(dev)]
    assert ("alarm-read", "GPV", "done") in purposes
    assert ("alarm-config", "SPV", "done") in purposes
    assert hnb.get(SUPPORTED + "4.ReportingMechanism") == "0 Expedited"  # TEMP_HIGH
    assert hnb.get(SUPPORTED + "1.ReportingMechanism") == "1 Queued"  # SEGW_DOWN
    assert hnb.get(SUPPORTED + "3.ReportingMechanism") == "3 Disabled"  # IUH_DOWN
    assert hnb.get(SUPPORTED + "2.ReportingMechanism") == "0 Expedited"  # no rule: factory

    # queued: nothing asks for a session; the alarm waits for the next one
    n = len(hnb.sessions)
    queued = hnb.raise_alarm(*SEGW_DOWN, "Major")
    assert queued.mechanism == "1 Queued" and queued.event_entry
    active, passive = hnb.model.pending_notifications()
    assert active == [] and queued.event_entry + "AlarmIdentifier" in passive
    await asyncio.sleep(0.3)  # room for a session that must not happen
    assert len(hnb.sessions) == n and srv.store.current_alarms(dev) == []

    # disabled: not even recorded on the HNB
    disabled = hnb.raise_alarm(*IUH_DOWN, "Critical")
    assert disabled.mechanism == "3 Disabled" and disabled.notification_type == ""

    # expedited: a session now, which also carries the queued alarm
    expedited = hnb.raise_alarm(*TEMP_HIGH, "Minor", "Device.Temperature.1")
    rec = await proc.session(hnb, ["4 VALUE CHANGE"], after=n)
    assert rec.index == n and rec.events == ["4 VALUE CHANGE"]
    told = {p.name for p in rec.inform.parameters}
    assert expedited.event_entry + "AlarmIdentifier" in told
    assert queued.event_entry + "AlarmIdentifier" in told
    current = {a["alarm_id"]: a["data"] for a in srv.store.current_alarms(dev)}
    assert set(current) == {queued.alarm_id, expedited.alarm_id}
    assert current[expedited.alarm_id]["PerceivedSeverity"] == "Minor"
    assert current[expedited.alarm_id]["ManagedObjectInstance"] == "Device.Temperature.1"
    assert current[queued.alarm_id]["SpecificProblem"] == SEGW_DOWN[2]

    # clearing the expedited alarm is reported at once too
    cleared = hnb.clear_alarm(*TEMP_HIGH, "Device.Temperature.1")
    assert cleared is not None and cleared.mechanism == "0 Expedited"
    await proc.session(hnb, ["4 VALUE CHANGE"], after=rec.index + 1)
    api = await proc.api(srv, "GET", f"/api/alarms?device={dev}")
    assert [a["alarm_id"] for a in api["current"]] == [queued.alarm_id]
    history = [(h["alarm_id"], h["notification_type"]) for h in api["history"]]
    assert sorted(history) == sorted([(queued.alarm_id, "NewAlarm"),
                                      (expedited.alarm_id, "NewAlarm"),
                                      (expedited.alarm_id, "ClearedAlarm")])
    assert all(h["data"].get("SpecificProblem") != IUH_DOWN[2] for h in api["history"])


# ---- 5.6 PM ----------------------------------------------------------------------------------


async def test_pm_upload_over_every_transport_then_disabled(proc: ProcLab) -> None:
    """5.6.1: the HMS adds a PerfMgmt.Config instance and sets URL, credentials and the
    period; 5.6.2: the HNB uploads one measCollec file per period, over HTTP, HTTPS (HMS
    certificate from lab.pki), FTP, FTPS and SFTP in turn; Enable false stops it."""
    cert, _ca = proc.pki()
    # PeriodicUploadInterval 120 s; the HNB's time_scale makes a period 60 ms
    srv, hnb, dev = await _registered(
        proc, pm_upload={"interval": 120}, tls_cert=str(cert.cert), tls_key=str(cert.key),
        files={"https_port": 0, "ftp_port": 0, "ftps_port": 0, "sftp_port": 0},
        hnb={"tls": True})
    assert (hnb.get(PM1 + "Enable"), hnb.get(PM1 + "PeriodicUploadInterval")) == ("true", "120")
    assert hnb.get(PM1 + "URL") == srv.ctx.pm_url("http")
    assert hnb.get(PM1 + "Username") == FILES_USER and hnb.get(PM1 + "Password") == FILES_PW
    kinds = {t.purpose: t.kind for t in srv.store.list_tasks(dev)}
    assert kinds["pm-add"] == "AddObject" and kinds["pm-config"] == "SPV"

    def arrived(transport: str) -> list[Any]:
        return [f for f in srv.store.list_files("pm") if f.transport == transport]

    for transport in ("http", "https", "ftp", "ftps", "sftp"):
        if transport != "http":
            url = srv.ctx.pm_url(transport)
            assert url.startswith(f"{transport}://"), url
            out = await proc.api(srv, "POST", f"/api/devices/{dev}/tasks", {
                "kind": "SPV", "args": {"parameters": {PM1 + "URL": url}},
                "connection_request": True})
            assert out["connection_request"]["ok"], out
        files = await proc.until(lambda t=transport: arrived(t), f"a PM file over {transport}")
        f = files[0]
        assert f.device == dev and f.name.startswith("A") and f.name.endswith(".xml")
        with open(f.path, "rb") as fh:
            meas = parse_meas_collec(fh.read())
        assert meas.sender == f"HNB-{dev}" and meas.begin_time <= meas.end_time
        assert meas.counters()["RRC.AttConnEstab.Sum"] >= meas.counters()[
            "RRC.SuccConnEstab.Sum"]

    n = len(hnb.sessions)
    await proc.api(srv, "POST", f"/api/devices/{dev}/tasks", {
        "kind": "SPV", "args": {"parameters": {PM1 + "Enable": False}},
        "connection_request": True})
    await proc.session(hnb, ["6 CONNECTION REQUEST"], after=n)
    await asyncio.wait_for(hnb.pm.wait_idle(), WAIT)
    # FTP records a file just after its 226 reply: let the last one land first
    await proc.until(lambda: len(srv.store.list_files("pm")) >= len(hnb.pm.uploaded),
                     "every uploaded file recorded")
    count, cycles = len(srv.store.list_files("pm")), hnb.pm.cycles
    await asyncio.sleep(0.5)  # about eight periods: none may produce a file
    assert (len(srv.store.list_files("pm")), hnb.pm.cycles) == (count, cycles)
    assert not [e for e in events_of(hnb.events, "pm.upload_failed")
                if e.fields["file"] not in {f.name for f in srv.store.list_files("pm")}]


# ---- the HMS restarted mid-way ---------------------------------------------------------------


async def test_hms_restart_loses_no_device_task_or_alarm(proc: ProcLab) -> None:
    """The serving HMS is stopped and a new one started on the same state directory: the
    device, a queued operator task and the alarms survive; an alarm raised while the HMS
    was down arrives by the HNB's retries, and the queued task runs in that session."""
    srv, hnb, dev = await _registered(proc, alarm_reporting=ALARM_RULES)
    first = hnb.raise_alarm(*TEMP_HIGH, "Minor")
    await proc.until(lambda: srv.store.current_alarms(dev), "the first alarm at the HMS")
    await proc.quiet(hnb)  # so the task below waits for a later session
    task = (await proc.api(srv, "POST", f"/api/devices/{dev}/tasks",
                           {"kind": "GPV", "args": {"names": [CELL_ID]}}))["task"]
    before = [(t.id, t.state) for t in srv.store.list_tasks(dev)]

    await srv.stop()
    n = len(hnb.sessions)
    second = hnb.raise_alarm(*TEMP_HIGH, "Minor", "Device.Temperature.2")
    failed = await proc.session(hnb, ["4 VALUE CHANGE"], after=n, ok=False)
    assert "502" in failed.error  # the tap could not reach the HMS

    new = await proc.restart(srv)
    assert new.ports["cwmp"] == srv.ports["cwmp"]
    d = await proc.api(new, "GET", f"/api/devices/{dev}")
    assert d["state"] == "registered" and d["params"][CELL_ID] == "4242"
    assert [(t["id"], t["state"]) for t in
            await proc.api(new, "GET", f"/api/devices/{dev}/tasks")] == before
    assert [a["alarm_id"] for a in new.store.current_alarms(dev)] == [first.alarm_id]

    rec = await proc.session(hnb, ["4 VALUE CHANGE"], after=failed.index + 1)
    assert rec.retry_count >= 1 and "GetParameterValues" in rec.received
    done = new.store.get_task(task["id"])
    assert done is not None and done.state == "done"
    assert done.result["parameters"] == {CELL_ID: "4242"}
    assert {a["alarm_id"] for a in new.store.current_alarms(dev)} == {first.alarm_id,
                                                                      second.alarm_id}
    assert len(new.store.alarm_history(dev)) == 2


# ---- HNBs behind one address ----------------------------------------------------------------


async def test_hnbs_behind_one_address_keep_their_own_sessions(proc: ProcLab) -> None:
    """Two HNBs behind one NAT (here: both on 127.0.0.1): B's Inform, arriving while A's
    session is open, must not end A's session (the HMS follows sessions by cookie)."""
    srv = await proc.hms("hms", **SERVING)
    url = srv.urls["cwmp"]

    def inform(serial: str) -> bytes:
        return envelope.encode(rpc.Inform(
            device_id=rpc.DeviceId("hnblab", "00A0B1", "HNB", serial),
            events=[rpc.EventStruct("1 BOOT")], current_time="2026-12-03T12:00:00Z"), id="1")

    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as a, \
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as b:
        for http, serial in ((a, "NAT-A"), (b, "NAT-B")):
            async with http.post(url, data=inform(serial)) as r:
                assert r.status == 200, await r.text()
        for http in (a, b):  # each goes on with its own session: provisioning SPV
            async with http.post(url, data=b"") as r:
                assert r.status == 200, await r.text()
                assert isinstance(envelope.decode(await r.read()).body,
                                  rpc.SetParameterValues)
    ends = events_of(srv, "hms.session.end")
    assert not [e for e in ends if "abandoned" in e.fields["reason"]]


# ---- every message against the CWMP schemas --------------------------------------------------


async def test_every_cwmp_message_of_a_full_procedure_is_schema_valid(proc: ProcLab) -> None:
    """Discovery (one HNB assigned, one refused with a Fault), then registration with CM
    download, alarm and PM configuration: every envelope either side sent, as it crossed
    the wire, passes cwmp_xsd_check."""
    _, srv, initial_url, _ = await _discovery_pair(
        proc, **SERVING, cm_mode="download", alarm_reporting=ALARM_RULES,
        pm_upload={"interval": 3600})
    hnb = await proc.hnb(initial_url)
    refused = await proc.hnb(initial_url, "HNB-LDN", gps=LONDON)
    dev = proc.device_id(hnb)
    await proc.session(refused, ok=False)
    await proc.until(lambda: (d := srv.store.get_device(dev)) and d.state == "registered",
                     "registration")
    await proc.settled(srv, dev)
    await proc.until(lambda: not hnb.client.queue.transfers, "TransferComplete delivered")
    await proc.quiet(hnb)

    messages = proc.tap.messages()
    names = {n.split(":", 1)[1] for n in message_names(messages)}
    assert names >= {"Inform", "InformResponse", "SetParameterValues",
                     "SetParameterValuesResponse", "Download", "DownloadResponse",
                     "TransferComplete", "TransferCompleteResponse", "GetParameterValues",
                     "GetParameterValuesResponse", "AddObject", "AddObjectResponse", "Fault"}
    assert not schema_problems(messages)
    assert len(messages) >= 20
