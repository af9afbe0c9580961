"""CM, IPsec re-addressing, de-provisioning, alarms and PM (TS 32.583 5.2.2-5.6) matched
over synthetic runs shaped like the nodes' events."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from lab import topology
from lab.evidence.events import Event
from lab.flows import FLOWS, match, suggest_binding
from lab.flows.matcher import FlowResult, scenario_unexpected
from scenarios.checks import (
    accepted_while_refused,
    backlog_delivered,
    download_failed,
    download_only,
    not_measCollec,
    periodic,
    queued_report,
    spv_faults,
)
from tests.unit import test_flows_fixtures as F


def after_registration(r: F.Run, flow: str) -> FlowResult:
    """Match from just after the registration the fixture ran first."""
    start = max(e.time for e in r.events if e.kind == "hnbap.rx") + 1.0
    return match(FLOWS[flow], suggest_binding(r.topo), r.events, r.topo, start=start)


def statuses(res: FlowResult) -> dict[str, str]:
    return {v.step.id: v.status for v in res.steps}


def test_ipsec_address_change_is_reported_by_inform() -> None:
    r = F.readdress()
    res = after_registration(r, "5.2.2")
    assert res.verdict == "pass", statuses(res)
    b = {v.step.id: v for v in res.steps}["B"]
    kinds = {e.kind for e in b.events}
    assert {"cwmp.tx", "cwmp.rx", "hms.inner_ip"} <= kinds
    # the HMS saw the HNB at its new inner address and still knew it was hnb1
    rx = next(e for e in b.events if e.kind == "cwmp.rx")
    assert rx.peer == r.inner["hnb1"] and rx.peer.endswith(".129")


def test_cm_file_download_flow() -> None:
    r = F.intranet(cm="download")
    res = match(FLOWS["5.3.1"], suggest_binding(r.topo), r.events, r.topo,
                start=r.events[0].time)
    st = statuses(res)
    assert res.verdict == "pass", st
    assert st["CR"] == "skipped"  # right after registration: no connection request needed
    c = {v.step.id: v for v in res.steps}["C"]
    assert {e.kind for e in c.events} == {"file.tx", "transfer.download"}


def test_cm_by_spv_after_connection_request() -> None:
    res = after_registration(F.operator_spv(), "5.3.2")
    assert statuses(res) == {"CR": "passed", "A": "passed", "B": "passed"}
    cr = {v.step.id: v for v in res.steps}["CR"]
    assert {e.node for e in cr.events} == {"hnb1", "hms-serving"}  # one arrow, two records


def test_cm_by_spv_fault_fails_step_b() -> None:
    res = after_registration(F.operator_spv(fault=True), "5.3.2")
    b = {v.step.id: v for v in res.steps}["B"]
    assert b.status == "failed" and "9005" in b.reason
    assert [u.why for u in res.unexpected] == ["HMS task failed"]


def test_factory_reset_then_refused_until_allowed() -> None:
    r = F.factory_reset()
    fr = after_registration(r, "5.4-1")
    assert fr.verdict == "pass", statuses(fr)
    six = {v.step.id: v for v in fr.steps}["6"]
    five = {v.step.id: v for v in fr.steps}["5"]
    assert six.time is not None and five.time is not None and six.time > five.time
    refused = after_registration(r, "5.4-refused")
    assert refused.verdict == "pass", statuses(refused)
    # the refusal is the evidence 5.4 expects, so the scenario lists nothing unexpected
    # (but the re-provisioning request, which no step of 5.4 claims, for information)
    assert [u for u in scenario_unexpected([fr, refused]) if not u.info] == []
    assert [u.why for u in fr.unexpected] == ["HMS request no step accounts for "
                                              "(task provision)"]


def test_refusal_without_allow_leaves_steps_missing() -> None:
    res = after_registration(F.factory_reset(allow=False), "5.4-refused")
    st = statuses(res)
    assert st == {"1": "passed", "2": "passed", "3": "missing", "4": "missing"}


def test_spv_deprovisioning() -> None:
    res = after_registration(F.spv_deprovision(), "5.4-2")
    assert res.verdict == "pass", statuses(res)
    four = {v.step.id: v for v in res.steps}["4"]
    assert "hms.deprovisioned" in {e.kind for e in four.events}


def test_alarm_and_pm_configuration_are_told_apart_by_task_purpose() -> None:
    r = F.alarm_and_pm_config()
    alarm, pm = after_registration(r, "5.5.1"), after_registration(r, "5.6.1")
    assert alarm.verdict == pm.verdict == "pass"
    a1 = {v.step.id: v for v in alarm.steps}["1"].messages[0]
    p3 = {v.step.id: v for v in pm.steps}["3"].messages[0]
    assert a1.index != p3.index
    assert (a1.fields["purpose"], p3.fields["purpose"]) == ("alarm-config", "pm-config")


def test_alarm_report_by_inform() -> None:
    res = after_registration(F.alarm_report(), "5.5.2")
    assert statuses(res) == {"0": "passed", "1": "passed", "2": "passed"}


def test_pm_upload_and_its_failure() -> None:
    ok = after_registration(F.pm_upload(), "5.6.2")
    assert ok.verdict == "pass"
    one = {v.step.id: v for v in ok.steps}["1"]
    assert {e.kind for e in one.events} == {"file.rx", "pm.upload"}
    bad = after_registration(F.pm_upload(ok=False), "5.6.2")
    assert statuses(bad)["1"] == "failed" and "HTTP 401" in bad.steps[1].reason


def test_operator_spv_counts_for_alarm_and_pm_configuration() -> None:
    # the scenarios configure alarms and PM by operator tasks; without the parameter names
    # on the HMS's records any operator SPV stands in
    r = F.alarm_and_pm_config(operator=True)
    assert after_registration(r, "5.5.1").verdict == "pass"
    assert after_registration(r, "5.6.1").verdict == "pass"


def test_parameter_names_tell_alarm_from_pm_configuration() -> None:
    r = F.alarm_and_pm_config(operator=True, names=True)
    alarm, pm = after_registration(r, "5.5.1"), after_registration(r, "5.6.1")
    assert alarm.verdict == pm.verdict == "pass"
    a1 = {v.step.id: v for v in alarm.steps}["1"].messages[0]
    p3 = {v.step.id: v for v in pm.steps}["3"].messages[0]
    assert a1.fields["names"][0].startswith("Device.FaultMgmt.")
    assert p3.fields["names"][0].startswith("Device.FAP.PerfMgmt.")
    # the response inherits the names of its request
    p4 = {v.step.id: v for v in pm.steps}["4"].messages[0]
    assert p4.fields["names"] == p3.fields["names"] and p4.fields["request"] == "SetParameterValues"


# ---- what each scenario's defining property needs: runs lacking it fail ---------------------

def patch(r: F.Run, ok: Callable[[Event], bool], **fields: Any) -> F.Run:
    """Add `fields` to the records `ok` picks (the fields the nodes write since the
    builder was made: fault codes, per-parameter faults, the HMS's connection details)."""
    r.events = [replace(e, fields={**e.fields, **fields}) if ok(e) else e for e in r.events]
    return r


def is_msg(node: str, kind: str, name: str) -> Callable[[Event], bool]:
    return lambda e: e.node == node and e.kind == kind and e.fields.get("msg") == name


def check(r: F.Run, flow: str, **kw: Any) -> FlowResult:
    return match(FLOWS[flow], suggest_binding(r.topo), r.events, r.topo,
                 start=r.events[0].time, **kw)


def test_registration_download_fails_when_the_hms_provisions_by_spv() -> None:
    spv, dl = F.intranet(), F.intranet(cm="download")
    # the scenario pins the branch: CM by Download
    res = check(spv, "5.2.1", facts_override={"cm_download": True})
    st = statuses(res)
    assert st["5.3"] == st["5.4"] == "skipped" and st["5.3-bis"] == "failed"
    assert "SetParameterValues" in {v.step.id: v for v in res.steps}["5.3-bis"].reason
    assert res.verdict == "fail"
    assert check(dl, "5.2.1", facts_override={"cm_download": True}).verdict == "pass"
    # and the other way round: SPV expected, a Download seen
    other = check(dl, "5.2.1", facts_override={"cm_download": False})
    assert statuses(other)["5.3"] == "failed" and other.verdict == "fail"
    assert download_only(dl.events, "hms-serving") == ""
    assert "did not provision by Download" in download_only(spv.events, "hms-serving")


def periodic_spv() -> F.Run:
    """An operator SPV that rides in a periodic session: no connection request."""
    r = F.registered_intranet()
    r.serving(["2 PERIODIC"], [("operator", "SetParameterValues")])
    return r


def spv_after_empty_cr_session() -> F.Run:
    """A connection request whose session carries nothing; the SPV comes later."""
    r = F.registered_intranet()
    F.conn_request(r)
    r.serving(["6 CONNECTION REQUEST"])
    r.serving(["2 PERIODIC"], [("operator", "SetParameterValues")])
    return r


def test_later_update_needs_the_connection_request_and_its_session() -> None:
    ok = after_registration(F.operator_spv(), "5.3.2-cr")
    assert statuses(ok) == {"CR": "passed", "CR.1": "passed", "A": "passed", "B": "passed"}
    a = {v.step.id: v for v in ok.steps}["A"]
    assert "6 CONNECTION REQUEST" in a.messages[0].fields["events"]
    none = after_registration(periodic_spv(), "5.3.2-cr")
    assert statuses(none)["CR"] == "missing" and none.verdict == "fail"
    later = after_registration(spv_after_empty_cr_session(), "5.3.2-cr")
    st = statuses(later)
    assert st["CR"] == st["CR.1"] == "passed" and st["A"] == "missing"
    # the flow as the spec draws it after registration (CR optional) cannot tell
    assert after_registration(periodic_spv(), "5.3.2").verdict == "pass"


def cr_download(*, fault: int = 0) -> F.Run:
    """5.3.1 as a later update: connection request, Download in its session, the file
    fetched, TransferComplete (with `fault`: the file fetched but refused, nothing
    applied) in the next session."""
    r = F.registered_intranet()
    F.conn_request(r)
    r.serving(["6 CONNECTION REQUEST"], [("operator", "Download")])
    r.cm_download("hnb1", "hms-serving", F.URL_S)
    tc = is_msg("hms-serving", "cwmp.rx", "TransferComplete")
    patch(r, lambda e: tc(e) or is_msg("hnb1", "cwmp.tx", "TransferComplete")(e),
          fault_code=fault, command_key="hms-task-1")
    if fault:
        r.events = [e for e in r.events if e.kind != "cm.applied"]
        patch(r, lambda e: e.kind == "transfer.download" and e.fields.get("state") == "end",
              fault_code=fault)
        r.events = [replace(e, kind="hms.task.failed") if e.kind == "hms.task.done"
                    and e.fields.get("task_kind") == "Download" else e for e in r.events]
    return r


def test_cm_download_later_update_and_its_failure_in_transfer_complete() -> None:
    ok = after_registration(cr_download(), "5.3.1-cr")
    assert ok.verdict == "pass", statuses(ok)
    assert download_failed(cr_download().events, "hms-serving", 1).startswith(
        "TransferComplete for task 1 carried FaultCode 0")
    bad = cr_download(fault=9018)
    res = after_registration(bad, "5.3.1-cr")
    st = statuses(res)
    # the file was fetched (C) but not applied: the failure shows first in TransferComplete
    assert (st["C"], st["D"]) == ("passed", "failed") and res.problems[0].step.id == "D"
    assert download_failed(bad.events, "hms-serving", 1) == ""
    assert "no TransferComplete for task 7" in download_failed(bad.events, "hms-serving", 7)


X = "Device.Services.FAPService.1.AccessMgmt.UMTS.MaxUEsServed"
Y = "Device.Services.FAPService.1.AccessMgmt.UMTS.NoSuchParameter"
GOOD = "Device.Services.FAPService.1.AccessMgmt.UMTS.HNBName"


def test_spv_fault_must_name_each_bad_parameter_and_no_good_one() -> None:
    want = {X: {9006, 9007}, Y: {9005}}
    r = F.operator_spv(fault=True)
    assert "no Fault with SetParameterValuesFault" in spv_faults(r.events, "hms-serving", want)
    fault = is_msg("hms-serving", "cwmp.rx", "Fault")
    patch(r, fault, spv_faults=[{"name": X, "code": 9007}, {"name": Y, "code": 9005}])
    assert spv_faults(r.events, "hms-serving", want) == ""
    assert "expected exactly" in spv_faults(r.events, "hms-serving", {**want, GOOD: {9007}})
    patch(r, fault, spv_faults=[{"name": X, "code": 9003}, {"name": Y, "code": 9005}])
    assert "code 9003, expected one of [9006, 9007]" in spv_faults(r.events, "hms-serving",
                                                                    want)


def reset_then_accepted() -> F.Run:
    """A FactoryReset whose HNB comes back and is accepted: nothing refused it."""
    r = F.registered_intranet()
    r.emit("hms-serving", "hms.deprovisioned", f"{F.DEVICE} de-provisioned by FactoryReset",
           device=F.DEVICE, method="FactoryReset")
    F.conn_request(r)
    r.serving(["6 CONNECTION REQUEST"], [("deprovision", "FactoryReset")])
    r.emit("hnb1", "cwmp.factory_reset", "FactoryReset: model reset, rebooting")
    r.wait(1.0)
    r.serving(["0 BOOTSTRAP", "1 BOOT"], [("provision", "SetParameterValues")])
    return r


def test_factory_reset_returns_with_bootstrap_and_is_refused_until_allowed() -> None:
    r = F.factory_reset()
    res = after_registration(r, "5.4-1-cr")
    assert res.verdict == "pass", statuses(res)
    seven, eight = ({v.step.id: v for v in res.steps}[k] for k in ("7", "8"))
    assert "0 BOOTSTRAP" in seven.messages[0].fields["events"]
    assert "hms.refused" in {e.kind for e in eight.events}
    dep = next(e.time for e in r.events if e.kind == "hms.deprovisioned")
    allowed = next(e.time for e in r.events if e.kind == "hms.allowed")
    assert accepted_while_refused(r.events, "hms-serving", F.DEVICE, dep, allowed) == ""
    # accepted after the reset: step 8 fails, and so does the scenario's check
    acc = reset_then_accepted()
    bad = after_registration(acc, "5.4-1-cr")
    assert statuses(bad)["8"] == "failed" and "InformResponse" in bad.steps[-1].reason
    dep = next(e.time for e in acc.events if e.kind == "hms.deprovisioned")
    assert "accepted before the operator allowed" in accepted_while_refused(
        acc.events, "hms-serving", F.DEVICE, dep, acc.t + 1)


def test_factory_reset_during_the_session_is_out_of_order() -> None:
    r = F.factory_reset()
    # the HNB resets as soon as it answered, before the session ended
    done = next(e for e in r.events if e.kind == "hms.deprovisioned")
    r.events = [replace(e, time=done.time + 0.001) if e.kind == "cwmp.factory_reset" else e
                for e in r.events]
    six = {v.step.id: v for v in after_registration(r, "5.4-1-cr").steps}["6"]
    assert six.status == "failed" and "out of order" in six.reason


def test_spv_deprovisioning_by_connection_request() -> None:
    assert after_registration(F.spv_deprovision(), "5.4-2-cr").verdict == "pass"
    # without the connection request (a periodic session) the -cr flow fails
    r = F.registered_intranet()
    r.serving(["2 PERIODIC"], [("deprovision", "SetParameterValues")])
    res = after_registration(r, "5.4-2-cr")
    assert statuses(res)["CR"] == "missing" and res.verdict == "fail"


SA_NAMES = ["Device.FaultMgmt.SupportedAlarm.3.ReportingMechanism"]
PM_NAMES = ["Device.FAP.PerfMgmt.Config.1.Enable", "Device.FAP.PerfMgmt.Config.1.URL"]


def test_alarm_and_pm_configuration_by_connection_request() -> None:
    r = F.registered_intranet()
    for names in (SA_NAMES, PM_NAMES):
        F.conn_request(r)
        r.serving(["6 CONNECTION REQUEST"], [("operator", "SetParameterValues")],
                  names={"operator": names})
    alarm, pm = after_registration(r, "5.5.1-cr"), after_registration(r, "5.6.1-cr")
    assert alarm.verdict == pm.verdict == "pass", (statuses(alarm), statuses(pm))
    a1 = {v.step.id: v for v in alarm.steps}["1"].messages[0]
    p3 = {v.step.id: v for v in pm.steps}["3"].messages[0]
    assert a1.fields["names"] == SA_NAMES and p3.fields["names"] == PM_NAMES
    # the same configuration in periodic sessions: no connection request, the -cr flows fail
    periodic_run = F.alarm_and_pm_config(operator=True, names=True)
    for fid in ("5.5.1-cr", "5.6.1-cr"):
        res = after_registration(periodic_run, fid)
        assert statuses(res)["CR"] == "missing" and res.verdict == "fail"


TEMP = "Board temperature high"


def _alarm(r: F.Run, mechanism: str, source: str, codes: list[str], problem: str = TEMP,
           cr: bool = False, tasks: Sequence[tuple[str, str]] = ()) -> None:
    """The HNB raises an alarm; a session (opened by a connection request when `cr`)
    carries it, as the HMS records it: its event table, the session and its Inform."""
    if cr:
        F.conn_request(r)
    sess = f"s{r.sessions + 1:07d}"  # the id Run.session gives the next session
    r.serving(codes, tasks, on_inform=[("hms.alarm", f"{F.DEVICE} NewAlarm 4 Minor {problem}",
                                        {"alarm_id": "4", "notification_type": "NewAlarm",
                                         "source": source, "severity": "Minor",
                                         "session": sess, "events": codes})])


def raise_alarm(r: F.Run, mechanism: str, problem: str = TEMP) -> float:
    e = r.emit("hnb1", "alarm.raise", f"NewAlarm 4 Minor {problem} ({mechanism})",
               alarm_id="4", notification_type="NewAlarm", mechanism=mechanism,
               severity="Minor", event_type="Equipment Alarm",
               probable_cause="Temperature Unacceptable", specific_problem=problem)
    return e.time


def queued(*, at_once: bool = False) -> tuple[F.Run, float]:
    r = F.registered_intranet()
    t = raise_alarm(r, "1 Queued")
    if at_once:  # the HNB opened a session for the queued alarm: wrong
        _alarm(r, "1 Queued", "QueuedEvent", ["4 VALUE CHANGE"])
        F.conn_request(r)
        r.serving(["6 CONNECTION REQUEST"], [("operator", "GetParameterValues")])
    else:  # it waited; the operator's read opened the next session
        r.wait(3.0)
        _alarm(r, "1 Queued", "QueuedEvent", ["6 CONNECTION REQUEST", "4 VALUE CHANGE"],
               cr=True, tasks=[("operator", "GetParameterValues")])
    return r, t


def test_queued_alarm_waits_for_the_next_session() -> None:
    r, raised = queued()
    res = after_registration(r, "5.5.2-queued")
    assert res.verdict == "pass", statuses(res)
    assert queued_report(r.events, "hms-serving", F.DEVICE, TEMP, raised) == ""
    # reported at once, in a session opened for it: the flow and the check both fail
    bad, raised = queued(at_once=True)
    one = {v.step.id: v for v in after_registration(bad, "5.5.2-queued").steps}["1"]
    assert one.status == "failed" and "went wrong" in one.reason
    assert "opened for it" in queued_report(bad.events, "hms-serving", F.DEVICE, TEMP, raised)
    # the generic 5.5.2 cannot tell the two apart
    assert after_registration(bad, "5.5.2").verdict == "pass"


def test_expedited_alarm_is_reported_at_once() -> None:
    r = F.registered_intranet()
    raise_alarm(r, "0 Expedited", "Iuh link down")
    _alarm(r, "0 Expedited", "ExpeditedEvent", ["4 VALUE CHANGE"], "Iuh link down")
    assert after_registration(r, "5.5.2-expedited").verdict == "pass"
    # a queued alarm is not an expedited one
    q, _ = queued()
    assert after_registration(q, "5.5.2-expedited").verdict == "fail"


def test_pm_upload_needs_the_hms_to_find_a_measCollec_file() -> None:
    ok = patch(F.pm_upload(), lambda e: e.kind == "file.rx", meas_ok=True)
    assert after_registration(ok, "5.6.2").verdict == "pass"
    bad = patch(F.pm_upload(), lambda e: e.kind == "file.rx", meas_ok=False,
                meas_problem="root element is {urn:x}measCollecFile")
    one = {v.step.id: v for v in after_registration(bad, "5.6.2").steps}["1"]
    assert one.status == "failed"
    ups = [e for e in bad.events if e.kind == "file.rx"]
    assert "not TS 32.435 measCollec" in not_measCollec(ups)
    assert not_measCollec([e for e in ok.events if e.kind == "file.rx"]) == ""


def upload(t: float, name: str, begin: str, end: str, period: float = 2.0) -> Event:
    return Event(t, "hms-serving", "file.rx", "198.18.2.1", f"http upload {name}",
                 {"dir": "in", "msg": "FileUpload", "transport": "http", "name": name,
                  "meas_ok": True, "begin_time": begin, "end_time": end,
                  "gran_period_s": period})


def test_periodic_needs_two_uploads_a_period_apart() -> None:
    t0, b = F.T0, "2026-01-01T00:00:0{}+00:00"
    a1, a2 = upload(t0, "A1", b.format(0), b.format(2)), upload(t0 + 2.1, "A2", b.format(2),
                                                                 b.format(4))
    assert periodic([a1, a2], 2) == ""
    assert "at least two" in periodic([a1], 2)
    late = upload(t0 + 6.0, "A2", b.format(2), b.format(4))
    assert "no two uploads a period" in periodic([a1, late], 2)
    gap = upload(t0 + 2.1, "A2", b.format(3), b.format(5))  # a period missing in between
    assert "no two uploads a period" in periodic([a1, gap], 2)


def test_backlog_must_arrive_in_order_and_whole() -> None:
    t0 = F.T0
    made = [Event(t0 + i, "hnb1", "pm.file", None, f"PM file {n}", {"file": n, "bytes": 9})
            for i, n in enumerate(("A1", "A2", "A3"))]

    def got(*names: str) -> list[Event]:
        return [upload(t0 + 10 + i, n, "", "") for i, n in enumerate(names)]

    backlog = ["A2", "A3"]
    assert backlog_delivered(made + got("A1", "A2", "A3"), "hnb1", "hms-serving", backlog,
                             t0) == ""
    assert "arrived as ['A3', 'A2']" in backlog_delivered(
        made + got("A1", "A3", "A2"), "hnb1", "hms-serving", backlog, t0)
    assert "never reached" in backlog_delivered(made + got("A1", "A2"), "hnb1",
                                                "hms-serving", backlog, t0)


def outside(*, tunnel: bool = False, lookup: bool = True) -> F.Run:
    """registration-hms-outside-tunnel's lab: the serving HMS on the public side over TLS,
    its name from the outer DNS. `tunnel`: its record shows the session came through the
    tunnel after all; `lookup`: whether the HNB asked the outer DNS for it."""
    from scenarios.harness import REGISTRY, topology_data
    from scenarios.runner import load_all

    load_all()
    r = F.Run(topology.parse(topology_data(REGISTRY["registration-hms-outside-tunnel"])))
    url_s = "https://hms-serving.operator.example:7548/acs"
    r.power_on()
    r.dns("hnb1", "dns-outer", "segw-initial.operator.example")
    r.ike("hnb1", "segw-initial.operator.example")
    r.session("hnb1", F.URL_I, "hms-initial", ["0 BOOTSTRAP", "1 BOOT"],
              [("assign", "SetParameterValues")], resolve="dns-inner")
    r.url_changed("hnb1", F.URL_I, url_s)
    r.registration("hnb1", F.URL_I, url_s)
    r.ike_down("hnb1", "segw-initial.operator.example")
    r.dns("hnb1", "dns-outer", "segw-serving.operator.example")
    r.ike("hnb1", "segw-serving.operator.example")
    r.session("hnb1", url_s, "hms-serving", ["0 BOOTSTRAP"],
              [("provision", "SetParameterValues")], resolve="dns-outer" if lookup else None)
    r.dns("hnb1", "dns-inner", "hnbgw.mno.operator.example")
    r.hnbap("hnb1", "hnbgw")
    remote = r.inner["hnb1"] if tunnel else r.addr("hnb1", "public")
    return patch(r, is_msg("hms-serving", "cwmp.rx", "Inform"), tls=True, remote_addr=remote,
                 local_addr="198.51.100.21" if not tunnel else "203.0.113.21")


def test_hms_outside_the_tunnel_is_looked_up_outside_and_reached_over_tls() -> None:
    res = check(outside(), "5.2.1-outside")
    st = statuses(res)
    assert res.verdict == "pass", st
    assert st["2.1-HMS"] == st["2.2-HMS"] == "passed" and st["4.1"] == "skipped"
    via = check(outside(tunnel=True), "5.2.1-outside")
    assert statuses(via)["5.1"] == "failed" and via.verdict == "fail"
    unlooked = check(outside(lookup=False), "5.2.1-outside")
    assert statuses(unlooked)["2.1-HMS"] == "missing"
    # the flow as the spec draws it in general cannot tell
    assert check(outside(tunnel=True, lookup=False), "5.2.1").verdict == "pass"


GW_NAME = "Device.Services.FAPService.1.FAPControl.UMTS.Gateway.FAPGWServer1"


def test_hnbgw_from_the_initial_hms_is_in_step_6() -> None:
    def assigned(names: list[str], hnbgw: str | None) -> F.Run:
        r = patch(F.intranet(), lambda e: is_msg("hms-initial", "cwmp.tx",
                                                 "SetParameterValues")(e), names=names)
        return patch(r, lambda e: e.kind == "hms.assigned", hnbgw=hnbgw)

    base = ["Device.Services.FAPService.1.FAPControl.UMTS.Gateway.SecGWServer1",
            "Device.ManagementServer.URL"]
    ok = check(assigned([*base, GW_NAME], "hnbgw.mno.operator.example"), "5.1.1-hnbgw")
    assert ok.verdict == "pass", statuses(ok)
    without = check(assigned(base, None), "5.1.1-hnbgw")
    assert statuses(without)["6"] == "failed" and without.verdict == "fail"
    unrecorded = check(assigned([*base, GW_NAME], None), "5.1.1-hnbgw")
    assert statuses(unrecorded)["7"] == "missing"
    assert check(assigned(base, None), "5.1.1").verdict == "pass"
