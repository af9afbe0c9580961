"""CM, IPsec re-addressing, de-provisioning, alarms and PM (TS 32.583 5.2.2-5.6) matched
over synthetic runs shaped like the nodes' events."""

from __future__ import annotations

from lab.flows import FLOWS, match, suggest_binding
from lab.flows.matcher import FlowResult, scenario_unexpected
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
    assert scenario_unexpected([fr, refused]) == []
    assert {u.why for u in fr.unexpected} >= {"HMS refused the HNB", "CWMP Fault"}


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
