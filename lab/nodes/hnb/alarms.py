"""HNB alarms (TS 32.583 5.5, TR-181 Device.FaultMgmt): raise and clear, reported by the
SupportedAlarm entry's ReportingMechanism.

An alarm is looked up in Device.FaultMgmt.SupportedAlarm.{i} by EventType, ProbableCause,
SpecificProblem and PerceivedSeverity (an exact entry wins; an entry whose SpecificProblem
or PerceivedSeverity is "" or "*" matches any). Its ReportingMechanism decides:
  "0 Expedited"  CurrentAlarm + HistoryEvent + ExpeditedEvent entry; ExpeditedEvent leaves
                 are active-notify, so the HNB opens a session now with "4 VALUE CHANGE"
  "1 Queued"     CurrentAlarm + HistoryEvent + QueuedEvent entry; passive-notify, so the
                 values ride in the next Inform, whatever opens that session
  "2 Logged"     CurrentAlarm + HistoryEvent only
  "3 Disabled"   ignored (nothing recorded, nothing reported)
NotificationType: NewAlarm for a new (EventType, ProbableCause, SpecificProblem,
ManagedObjectInstance); ChangedAlarm when that alarm is raised again with another severity
(or other text); ClearedAlarm when cleared (PerceivedSeverity "Cleared", removed from
CurrentAlarm). A clear is reported by the SupportedAlarm entry for severity "Cleared" when
there is one (as on the nano3G), else by the entry that raised it.
The event tables are rings (TR-181): when one is full the oldest entry makes room.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lab.evidence.events import EventLog

FM = "Device.FaultMgmt."
SUPPORTED = FM + "SupportedAlarm."
CURRENT = FM + "CurrentAlarm."
HISTORY = FM + "HistoryEvent."
EXPEDITED = FM + "ExpeditedEvent."
QUEUED = FM + "QueuedEvent."

EXPEDITED_MECH = "0 Expedited"
QUEUED_MECH = "1 Queued"
LOGGED_MECH = "2 Logged"
DISABLED_MECH = "3 Disabled"

NEW, CHANGED, CLEARED = "NewAlarm", "ChangedAlarm", "ClearedAlarm"
SEVERITIES = ("Critical", "Major", "Minor", "Warning", "Indeterminate")


class AlarmError(ValueError):
    """An alarm the HNB cannot raise or clear; the message says why."""


@dataclass
class AlarmReport:
    """What raise/clear did."""

    alarm_id: str
    notification_type: str  # NewAlarm | ChangedAlarm | ClearedAlarm | "" (nothing done)
    mechanism: str  # the SupportedAlarm ReportingMechanism used
    supported: str  # the SupportedAlarm instance path
    event_entry: str | None = None  # ExpeditedEvent/QueuedEvent instance path, if any


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class AlarmManager:
    def __init__(self, model: Any, events: EventLog) -> None:
        self.model = model
        self.events = events

    # ---- lookups ---------------------------------------------------------------------------

    def _rows(self, table: str) -> list[tuple[str, dict[str, str]]]:
        rows = []
        for n in self.model.instances(table):
            prefix = f"{table}{n}."
            vals = self.model.values(prefix)
            rows.append((prefix, {k[len(prefix):]: v for k, v in vals.items()}))
        return rows

    def find_supported(self, event_type: str, probable_cause: str, specific_problem: str,
                       severity: str) -> tuple[str, dict[str, str]] | None:
        best: tuple[int, str, dict[str, str]] | None = None
        for prefix, row in self._rows(SUPPORTED):
            if row.get("EventType", "") != event_type:
                continue
            if row.get("ProbableCause", "") != probable_cause:
                continue
            score = 0
            for key, want in (("SpecificProblem", specific_problem),
                              ("PerceivedSeverity", severity)):
                have = row.get(key, "")
                if have == want:
                    score += 2
                elif have in ("", "*"):
                    score += 1
                else:
                    break
            else:
                if best is None or score > best[0]:
                    best = (score, prefix, row)
        return None if best is None else (best[1], best[2])

    def current(self) -> list[dict[str, str]]:
        """The CurrentAlarm rows (with "path")."""
        return [{"path": p, **row} for p, row in self._rows(CURRENT)]

    def _find_current(self, event_type: str, probable_cause: str, specific_problem: str,
                      moi: str) -> tuple[str, dict[str, str]] | None:
        for prefix, row in self._rows(CURRENT):
            if (row.get("EventType"), row.get("ProbableCause"), row.get("SpecificProblem"),
                    row.get("ManagedObjectInstance")) == (event_type, probable_cause,
                                                           specific_problem, moi):
                return prefix, row
        return None

    def _new_id(self) -> str:
        # unique over the alarm's lifetime: one more than any id the tables still show
        top = 0
        for table in (CURRENT, HISTORY, EXPEDITED, QUEUED):
            for _, row in self._rows(table):
                m = re.search(r"(\d+)$", row.get("AlarmIdentifier", ""))
                if m:
                    top = max(top, int(m.group(1)))
        serial = self.model.get("Device.DeviceInfo.SerialNumber")
        return f"{serial}-{top + 1}"

    # ---- table writes ---------------------------------------------------------------------

    def _add_ring(self, table: str, values: dict[str, str]) -> str:
        """Add an entry to an event table, dropping the oldest one when it is full."""
        from lab.datamodel import DataModelError

        try:
            n = self.model.add_instance(table, values)
        except DataModelError:
            oldest = self.model.instances(table)[0]
            self.model.delete_instance(f"{table}{oldest}.")
            n = self.model.add_instance(table, values)
        prefix = f"{table}{n}."
        self._ensure_reported(prefix, values)
        return prefix

    def _ensure_reported(self, prefix: str, values: dict[str, str]) -> None:
        """Make every notified leaf of a new event entry pending, also those whose value
        equals the default (NotificationType "NewAlarm", severity "Indeterminate"):
        add_instance only notifies values that differ from the default, but an
        Expedited/Queued report must carry the whole entry (the nano3G sends
        NotificationType=NewAlarm). Done by passing through another enum value, which
        leaves the final value and one pending notification."""
        active, passive = self.model.pending_notifications()
        pending = set(active) | set(passive)
        for rel, value in values.items():
            name = prefix + rel
            if name in pending:
                continue
            attr = self.model.get_attributes([name])[0].notification
            enum = self.model.param_def(name).enum
            other = next((e for e in enum if e != value), None)
            if attr and other is not None:
                self.model.set_internal(name, other)
                self.model.set_internal(name, value)

    def _report(self, mechanism: str, values: dict[str, str]) -> str | None:
        self._add_ring(HISTORY, values)
        if mechanism == EXPEDITED_MECH:
            return self._add_ring(EXPEDITED, values)
        if mechanism == QUEUED_MECH:
            return self._add_ring(QUEUED, values)
        return None

    # ---- raise / clear ---------------------------------------------------------------------

    def raise_alarm(self, event_type: str, probable_cause: str, specific_problem: str,
                    severity: str, managed_object_instance: str = "", *,
                    additional_text: str = "", additional_information: str = "") -> AlarmReport:
        if severity not in SEVERITIES:
            raise AlarmError(f"alarm severity {severity!r} is not one of "
                             f"{', '.join(SEVERITIES)} (use clear_alarm to clear)")
        found = self.find_supported(event_type, probable_cause, specific_problem, severity)
        if found is None:
            raise AlarmError(f"no Device.FaultMgmt.SupportedAlarm entry for "
                             f"{event_type!r}/{probable_cause!r}/{specific_problem!r}/"
                             f"{severity!r}")
        supported, row = found
        mechanism = row.get("ReportingMechanism", QUEUED_MECH)
        if mechanism == DISABLED_MECH:
            self.events.emit("alarm.ignored", f"alarm {specific_problem or probable_cause} "
                             f"not reported: {supported}ReportingMechanism is {mechanism}",
                             supported=supported, mechanism=mechanism)
            return AlarmReport("", "", mechanism, supported)
        now = _now()
        existing = self._find_current(event_type, probable_cause, specific_problem,
                                      managed_object_instance)
        if existing is not None:
            path, cur = existing
            if (cur.get("PerceivedSeverity") == severity
                    and cur.get("AdditionalText") == additional_text
                    and cur.get("AdditionalInformation") == additional_information):
                return AlarmReport(cur["AlarmIdentifier"], "", mechanism, supported)
            alarm_id, ntype = cur["AlarmIdentifier"], CHANGED
            for k, v in (("PerceivedSeverity", severity), ("AlarmChangedTime", now),
                         ("AdditionalText", additional_text),
                         ("AdditionalInformation", additional_information)):
                self.model.set_internal(path + k, v)
        else:
            alarm_id, ntype = self._new_id(), NEW
            self._add_current({
                "AlarmIdentifier": alarm_id, "AlarmRaisedTime": now, "AlarmChangedTime": now,
                "ManagedObjectInstance": managed_object_instance, "EventType": event_type,
                "ProbableCause": probable_cause, "SpecificProblem": specific_problem,
                "PerceivedSeverity": severity, "AdditionalText": additional_text,
                "AdditionalInformation": additional_information,
            })
        entry = self._report(mechanism, {
            "EventTime": now, "AlarmIdentifier": alarm_id, "NotificationType": ntype,
            "ManagedObjectInstance": managed_object_instance, "EventType": event_type,
            "ProbableCause": probable_cause, "SpecificProblem": specific_problem,
            "PerceivedSeverity": severity, "AdditionalText": additional_text,
            "AdditionalInformation": additional_information,
        })
        self.events.emit("alarm.raise", f"{ntype} {alarm_id} {severity} "
                         f"{specific_problem or probable_cause} ({mechanism})",
                         alarm_id=alarm_id, notification_type=ntype, mechanism=mechanism,
                         severity=severity, event_type=event_type,
                         probable_cause=probable_cause, specific_problem=specific_problem,
                         managed_object_instance=managed_object_instance, entry=entry)
        return AlarmReport(alarm_id, ntype, mechanism, supported, entry)

    def _add_current(self, values: dict[str, str]) -> None:
        from lab.datamodel import DataModelError

        try:
            self.model.add_instance(CURRENT, values)
        except DataModelError as exc:
            raise AlarmError(f"CurrentAlarm table full (MaxCurrentAlarmEntries): {exc}") \
                from exc

    def clear_alarm(self, event_type: str, probable_cause: str, specific_problem: str,
                    managed_object_instance: str = "", *, additional_text: str = "",
                    additional_information: str = "") -> AlarmReport | None:
        """Clear a current alarm; None when no such alarm is raised."""
        existing = self._find_current(event_type, probable_cause, specific_problem,
                                      managed_object_instance)
        if existing is None:
            return None
        path, cur = existing
        found = (self.find_supported(event_type, probable_cause, specific_problem, "Cleared")
                 or self.find_supported(event_type, probable_cause, specific_problem,
                                        cur.get("PerceivedSeverity", "")))
        supported, row = found if found else ("", {})
        mechanism = row.get("ReportingMechanism", LOGGED_MECH)
        self.model.delete_instance(path)
        alarm_id = cur["AlarmIdentifier"]
        entry = None
        if mechanism != DISABLED_MECH:
            entry = self._report(mechanism, {
                "EventTime": _now(), "AlarmIdentifier": alarm_id, "NotificationType": CLEARED,
                "ManagedObjectInstance": managed_object_instance, "EventType": event_type,
                "ProbableCause": probable_cause, "SpecificProblem": specific_problem,
                "PerceivedSeverity": "Cleared", "AdditionalText": additional_text,
                "AdditionalInformation": additional_information,
            })
        self.events.emit("alarm.clear", f"ClearedAlarm {alarm_id} "
                         f"{specific_problem or probable_cause} ({mechanism})",
                         alarm_id=alarm_id, notification_type=CLEARED, mechanism=mechanism,
                         entry=entry)
        return AlarmReport(alarm_id, CLEARED, mechanism, supported, entry)
