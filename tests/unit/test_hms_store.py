"""Store, settings, location policy, alarm parsing and parameter typing (no sockets)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from lab.nodes.hms import params as P
from lab.nodes.hms.alarms import alarms_in, reporting_plan, supported_alarms
from lab.nodes.hms.policy import choose, location_from
from lab.nodes.hms.settings import AlarmRule, HmsSettings, PolicyRule, SettingsError
from lab.nodes.hms.store import Store, task_id_from_command_key


def test_store_survives_reopen_and_requeues_sent(tmp_path: Path) -> None:
    db = tmp_path / "hms.sqlite3"
    s = Store.open(db)
    assert s._q("PRAGMA journal_mode")[0]["journal_mode"] == "wal"
    s.upsert_device("OUI-1", oui="OUI", serial="1", manufacturer="m", location={"lat": 1.0})
    a = s.add_task("OUI-1", "GPV", {"names": ["Device."]})
    b = s.add_task("OUI-1", "Download", {"url": "http://x/y"}, purpose="provision")
    c = s.add_task("OUI-1", "Reboot")
    s.mark_sent(a.id)
    s.mark_sent(b.id)
    s.await_transfer(b.id, {"status": 1})
    s.finish_task(c.id, True, {"response": "RebootResponse"})
    s.apply_alarm("OUI-1", "A1", "NewAlarm", "t1", {"PerceivedSeverity": "Major"})
    s.close()

    s = Store.open(db)  # "restart"
    assert s.schema_version() == 1
    dev = s.get_device("OUI-1")
    assert dev is not None and dev.location == {"lat": 1.0} and dev.state == "new"
    states = {t.id: (t.state, t.attempts) for t in s.list_tasks("OUI-1")}
    assert states == {a.id: ("queued", 1), b.id: ("sent", 1), c.id: ("done", 0)}
    assert s.next_task("OUI-1").id == a.id
    assert s.pending_purposes("OUI-1") == {"operator", "provision"}
    assert len(s.current_alarms()) == 1
    s.close()


def _audit_rows_on_disk(db: Path) -> int:
    """What another process sees: only committed rows."""
    other = sqlite3.connect(db)
    try:
        return int(other.execute("SELECT count(*) FROM audit").fetchone()[0])
    finally:
        other.close()


async def test_audit_rows_of_one_loop_turn_commit_together(tmp_path: Path) -> None:
    import asyncio

    db = tmp_path / "hms.sqlite3"
    s = Store.open(db)
    for i in range(3):
        s.audit(float(i), "cwmp.rx", "OUI-1", f"event {i}", {"i": i})
    assert _audit_rows_on_disk(db) == 0  # still in this turn of the loop
    await asyncio.sleep(0)
    assert _audit_rows_on_disk(db) == 3
    s.audit(4.0, "cwmp.tx", "OUI-1", "read at once", {})
    assert [r["summary"] for r in s.audit_log("OUI-1", "cwmp.tx")] == ["read at once"]
    s.audit(5.0, "hms.x", None, "goes in with the next write", {})
    s.upsert_device("OUI-2", oui="OUI", serial="2", manufacturer="m", location=None)
    assert _audit_rows_on_disk(db) == 5
    s.audit(6.0, "hms.y", None, "flushed at close", {})
    s.close()
    assert _audit_rows_on_disk(db) == 6


def test_audit_outside_an_event_loop_is_written_at_once(tmp_path: Path) -> None:
    db = tmp_path / "hms.sqlite3"
    s = Store.open(db)
    s.audit(1.0, "files.rx", None, "FTP upload (a server thread)", {"size": 1})
    assert _audit_rows_on_disk(db) == 1
    s.close()


def test_refused_devices_are_a_bounded_note_not_devices(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from lab.nodes.hms import store as store_mod

    monkeypatch.setattr(store_mod, "REFUSED_KEEP", 3)
    db = tmp_path / "hms.sqlite3"
    s = Store.open(db)
    for i in range(5):
        s.record_refused(f"OUI-{i}", oui="OUI", serial=str(i), reason="unknown", ip="10.0.0.1")
    again = s.record_refused("OUI-2", oui="OUI", serial="2", reason="location", ip="10.0.0.9")
    assert (again["count"], again["reason"], again["ip"]) == (2, "location", "10.0.0.9")
    # the three most recently seen stay, newest first; none of them is a device
    assert [r["id"] for r in s.list_refused()] == ["OUI-2", "OUI-4", "OUI-3"]
    assert s.list_devices() == []
    s.close()
    s = Store.open(db)  # kept across a restart like everything else
    assert s.admit_refused("OUI-0") is None  # dropped from the note: nothing to admit
    dev = s.admit_refused("OUI-4")
    assert dev is not None and (dev.oui, dev.serial, dev.ip, dev.allowed, dev.state) == (
        "OUI", "4", "10.0.0.1", True, "new")
    assert [r["id"] for r in s.list_refused()] == ["OUI-2", "OUI-3"]
    s.upsert_device("OUI-3", oui="OUI", serial="3")  # known by another way: off the list
    assert [r["id"] for r in s.list_refused()] == ["OUI-2"]
    s.close()



def test_inform_write_sets_fields_and_merges_params_in_one_go(tmp_path: Path) -> None:
    db = tmp_path / "db"
    s = Store.open(db)
    dev = s.upsert_device("D-1", oui="D", serial="1", merge_params={"a": "1"}, ip="10.0.0.1",
                          last_events=["1 BOOT"])
    assert (dev.params, dev.ip, dev.last_events, dev.state) == (
        {"a": "1"}, "10.0.0.1", ["1 BOOT"], "new")
    dev = s.upsert_device("D-1", oui="D", serial="1", merge_params={"a": "1", "b": "2"},
                          last_inform=5.0)
    assert dev.params == {"a": "1", "b": "2"} and dev.ip == "10.0.0.1"
    assert s.get_device("D-1") == dev and dev.last_inform == 5.0
    snapshot = s._q("SELECT params FROM devices")[0]["params"]
    s.upsert_device("D-1", oui="D", serial="1", merge_params={"b": "2"}, last_inform=6.0)
    assert s._q("SELECT params FROM devices")[0]["params"] == snapshot  # nothing changed
    s.merge_params("D-1", {"a": "9"})
    assert s.get_device("D-1").params == {"a": "9", "b": "2"}
    # a BOOTSTRAP: what was known of the device is gone, the Inform's values stay
    dev = s.upsert_device("D-1", oui="D", serial="1", merge_params={"c": "3"}, params={})
    assert dev.params == {"c": "3"} and s.has_device("D-1") and not s.has_device("D-2")
    with pytest.raises(ValueError, match="unknown device field"):
        s.upsert_device("D-2", oui="D", serial="2", merge_params={"x": "1"}, colour="red")
    assert not s.has_device("D-2")  # refused before anything was written
    s.close()
    other = sqlite3.connect(db)  # committed: what another reader sees
    try:
        assert other.execute("SELECT params, last_inform FROM devices").fetchall() == [
            ('{"c": "3"}', 6.0)]
    finally:
        other.close()

def test_store_rejects_bad_values(tmp_path: Path) -> None:
    s = Store.open(tmp_path / "db")
    s.upsert_device("D-1", oui="D", serial="1")
    with pytest.raises(ValueError, match="task kind 'Explode'"):
        s.add_task("D-1", "Explode")
    with pytest.raises(ValueError, match="unknown device field"):
        s.update_device("D-1", colour="red")
    with pytest.raises(ValueError, match="device state 'gone'"):
        s.update_device("D-1", state="gone")
    with pytest.raises(sqlite3.IntegrityError):
        s.add_task("NOBODY", "Reboot")  # tasks belong to a known device
    s.close()


def test_newer_schema_refused(tmp_path: Path) -> None:
    s = Store.open(tmp_path / "db")
    s._conn.execute("UPDATE schema_version SET version = 99")
    s.close()
    with pytest.raises(RuntimeError, match="schema version 99 is newer"):
        Store.open(tmp_path / "db")


def test_alarm_lifecycle_and_dedupe(tmp_path: Path) -> None:
    s = Store.open(tmp_path / "db")
    s.upsert_device("D-1", oui="D", serial="1")
    assert s.apply_alarm("D-1", "A", "NewAlarm", "t1", {"x": "1"})
    assert not s.apply_alarm("D-1", "A", "NewAlarm", "t1", {"x": "1"})
    assert s.apply_alarm("D-1", "A", "ChangedAlarm", "t2", {"x": "2"})
    assert s.current_alarms("D-1")[0]["data"] == {"x": "2"}
    assert s.apply_alarm("D-1", "A", "ClearedAlarm", "t3", {})
    assert s.current_alarms("D-1") == [] and len(s.alarm_history("D-1")) == 3
    s.close()


def test_command_key() -> None:
    assert task_id_from_command_key("hms-task-42") == 42
    assert task_id_from_command_key("hms-task-x") is None
    assert task_id_from_command_key("") is None


# ---- settings ---------------------------------------------------------------------------


@pytest.mark.parametrize(("settings", "words"), [
    ({}, "api_token: required"),
    ({"api_token": "t", "role": "boss"}, "settings.role: 'boss'"),
    ({"api_token": "t", "colour": 1}, "unknown setting(s) colour"),
    ({"api_token": "t", "role": "initial"}, "needs at least one rule"),
    ({"api_token": "t", "policy": [{"match": "*", "serving_segw": "s"}]},
     "policy[0].serving_hms_url: required"),
    ({"api_token": "t", "policy": [{"match": {"lat": [1, 2]}, "serving_segw": "s",
                                    "serving_hms_url": "u"}]}, "lat and lon go together"),
    ({"api_token": "t", "policy": [{"match": {"mcc": 1}, "serving_segw": "s",
                                    "serving_hms_url": "u"}]}, "unknown key(s) mcc"),
    ({"api_token": "t", "http_port": 70000}, "port 70000 out of range"),
    ({"api_token": "t", "https_port": 7548}, "needs settings.tls_cert"),
    ({"api_token": "t", "cm_mode": "fax"}, "cm_mode: 'fax'"),
    ({"api_token": "t", "alarm_reporting": [{"mechanism": "9 Loud"}]}, "needs mechanism"),
    ({"api_token": "t", "provisioning": {"params": {"Device.IPsec.Enable": "perhaps"}}},
     "Device.IPsec.Enable: 'perhaps' is not a boolean"),
    ({"api_token": "t", "deprovision": {"method": "burn"}}, "deprovision.method: 'burn'"),
    ({"api_token": "t", "files": {"passive_ports": [5]}}, "passive_ports"),
    ({"api_token": "t", "pm_upload": {"interval": 0}}, "interval: expected seconds > 0"),
])
def test_settings_errors_name_the_key(settings: dict, words: str) -> None:
    with pytest.raises(SettingsError) as exc:
        HmsSettings.from_dict(settings)
    assert words in str(exc.value)


def test_settings_defaults_and_off_ports(tmp_path: Path) -> None:
    s = HmsSettings.from_dict({"api_token": "t", "files": {"ftp_port": None}}, tmp_path, "h1")
    assert s.http_port == 7547 and s.api_port == 7557 and s.role == "serving"
    assert s.files.ftp_port is None and s.files.sftp_port == 2222
    assert s.state_dir == tmp_path / "h1-state"


# ---- location policy ----------------------------------------------------------------------

REM = "Device.Services.FAPService.1.REM.UMTS.WCDMA.Cell.{}.BCCH.{}"


def _rule(name: str, match: dict | str) -> PolicyRule:
    return PolicyRule(name, match, "segw", "url")


def test_location_and_rules() -> None:
    loc = location_from([(REM.format(1, "PLMNID"), "00101"), (REM.format(1, "LAC"), "17"),
                         (REM.format(2, "PLMNID"), "00102"), (REM.format(2, "CellID"), "9"),
                         ("Device.FAP.GPS.LockedLatitude", "-33868820"),
                         ("Device.FAP.GPS.LockedLongitude", "151.209296")])
    assert loc.cells == [{"plmn": "00101", "lac": "17"}, {"plmn": "00102", "cell": "9"}]
    assert loc.lat == pytest.approx(-33.86882) and loc.lon == pytest.approx(151.209296)
    rules = [_rule("a", {"plmn": "00101", "cell": "9"}),  # no single cell has both
             _rule("b", {"lat": [-34, -33], "lon": [151, 152], "plmn": ["00102"]}),
             _rule("c", "*")]
    assert choose(rules, loc).name == "b"
    assert choose(rules[:1], loc) is None
    empty = location_from([])
    assert empty.empty and choose(rules, empty).name == "c"
    assert location_from([("Device.FAP.GPS.LockedLatitude", "0"),
                          ("Device.FAP.GPS.LockedLongitude", "0")]).lat is None


# ---- alarms -------------------------------------------------------------------------------


def test_alarms_in_inform_and_reporting_plan() -> None:
    fm = "Device.FaultMgmt."
    notices, problems = alarms_in([
        (fm + "ExpeditedEvent.1.EventTime", "t0"),  # an empty slot: ignored
        (fm + "ExpeditedEvent.2.AlarmIdentifier", "X1"),
        (fm + "ExpeditedEvent.2.NotificationType", "NewAlarm"),
        (fm + "ExpeditedEvent.2.EventTime", "t1"),
        (fm + "CurrentAlarm.1.EventType", "Equipment Alarm"),
        (fm + "CurrentAlarm.1.AlarmRaisedTime", "t2"),
        (fm + "QueuedEvent.1.AlarmIdentifier", "X2"),
        (fm + "QueuedEvent.1.NotificationType", "Bogus"),
    ])
    assert [(n.source, n.alarm_id, n.notification_type, n.event_time) for n in notices] == [
        ("CurrentAlarm", "|Equipment Alarm||", "NewAlarm", "t2"),
        ("ExpeditedEvent", "X1", "NewAlarm", "t1")]
    assert problems == ["Device.FaultMgmt.QueuedEvent.1.NotificationType: 'Bogus' not one of "
                        "NewAlarm, ChangedAlarm, ClearedAlarm"]
    sup = supported_alarms({fm + "SupportedAlarm.3.PerceivedSeverity": "critical",
                            fm + "SupportedAlarm.4.PerceivedSeverity": "Minor"})
    plan = reporting_plan([AlarmRule({"PerceivedSeverity": "Critical"}, "0 Expedited")], sup)
    assert plan == {fm + "SupportedAlarm.3.ReportingMechanism": "0 Expedited"}


def test_param_types() -> None:
    assert P.param_value(P.FAPGW_PORT, 29169).type == "xsd:unsignedInt"
    assert P.param_value("Device.X.Enable", "1").value == "true"
    assert P.param_value("Device.X.Y", -3).type == "xsd:int"
    assert P.param_value("Device.X.Y", 1.5).type == "xsd:string"
    with pytest.raises(ValueError, match=r"FAPGWPort: invalid literal"):
        P.param_value(P.FAPGW_PORT, "abc")
    with pytest.raises(ValueError, match="full parameter path"):
        P.param_value("Device.X.", "1")
    with pytest.raises(ValueError, match="is negative"):
        P.param_value(P.FAPGW_PORT, -1)
