"""Alarms as the HNB reports them (TS 32.583 5.5) and the reporting configuration (5.5.1).

In an Inform, alarms ride as parameters of TR-181 Device.FaultMgmt:
  ExpeditedEvent.{i}.*  active notification ("4 VALUE CHANGE", sent at once)
  QueuedEvent.{i}.*     passive notification (rides in the next Inform)
  CurrentAlarm.{i}.*    the device's table of raised alarms (no NotificationType: taken as
                        NewAlarm when first seen)
each with AlarmIdentifier, EventTime (CurrentAlarm: AlarmRaisedTime / AlarmChangedTime),
NotificationType (NewAlarm | ChangedAlarm | ClearedAlarm), ManagedObjectInstance,
EventType, ProbableCause, SpecificProblem, PerceivedSeverity, AdditionalText,
AdditionalInformation. HistoryEvent.{i} is the device's own log and is not re-imported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from lab.nodes.hms.settings import AlarmRule

_EVENT = re.compile(r"Device\.FaultMgmt\.(ExpeditedEvent|QueuedEvent|CurrentAlarm)\.(\d+)\.(\w+)")
_SUPPORTED = re.compile(r"Device\.FaultMgmt\.SupportedAlarm\.(\d+)\.(\w+)")
NOTIFICATION_TYPES = ("NewAlarm", "ChangedAlarm", "ClearedAlarm")


@dataclass
class AlarmNotice:
    source: str  # ExpeditedEvent | QueuedEvent | CurrentAlarm
    alarm_id: str
    notification_type: str
    event_time: str
    fields: dict[str, str]


def alarms_in(params: Iterable[tuple[str, str]]) -> tuple[list[AlarmNotice], list[str]]:
    """Alarm notifications carried by Inform parameters, and problems (entries that
    cannot be used, named by path) for the event log."""
    groups: dict[tuple[str, str], dict[str, str]] = {}
    for name, value in params:
        m = _EVENT.fullmatch(name)
        if m:
            groups.setdefault((m.group(1), m.group(2)), {})[m.group(3)] = value.strip()
    notices, problems = [], []
    for (source, idx), f in sorted(groups.items(), key=lambda kv: (kv[0][0], int(kv[0][1]))):
        where = f"Device.FaultMgmt.{source}.{idx}"
        if not any(f.get(k) for k in ("AlarmIdentifier", "EventType", "ProbableCause",
                                      "SpecificProblem")):
            continue  # an empty slot (only times/counters): nothing to record
        ntype = f.get("NotificationType") or ("NewAlarm" if source == "CurrentAlarm" else "")
        if ntype not in NOTIFICATION_TYPES:
            problems.append(f"{where}.NotificationType: {ntype!r} not one of "
                            f"{', '.join(NOTIFICATION_TYPES)}")
            continue
        alarm_id = f.get("AlarmIdentifier") or "|".join(
            f.get(k, "") for k in ("ManagedObjectInstance", "EventType", "ProbableCause",
                                   "SpecificProblem"))
        event_time = (f.get("EventTime") or f.get("AlarmChangedTime")
                      or f.get("AlarmRaisedTime") or "")
        if source == "CurrentAlarm":
            # The current table is state, not an event: key it on the raise/change time so
            # it is recorded once, however many Informs repeat it.
            event_time = f.get("AlarmChangedTime") or f.get("AlarmRaisedTime") or event_time
        notices.append(AlarmNotice(source, alarm_id, ntype, event_time, f))
    return notices, problems


def supported_alarms(params: dict[str, str]) -> dict[int, dict[str, str]]:
    """Device.FaultMgmt.SupportedAlarm.{i}.* from a parameter snapshot, by instance."""
    out: dict[int, dict[str, str]] = {}
    for name, value in params.items():
        m = _SUPPORTED.fullmatch(name)
        if m:
            out.setdefault(int(m.group(1)), {})[m.group(2)] = value
    return out


def reporting_plan(rules: list[AlarmRule], supported: dict[int, dict[str, str]]) -> dict[str, str]:
    """ReportingMechanism per SupportedAlarm instance: the first rule whose match holds
    (every named field equal, case-insensitive). Returns {parameter path: mechanism}."""
    plan: dict[str, str] = {}
    for i in sorted(supported):
        entry = supported[i]
        for rule in rules:
            if rule.match == "*" or all(entry.get(k, "").lower() == v.lower()
                                        for k, v in rule.match.items()):  # type: ignore[union-attr]
                plan[f"Device.FaultMgmt.SupportedAlarm.{i}.ReportingMechanism"] = rule.mechanism
                break
    return plan
