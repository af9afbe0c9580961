"""Checks the scenarios make over a run's events, beyond what a flow's steps can say:
absences ("no Inform accepted while de-provisioned"), per-transport evidence, timing
("uploads a period apart") and order ("the backlog delivered oldest first").

Each function takes events (lab.evidence.events.Event, as Ctx.events() returns them) and
returns what it found, or a problem text ("" when the property holds), so that a unit test
can show a run lacking the property fails (tests/unit/test_flows_procedures.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from itertools import pairwise
from typing import Any

from lab.cwmp.faults import FAULT_STRINGS
from lab.cwmp.rpc import VALUE_CHANGE
from lab.evidence.events import Event

# TransferComplete codes of a failed download (TR-069 A.3.3.3): 9010 (CWMP 1.0), 9014-9019
DOWNLOAD_FAULTS = {c for c, s in FAULT_STRINGS.items() if s.startswith("Download failure")}


def _of(events: Iterable[Event], node: str, kind: str, **fields: Any) -> list[Event]:
    return [e for e in events if e.node == node and e.kind == kind
            and all(e.fields.get(k) == v for k, v in fields.items())]


# ---- registration ---------------------------------------------------------------------------

def provisioned_by(events: Iterable[Event], hms: str) -> list[str]:
    """The kinds of the serving HMS's provisioning requests (5.2.1 step 5.3 / 5.3-bis)."""
    return [str(e.fields.get("task_kind")) for e in _of(events, hms, "hms.task.sent",
                                                         purpose="provision")]


def download_only(events: Iterable[Event], hms: str) -> str:
    """CM at registration went by Download (5.3-bis/5.4-bis) and never by SPV."""
    kinds = provisioned_by(events, hms)
    if "Download" not in kinds:
        return f"the HMS did not provision by Download (provisioning requests: {kinds})"
    if "SPV" in kinds:
        return "the HMS also provisioned by SetParameterValues (5.3/5.4 must be absent)"
    return ""


# ---- CM -------------------------------------------------------------------------------------

def transfer_complete(events: Iterable[Event], hms: str, task: int) -> Event | None:
    """The HMS's record of the TransferComplete that answers task `task`'s transfer."""
    key = f"hms-task-{task}"
    return next((e for e in _of(events, hms, "cwmp.rx", msg="TransferComplete")
                 if e.fields.get("command_key") == key), None)


def download_failed(events: Iterable[Event], hms: str, task: int) -> str:
    """The failure came in TransferComplete with a download FaultCode (5.3.1 D)."""
    tc = transfer_complete(events, hms, task)
    if tc is None:
        return f"no TransferComplete for task {task} reached the HMS"
    code = tc.fields.get("fault_code")
    if code not in DOWNLOAD_FAULTS:
        return (f"TransferComplete for task {task} carried FaultCode {code!r}, not a "
                f"download failure ({', '.join(map(str, sorted(DOWNLOAD_FAULTS)))})")
    return ""


def served_over(events: Iterable[Event], hms: str, name: str, transport: str) -> str:
    """The HMS file server served CM file `name` over `transport` (5.3.1 B/C)."""
    if any(e.fields.get("name") == name for e in _of(events, hms, "file.tx",
                                                     transport=transport)):
        return ""
    how = sorted({str(e.fields.get("transport")) for e in _of(events, hms, "file.tx")
                  if e.fields.get("name") == name})
    return f"CM file {name} was not served over {transport} (served over: {how or 'none'})"


def spv_faults(events: Iterable[Event], hms: str, want: dict[str, set[int]]) -> str:
    """The HNB's SetParameterValues Fault named exactly the parameters in `want`, each with
    one of its expected codes (5.3.2 B: failure with per-parameter faults)."""
    faults = _of(events, hms, "cwmp.rx", msg="Fault")
    got = next((f.fields.get("spv_faults") for f in reversed(faults)
                if f.fields.get("spv_faults")), None)
    if not got:
        return "no Fault with SetParameterValuesFault entries reached the HMS"
    seen = {g["name"]: g["code"] for g in got}
    if set(seen) != set(want):
        return (f"the Fault named {sorted(seen)}, expected exactly {sorted(want)} (a valid "
                "parameter must not be listed, every invalid one must)")
    wrong = {n: c for n, c in seen.items() if c not in want[n]}
    if wrong:
        return "; ".join(f"{n}: code {c}, expected one of {sorted(want[n])}"
                         for n, c in wrong.items())
    return ""


# ---- de-provisioning --------------------------------------------------------------------------

def accepted_while_refused(events: Iterable[Event], hms: str, device: str, since: float,
                           until: float) -> str:
    """Between de-provisioning (`since`) and the operator's allow (`until`) every Inform
    of the device was refused with Fault 8001 and none accepted (5.4: no registration
    until the operator allows it)."""
    evs = [e for e in events if since <= e.time < until]
    accepted = [e for e in _of(evs, hms, "cwmp.tx", msg="InformResponse")
                if e.fields.get("device") == device]
    if accepted:
        return (f"{len(accepted)} Inform(s) accepted before the operator allowed the HNB "
                f"(first at {accepted[0].time:.3f})")
    if not [e for e in _of(evs, hms, "hms.refused", fault=8001)
            if e.fields.get("device") == device]:
        return "no Inform was refused with Fault 8001 while the HNB was de-provisioned"
    return ""


