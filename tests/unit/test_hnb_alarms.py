"""Alarm reporting (TS 32.583 5.5): by the SupportedAlarm entry's ReportingMechanism."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from lab.cwmp import rpc
from lab.datamodel import DataModel
from lab.evidence.events import EventLog
from lab.nodes.hnb.alarms import AlarmError, AlarmManager
from tests.unit.test_hnb_session import WAIT, running_hnb, scripted_acs

FM = "Device.FaultMgmt."
# factory SupportedAlarm entries (hnb_params.yaml): 1 expedited, 4 queued, 6 logged
SEGW = ("Communications Alarm", "Connection Establishment Error",
        "Security gateway unreachable", "Major")
TEMP = ("Equipment Alarm", "Temperature Unacceptable", "Board temperature high", "Minor")
LOAD = ("Quality Of Service Alarm", "Threshold Crossed", "Cell load high", "Warning")


async def test_expedited_alarm_opens_a_session_now_with_value_change(tmp_path: Path) -> None:
    async with scripted_acs() as acs, running_hnb(tmp_path, acs.url) as hnb:
        await asyncio.wait_for(hnb.wait_session(["0 BOOTSTRAP"]), WAIT)
        n = len(hnb.sessions)
        rep = hnb.raise_alarm(*SEGW, "HNBFunction=1", additional_text="no IKE answer")
        rec = await asyncio.wait_for(hnb.wait_session(["4 VALUE CHANGE"], after=n), WAIT)
        inform = rec.inform
    assert rep.notification_type == "NewAlarm" and rep.mechanism == "0 Expedited"
    assert rec.events == ["4 VALUE CHANGE"]
    assert inform is not None
    e = rep.event_entry
    assert e == FM + "ExpeditedEvent.1."
    assert inform.param(e + "NotificationType") == "NewAlarm"
    assert inform.param(e + "AlarmIdentifier") == rep.alarm_id
    assert inform.param(e + "SpecificProblem") == "Security gateway unreachable"
    assert inform.param(e + "PerceivedSeverity") == "Major"
    assert inform.param(e + "ManagedObjectInstance") == "HNBFunction=1"
    assert inform.param(e + "AdditionalText") == "no IKE answer"
    assert inform.param(e + "EventTime") not in (None, rpc.UNKNOWN_TIME)
    assert [a["AlarmIdentifier"] for a in hnb.alarms.current()] == [rep.alarm_id]


async def test_queued_alarm_rides_in_the_next_session(tmp_path: Path) -> None:
    async with scripted_acs() as acs, running_hnb(tmp_path, acs.url) as hnb:
        await asyncio.wait_for(hnb.wait_session(["0 BOOTSTRAP"]), WAIT)
        n = len(hnb.sessions)
        rep = hnb.raise_alarm(*TEMP, "HNBFunction=1")
        assert rep.mechanism == "1 Queued"
        # nothing opened a session for it: the next one is the connection request's
        hnb.client.request_session("6 CONNECTION REQUEST")
        rec = await asyncio.wait_for(hnb.wait_session(after=n), WAIT)
    assert rec.index == n
    assert "6 CONNECTION REQUEST" in rec.events and "4 VALUE CHANGE" in rec.events
    assert rec.inform is not None
    assert rec.inform.param(FM + "QueuedEvent.1.NotificationType") == "NewAlarm"
    assert rec.inform.param(FM + "QueuedEvent.1.SpecificProblem") == "Board temperature high"


async def test_disabled_alarm_is_not_reported(tmp_path: Path) -> None:
    async with scripted_acs() as acs:
        # 5.5.1: the HMS configures the reporting mechanism by SetParameterValues
        acs.plan(rpc.SetParameterValues([rpc.ParameterValue(
            FM + "SupportedAlarm.1.ReportingMechanism", "3 Disabled")]))
        async with running_hnb(tmp_path, acs.url) as hnb:
            await asyncio.wait_for(hnb.wait_session(["0 BOOTSTRAP"]), WAIT)
            rep = hnb.raise_alarm(*SEGW)
            assert rep.notification_type == "" and rep.mechanism == "3 Disabled"
            assert hnb.alarms.current() == []
            assert hnb.model.pending_notifications() == ([], [])
            assert hnb.model.instances(FM + "HistoryEvent.") == []


def test_logged_changed_and_cleared() -> None:
    model = DataModel.factory()
    alarms = AlarmManager(model, EventLog("hnb"))
    rep = alarms.raise_alarm(*LOAD, "Cell=1")
    assert rep.mechanism == "2 Logged" and rep.event_entry is None
    assert model.pending_notifications() == ([], [])  # logged only
    assert model.instances(FM + "HistoryEvent.") == [1]
    again = alarms.raise_alarm(*LOAD, "Cell=1")
    assert again.notification_type == ""  # identical: nothing new
    cleared = alarms.clear_alarm(*LOAD[:3], "Cell=1")
    assert cleared is not None and cleared.notification_type == "ClearedAlarm"
    assert cleared.alarm_id == rep.alarm_id
    assert alarms.current() == []
    h = model.values(FM + "HistoryEvent.2.")
    assert h[FM + "HistoryEvent.2.NotificationType"] == "ClearedAlarm"
    assert h[FM + "HistoryEvent.2.PerceivedSeverity"] == "Cleared"
    assert alarms.clear_alarm(*LOAD[:3], "Cell=1") is None  # not raised any more


def test_changed_alarm_on_new_severity() -> None:
    model = DataModel.factory()
    alarms = AlarmManager(model, EventLog("hnb"))
    first = alarms.raise_alarm(*SEGW[:3], "Major", "X=1")
    model.clear_notifications()
    # the entry matches "Major" only; a Critical of the same problem is not supported
    with pytest.raises(AlarmError, match=r"no Device\.FaultMgmt\.SupportedAlarm"):
        alarms.raise_alarm(*SEGW[:3], "Critical", "X=1")
    changed = alarms.raise_alarm(*SEGW[:3], "Major", "X=1", additional_text="retrying")
    assert changed.notification_type == "ChangedAlarm" and changed.alarm_id == first.alarm_id
    active, _ = model.pending_notifications()
    assert FM + "ExpeditedEvent.2.NotificationType" in active


def test_event_tables_are_rings() -> None:
    model = DataModel.factory()
    alarms = AlarmManager(model, EventLog("hnb"))
    for i in range(20):  # ExpeditedEvent holds 16
        alarms.raise_alarm(*SEGW, f"Cell={i}")
    nums = model.instances(FM + "ExpeditedEvent.")
    assert len(nums) == 16 and nums[0] == 5
    ids = {model.get(f"{FM}CurrentAlarm.{n}.AlarmIdentifier")
           for n in model.instances(FM + "CurrentAlarm.")}
    assert len(ids) == 20  # unique identifiers


def test_bad_severity_and_unknown_alarm() -> None:
    alarms = AlarmManager(DataModel.factory(), EventLog("hnb"))
    with pytest.raises(AlarmError, match="severity"):
        alarms.raise_alarm(*SEGW[:3], "Cleared")
    with pytest.raises(AlarmError, match="SupportedAlarm"):
        alarms.raise_alarm("Equipment Alarm", "Fan Failure", "fan 2", "Major")