# ---- alarms -----------------------------------------------------------------------------------

def alarm_reports(events: Iterable[Event], hms: str, problem: str,
                  notification: str = "NewAlarm") -> list[Event]:
    """The HMS's records of one alarm (by its SpecificProblem in the summary)."""
    return [e for e in _of(events, hms, "hms.alarm", notification_type=notification)
            if problem in e.summary]


def queued_report(events: Iterable[Event], hms: str, device: str, problem: str,
                  raised: float) -> str:
    """A queued alarm raised at `raised` rode in the next session the HNB opened, and that
    session was opened for another reason: its Inform carried more than 4 VALUE CHANGE
    (5.5.2: passive notifications reported in the next session, not at once)."""
    evs = [e for e in events if e.time >= raised]
    sessions = [e for e in _of(evs, hms, "hms.session.start")
                if e.fields.get("device") == device]
    reports = alarm_reports(evs, hms, problem)
    if not reports:
        return f"the queued alarm '{problem}' never reached the HMS"
    first = reports[0]
    if first.fields.get("source") != "QueuedEvent":
        return f"'{problem}' was reported from {first.fields.get('source')}, not QueuedEvent"
    codes = first.fields.get("events") or []
    if set(codes) <= {VALUE_CHANGE}:
        return (f"'{problem}' was reported in a session opened for it (Inform {codes}), "
                "not in the next one opened for another reason")
    if sessions and sessions[0].fields.get("session") != first.fields.get("session"):
        return (f"'{problem}' rode in session {first.fields.get('session')}, not in the "
                f"next session after it was raised ({sessions[0].fields.get('session')}, "
                f"Inform {sessions[0].fields.get('events')})")
    return ""


# ---- PM ---------------------------------------------------------------------------------------

def pm_received(events: Iterable[Event], hms: str, since: float = 0.0) -> list[Event]:
    return [e for e in _of(events, hms, "file.rx", msg="FileUpload") if e.time >= since]


def not_measCollec(uploads: Iterable[Event]) -> str:
    """Every upload passed the HMS's TS 32.435 check (file.rx meas_ok)."""
    bad = [e for e in uploads if e.fields.get("meas_ok") is not True]
    if bad:
        e = bad[0]
        return (f"{len(bad)} upload(s) not TS 32.435 measCollec: {e.fields.get('name')}: "
                f"{e.fields.get('meas_problem') or 'not checked'}")
    return ""


def _t(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text))
    except ValueError:
        return None


def periodic(uploads: list[Event], interval: float, *, slack: float = 0.5) -> str:
    """At least two consecutive uploads a period apart: measurement periods that follow
    each other (one's beginTime is the other's endTime), each `interval` long (within the
    files' 1 s time resolution), arriving interval * (1 +- slack) apart."""
    pairs = list(pairwise(uploads))
    if not pairs:
        return f"{len(uploads)} upload(s): periodic needs at least two"
    for a, b in pairs:
        contiguous = (_t(a.fields.get("end_time")) is not None
                      and _t(a.fields.get("end_time")) == _t(b.fields.get("begin_time")))
        periods = [e.fields.get("gran_period_s") for e in (a, b)]
        long_enough = all(isinstance(p, int | float) and abs(p - interval) <= 1.0
                          for p in periods)
        if contiguous and long_enough and abs(b.time - a.time - interval) <= slack * interval:
            return ""
    a, b = pairs[-1]
    return (f"no two uploads a period ({interval:g} s) apart: last two "
            f"{a.fields.get('name')} ({a.fields.get('begin_time')}..{a.fields.get('end_time')}"
            f", {a.fields.get('gran_period_s')} s) and {b.fields.get('name')} "
            f"({b.fields.get('begin_time')}..) arrived {b.time - a.time:.2f} s apart")


def backlog_delivered(events: Iterable[Event], hnb: str, hms: str, backlog: list[str],
                      since: float) -> str:
    """After the outage every file the HNB made since `since` reached the HMS, and the
    backlog (oldest first, as the HNB listed it) arrived in that order."""
    evs = [e for e in events if e.time >= since]
    made = [str(e.fields.get("file")) for e in _of(evs, hnb, "pm.file")]
    got = [str(e.fields.get("name")) for e in pm_received(evs, hms)]
    lost = [f for f in made if f not in got]
    if lost:
        return f"{len(lost)} PM file(s) never reached the file server: {lost}"
    dropped = _of(evs, hnb, "pm.dropped")
    if dropped:
        return f"the HNB dropped PM files from its backlog: {dropped[0].summary}"
    order = [g for g in got if g in backlog]
    if order != [b for b in backlog if b in order] or set(order) != set(backlog):
        return f"backlog arrived as {order}, expected {backlog} (oldest first)"
    return ""
