"""The ladder (sequence) diagram of a run, and the page that shows it with the verdicts.

One self-contained HTML page: inline CSS and SVG, no script, no external asset, so it
opens from disk and survives being mailed around. The diagram has a lane per element
(the procedure's roles, bound to topology nodes; roles bound to one node share a lane,
except the File server, which keeps its own), one arrow per message actually seen (a
message recorded by both sender and receiver is one arrow), time on the left relative to
the scenario start, arrows labelled with the spec's step numbers, and notes for what one
element did on its own (power on, factory reset). Steps that failed or are missing are
red; missing steps are drawn dashed where they were expected. Hovering an arrow shows the
records behind it. A negative scenario's page says first whether its expected failure was
seen (and where), and marks that step "failed as expected".
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lab.evidence.events import Event
from lab.flows.matcher import (
    EXPECTED,
    FAILED,
    MISSING,
    NOT_REACHED,
    PASSED,
    SKIPPED,
    ExpectCheck,
    FlowResult,
    scenario_unexpected,
)
from lab.flows.model import LANES, Step
from lab.flows.observed import Message, Observation

if TYPE_CHECKING:
    from lab.evidence.wire import WireFacts

FS = "File server"
FILE_HINTS = ("FileDownload", "FileUpload", "file.", "transfer.", "pm.upload", "pm.upload_failed")
# Events drawn as notes on their node's lane even when no step points at them.
NOTE_KINDS = {"hnb.power_on", "hnb.power_off", "hnb.in_service", "hnb.tunnel_lost",
              "hnb.inner_address_changed", "hnb.failed", "cwmp.url_changed",
              "cwmp.factory_reset", "cwmp.reboot",
              "cm.applied", "alarm.raise", "alarm.clear", "pm.file", "hms.assigned",
              "hms.registered", "hms.refused", "hms.deprovisioned", "hms.allowed",
              "hms.inner_ip", "hms.alarm", "segw.readdress", "ike.failed", "ike.auth_failed",
              "dns.failed", "transfer.download", "transfer.upload", "pm.upload",
              "pm.upload_failed"}

LEFT, COL_W, TOP, ROW_H, PAD = 96, 150, 64, 34, 16


@dataclass
class Column:
    label: str
    node: str | None
    roles: list[str] = field(default_factory=list)


@dataclass
class Row:
    time: float
    seq: int
    kind: str                 # arrow | note | missing
    src: int
    dst: int
    label: str
    sub: str = ""
    style: str = "plain"      # plain | step | bad
    tip: str = ""


class _Lanes:
    """Columns for the bound roles; maps (node, message/kind hint) to a column."""

    def __init__(self, bindings: Sequence[dict[str, str]]) -> None:
        merged: dict[str, str] = {}
        for b in bindings:
            for lane, node in b.items():
                merged.setdefault(lane, node)
        order = [ln for ln in LANES if ln in merged] + sorted(set(merged) - set(LANES))
        self.cols: list[Column] = []
        by_node: dict[str, Column] = {}
        for lane in order:
            node = merged[lane]
            col = by_node.get(node) if lane != FS else None
            if col is None or (lane != FS and FS in col.roles and len(col.roles) == 1):
                col = Column(lane, node, [lane])
                self.cols.append(col)
                if lane != FS:
                    by_node[node] = col
            else:
                col.roles.append(lane)
        for c in self.cols:
            c.label = _merged_label(c.roles)
        self.bound = set(merged.values())
        self.hnb = merged.get("HNB")

    def index(self, node: str | None, hint: str = "") -> int | None:
        cands = [i for i, c in enumerate(self.cols) if c.node == node]
        if not cands:
            return None
        if len(cands) > 1:
            wants_fs = hint.startswith(FILE_HINTS)
            for i in cands:
                if (FS in self.cols[i].roles) == wants_fs:
                    return i
        return cands[0]

    def extra(self, node: str | None) -> int:
        """A column for a node outside the binding (or an unresolved peer)."""
        label = node or "(unresolved peer)"
        for i, c in enumerate(self.cols):
            if c.node == node and not c.roles:
                return i
        self.cols.append(Column(label, node, []))
        return len(self.cols) - 1


def _merged_label(roles: list[str]) -> str:
    """"SeGW initial" + "SeGW serving" -> "SeGW initial+serving"."""
    if len(roles) == 1:
        return roles[0]
    heads = {r.split(" ", 1)[0] for r in roles}
    if len(heads) == 1 and all(" " in r for r in roles):
        return f"{heads.pop()} " + "+".join(r.split(" ", 1)[1] for r in roles)
    return " / ".join(roles)


def _drop_empty(cols: list[Column], rows: list[Row], keep: int) -> list[Column]:
    """Columns no row touches go (a bound File server nobody used), except `keep`."""
    used = {keep} | {r.src for r in rows} | {r.dst for r in rows}
    new_index = {old: new for new, old in enumerate(i for i in range(len(cols)) if i in used)}
    for r in rows:
        r.src, r.dst = new_index[r.src], new_index[r.dst]
    return [c for i, c in enumerate(cols) if i in used]


def build_rows(obs: Observation, results: Sequence[FlowResult], start: float,
               end: float | None = None, marks: Sequence[tuple[str, float]] = ()
               ) -> tuple[list[Column], list[Row]]:
    """Lanes and rows of the diagram. `marks`: (what, time) the scenario noted ("operator
    allows"), drawn as a line across every lane."""
    lanes = _Lanes([r.binding for r in results])
    multi = len(results) > 1
    rows: list[Row] = []
    seq = iter(range(1 << 30))

    labels: dict[int, list[str]] = {}      # message index -> step labels
    bad_msgs: set[int] = set()
    noted: dict[int, Event] = {}
    bad_events: set[int] = set()
    for u in scenario_unexpected(results):
        if u.info:  # an HMS request no step claims: listed, not drawn as an error
            continue
        if u.message is not None:
            bad_msgs.add(u.message.index)
        bad_events.update(id(e) for e in u.events)
    for r in results:
        last_t = start
        for v in r.steps:
            tag = f"{r.flow.id}/{v.step.id}" if multi else v.step.id
            if v.status in (PASSED, FAILED) and v.events:
                # a message predicate names its messages; an event predicate (ike.up) the
                # messages its events record
                msgs = list(v.messages) or _uniq_msgs([obs.message(e) for e in v.events])
                for m in msgs:
                    labels.setdefault(m.index, []).append(tag)
                    if v.status == FAILED:
                        bad_msgs.add(m.index)
                if not msgs:
                    e = v.events[0]
                    noted[id(e)] = e
                    rows.append(_step_row(lanes, v.step, e, tag, v.status, next(seq), start))
                if v.time is not None:
                    last_t = max(last_t, v.time)
            elif v.status == MISSING:
                s = v.step
                a, b = _lane_node(lanes, s.frm), _lane_node(lanes, s.to)
                if a is None or b is None:
                    continue
                rows.append(Row(last_t + 1e-6, next(seq), "missing" if a != b else "note",
                                a, b, f"\u2717 {tag} {s.message}", "missing: " + s.text,
                                "bad", v.reason))

    for m in obs.messages:
        if m.time < start or (end is not None and m.time > end):
            continue
        a, b = lanes.index(m.src, m.name), lanes.index(m.dst, m.name)
        if a is None and b is None:
            continue
        if a is None or b is None:
            ends = {m.src, m.dst}
            if lanes.hnb not in ends:
                continue  # between other elements (another HNB's traffic): not ours
            a = lanes.extra(m.src) if a is None else a
            b = lanes.extra(m.dst) if b is None else b
        tags = labels.get(m.index, [])
        bad = m.index in bad_msgs
        style = "bad" if bad else ("step" if tags else "plain")
        label = (", ".join(tags) + "  " if tags else "") + m.name
        rows.append(Row(m.time, next(seq), "arrow", a, b, label, _sub(m), style, _tip(m, start)))

    for e in obs.events:
        if e.kind not in NOTE_KINDS or id(e) in noted or obs.message(e) is not None:
            continue
        if e.time < start or (end is not None and e.time > end):
            continue
        i = lanes.index(e.node, e.kind)
        other = obs.other_end(e)
        if i is None or (other is not None and other not in lanes.bound):
            continue
        rows.append(Row(e.time, next(seq), "note", i, i, e.kind, _short(e.summary, 60),
                        "bad" if id(e) in bad_events else "plain", _tip_events([e], start)))
    hnb_col = lanes.index(lanes.hnb) or 0
    cols = _drop_empty(lanes.cols, rows, hnb_col)
    for what, t in marks:
        if t >= start and (end is None or t <= end):
            rows.append(Row(t, next(seq), "mark", 0, len(cols) - 1, what, style="plain",
                            tip=f"scenario: {what}"))
    rows.sort(key=lambda r: (r.time, r.seq))
    return cols, rows


def _uniq_msgs(ms: Iterable[Message | None]) -> list[Message]:
    out: list[Message] = []
    for m in ms:
        if m is not None and all(m.index != o.index for o in out):
            out.append(m)
    return out


def _step_row(lanes: _Lanes, step: Step, e: Event, tag: str, status: str, seq: int,
              start: float) -> Row:
    """A step whose evidence is no message (power on, a session opened): an arrow between
    the step's lanes, or a note when one element does it alone."""
    here = lanes.index(e.node, e.kind) or 0
    if step.frm == step.to:  # one element on its own: a note where it was recorded
        a = b = here
    else:
        a, b = _lane_node(lanes, step.frm), _lane_node(lanes, step.to)
        a = here if a is None else a
        b = a if b is None else b
    style = "bad" if status == FAILED else "step"
    return Row(e.time, seq, "arrow" if a != b else "note", a, b, f"{tag}  {step.message}",
               _short(e.summary, 60), style, _tip_events([e], start))


def _lane_node(lanes: _Lanes, role: str) -> int | None:
    for i, c in enumerate(lanes.cols):
        if role in c.roles:
            return i
    return None


def _short(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "\u2026"


def _sub(m: Message) -> str:
    s = m.summary
    if s.startswith(m.name):
        s = s[len(m.name):].strip()
    purpose = m.fields.get("purpose")
    if purpose and m.area == "cwmp":
        s = f"{s} [{purpose}]".strip()
    return _short(s, 60)


def _tip(m: Message, start: float) -> str:
    return f"{m.src_label} \u2192 {m.dst_label}: {m.name}\n" + _tip_events(m.records, start)


def _tip_events(evs: Sequence[Event], start: float) -> str:
    return "\n".join(f"+{e.time - start:.3f} s  {e.node} {e.kind}  {e.summary}" for e in evs)


# ---- SVG -------------------------------------------------------------------------------------

def render_svg(cols: Sequence[Column], rows: Sequence[Row], start: float) -> str:
    width = LEFT + COL_W * max(1, len(cols)) + PAD
    height = TOP + ROW_H * (len(rows) + 1) + PAD
    x = [LEFT + COL_W * i + COL_W // 2 for i in range(len(cols))]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="ladder" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="ladder diagram"><style>{SVG_CSS}</style>',
           "<defs>" + "".join(
               f'<marker id="ah-{k}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
               f'markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
               f'class="head-{k}"/></marker>' for k in ("plain", "step", "bad")) + "</defs>",
           f'<text x="8" y="{TOP - 30}" class="th">time</text>']
    for i, c in enumerate(cols):
        out.append(f'<g class="lane"><rect x="{x[i] - COL_W // 2 + 6}" y="8" '
                   f'width="{COL_W - 12}" height="40" rx="6" class="lanebox"/>'
                   f'<text x="{x[i]}" y="25" class="lanename">{_e(_short(c.label, 22))}</text>'
                   f'<text x="{x[i]}" y="41" class="lanenode">{_e(c.node or "")}</text>'
                   f'<line x1="{x[i]}" y1="48" x2="{x[i]}" y2="{height - PAD}" '
                   f'class="lifeline"/></g>')
    for n, r in enumerate(rows, 1):
        y = TOP + ROW_H * n
        when = f"+{r.time - start:.3f} s" if r.kind != "missing" else ""
        tip = f"<title>{_e(r.tip or r.label)}</title>"
        out.append(f'<g class="row row-{r.kind} row-{r.style}">{tip}'
                   f'<text x="8" y="{y + 4}" class="time">{_e(when)}</text>')
        if r.kind == "mark":
            out.append(f'<line x1="{LEFT}" y1="{y}" x2="{width - PAD}" y2="{y}" class="mark"/>'
                       f'<text x="{LEFT + 4}" y="{y - 5}" class="marktext">'
                       f'{_e(_short(r.label, 80))}</text>')
        elif r.kind == "note" or r.src == r.dst:
            cx = x[r.src]
            out.append(f'<rect x="{cx - COL_W // 2 + 10}" y="{y - 20}" width="{COL_W - 20}" '
                       f'height="26" rx="4" class="note {r.style}"/>'
                       f'<text x="{cx}" y="{y - 8}" class="label {r.style}">'
                       f'{_e(_short(r.label, 24))}</text>'
                       f'<text x="{cx}" y="{y + 3}" class="sub">{_e(_short(r.sub, 28))}</text>')
        else:
            x1, x2 = x[r.src], x[r.dst]
            mid = (x1 + x2) / 2
            fit = max(24, int((abs(x2 - x1) + COL_W * 0.8) / 6.2))  # ~6 px per character
            dash = ' stroke-dasharray="6 4"' if r.kind == "missing" else ""
            out.append(f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" class="arrow {r.style}"'
                       f'{dash} marker-end="url(#ah-{r.style})"/>'
                       f'<text x="{mid}" y="{y - 6}" class="label {r.style}">'
                       f'{_e(_short(r.label, fit))}</text>'
                       f'<text x="{mid}" y="{y + 12}" class="sub">{_e(_short(r.sub, fit))}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)


_CTRL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _e(s: str) -> str:
    """Escaped for HTML/SVG, control characters (anything a peer sent) replaced."""
    return html.escape(_CTRL.sub("\ufffd", s), quote=True)


# ---- the page ------------------------------------------------------------------------------

CSS = """
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1d2330}
h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin:28px 0 8px}
.verdict{display:inline-block;padding:2px 10px;border-radius:4px;font-weight:700;color:#fff}
.verdict.pass{background:#1a7f37} .verdict.fail{background:#c62828}
table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f5f7} tr.failed td,tr.missing td{background:#fdecea}
tr.skipped td{color:#6b7280} td.st{font-weight:700}
td.st.passed{color:#1a7f37} td.st.failed,td.st.missing{color:#c62828}
tr.expected td{background:#fff4e5} td.st.expected{color:#b45309} tr.notreached td{color:#6b7280}
.expect{padding:8px;margin:8px 0;border:1px solid} .expect.pass{background:#e9f7ef;
 border-color:#1a7f37} .expect.fail{background:#fdecea;border-color:#c62828}
.meta{color:#555} .ev{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
.scroll{overflow-x:auto;border:1px solid #d0d7de;padding:8px;background:#fff}
.err{background:#fdecea;border:1px solid #c62828;padding:8px;white-space:pre-wrap;
 font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
.legend span{display:inline-block;margin-right:16px}
.wire.proven{color:#1a7f37} .wire.contradicted{color:#c62828;font-weight:700}
.wire.unchecked{color:#6b7280}
"""


# Inside the SVG, so the diagram keeps its looks when saved on its own.
SVG_CSS = """
text{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif}
.lanebox{fill:#eef3fb;stroke:#5b7db1} .lanename{font-size:13px;font-weight:700;text-anchor:middle}
.lanenode{font-size:11px;fill:#555;text-anchor:middle}
.lifeline{stroke:#9aa5b1;stroke-dasharray:3 3}
.th{font-size:12px;fill:#555;font-weight:700} .time{font-size:11px;fill:#555}
.row-step .time,.row-bad .time{fill:#1d2330;font-weight:700}
.arrow{stroke-width:1.6} .arrow.plain{stroke:#9aa5b1} .arrow.step{stroke:#1f3b73}
.arrow.bad{stroke:#c62828;stroke-width:2} .head-plain{fill:#9aa5b1} .head-step{fill:#1f3b73}
.head-bad{fill:#c62828} .label{font-size:12px;text-anchor:middle;fill:#6b7280}
.label.step{fill:#1f3b73;font-weight:700} .label.bad{fill:#c62828;font-weight:700}
.sub{font-size:10px;fill:#6b7280;text-anchor:middle}
rect.note{fill:#fffbe6;stroke:#d4b106} rect.note.step{fill:#eef3fb;stroke:#1f3b73}
rect.note.bad{fill:#fdecea;stroke:#c62828}
.mark{stroke:#7c3aed;stroke-dasharray:8 4} .marktext{font-size:11px;fill:#7c3aed;font-style:italic}
"""


def _status_cell(status: str) -> str:
    mark = {PASSED: "\u2713", FAILED: "\u2717", MISSING: "\u2717", SKIPPED: "\u2013"}[status]
    return f'<td class="st {status}">{mark} {status}</td>'


def verdict_table(r: FlowResult, expectation: ExpectCheck | None = None) -> str:
    head = ("<tr><th>step</th><th>spec</th><th>from \u2192 to</th><th>message</th>"
            "<th>req.</th><th>verdict</th><th>time</th><th>why / evidence</th></tr>")
    rows = []
    for v in r.steps:
        s = v.step
        when = f"+{v.time - r.start:.3f} s" if v.time is not None else ""
        ev_lines = "<br>".join(
            f'<span class="ev">{_e(e.node)} {_e(e.kind)}: {_e(_short(e.summary, 90))}</span>'
            for e in v.events[:4])
        wire_lines = "<br>".join(
            f'<span class="ev wire {c.status}">{WIRE_MARK[c.status]} {_e(c.evidence)}</span>'
            for c in v.wire)
        why = "<br>".join(x for x in (_e(v.reason), ev_lines, wire_lines) if x)
        frm, to = r.binding.get(s.frm, "?"), r.binding.get(s.to, "?")
        role = expectation.role(r, v) if expectation is not None else ""
        cls, cell = v.status, _status_cell(v.status)
        if role == EXPECTED:
            cls, cell = "expected", f'<td class="st expected">\u2713 {v.status} as expected</td>'
        elif role == NOT_REACHED:
            cls, cell = "notreached", '<td class="st">\u2013 not reached</td>'
        rows.append(f'<tr class="{cls}"><td>{_e(s.id)}</td><td>{_e(s.text)}</td>'
                    f"<td>{_e(s.frm)} \u2192 {_e(s.to)}<br><span class=\"meta\">{_e(frm)} "
                    f"\u2192 {_e(to)}</span></td><td>{_e(s.message)}</td>"
                    f"<td>{_e(s.requirement)}</td>{cell}<td>{when}</td>"
                    f"<td>{why}</td></tr>")
    return f"<table>{head}{''.join(rows)}</table>"


WIRE_MARK = {"proven": "\u2713 wire:", "contradicted": "\u2717 wire:",
             "unchecked": "\u2013 wire not checked:"}


def captures_section(wire: WireFacts | None) -> str:
    """Which captures the wire proofs were checked against."""
    if wire is None:
        return ""
    items = [f"<li>{_e(c.name)}: network {_e(c.network)} ({_e(c.kind)}), {c.packets} "
             f"packets" + (f", <b>{_e(c.error)}</b>" if c.error else "") + "</li>"
             for c in wire.captures.values()]
    items += [f"<li><b>{_e(p)}</b></li>" for p in wire.problems]
    if not items:
        items = [f"<li>none found in {_e(wire.source)}: steps judged on events only</li>"]
    return (f'<h2>Captures</h2><p class="meta">wire proofs checked against these '
            f"(summarised in {wire.seconds * 1000:.1f} ms: {len(wire.ike)} IKE messages, "
            f"{sum(f.count for f in wire.esp)} ESP packets, {len(wire.dns)} DNS messages, "
            f"{len(wire.tcp)} TCP connections)</p><ul>{''.join(items)}</ul>")


def unexpected_list(results: Sequence[FlowResult], start: float) -> str:
    items = [f'<li><b>{_e(u.why)}</b>{" (informational)" if u.info else ""} at '
             f'+{u.time - start:.3f} s: <span class="ev">{_e(u.summary)}</span></li>'
             for u in scenario_unexpected(results)]
    if not items:
        return "<p>None.</p>"
    return f'<ul class="unexpected">{"".join(items)}</ul>'


def render_page(scenario: str, obs: Observation, results: Sequence[FlowResult], *,
                start: float, end: float | None = None, description: str = "",
                links: Sequence[tuple[str, str]] = (),
                marks: Sequence[tuple[str, float]] = (), error: str = "",
                expectation: ExpectCheck | None = None, wire: WireFacts | None = None
                ) -> str:
    """The whole report page: verdicts, unexpected events, the ladder, links (pcaps...).
    `error`: why the scenario itself stopped, shown first; `expectation`: a negative
    scenario's expected failure, seen or not (it decides the verdict); `wire`: the
    captures the wire proofs were checked against."""
    if expectation is not None:
        verdict = "pass" if results and expectation.ok and not error else "fail"
    else:
        verdict = "pass" if results and all(r.passed for r in results) and not error \
            else "fail"
    cols, rows = build_rows(obs, results, start, end, marks)
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(start))
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(scenario)}: {verdict.upper()}</title><style>{CSS}</style></head><body>",
        f'<h1>{_e(scenario)} <span class="verdict {verdict}">{verdict.upper()}</span></h1>',
        f'<p class="meta">started {when}'
        + (f" \u00b7 {_e(description)}" if description else "")
        + (f" \u00b7 topology {_e(obs.topology.name)}" if obs.topology else "") + "</p>"]
    if expectation is not None:
        ok = "pass" if expectation.ok else "fail"
        parts.append(f'<div class="expect {ok}"><b>{_e(expectation.summary)}</b><br>'
                     f'<span class="meta">negative scenario: expects '
                     f"{_e(str(expectation.expect))}</span></div>")
    if error:
        parts.append(f'<h2>Scenario error</h2><div class="err">{_e(error)}</div>')
    for r in results:
        c = r.counts()
        fv, flabel = r.verdict, r.verdict.upper()
        if expectation is not None and expectation.ok and r is expectation.flow:
            fv, flabel = "pass", "EXPECTED FAILURE"
        parts.append(f'<h2>TS 32.583 {_e(r.flow.clause)} '
                     f'<span class="verdict {fv}">{flabel}</span></h2>'
                     f'<p class="meta">{c[PASSED]} passed, {c[FAILED]} failed, {c[MISSING]} '
                     f"missing, {c[SKIPPED]} skipped"
                     + (f" \u00b7 {_e(r.flow.note)}" if r.flow.note else "") + "</p>")
        parts.append(verdict_table(r, expectation))
    parts.append("<h2>Unexpected</h2>" + unexpected_list(results, start))
    parts.append(captures_section(wire))
    parts.append("<h2>Ladder</h2>"
                 '<p class="legend"><span style="color:#1f3b73"><b>\u2192 step</b> '
                 "(spec step number)</span><span style=\"color:#9aa5b1\">\u2192 other message"
                 "</span><span style=\"color:#c62828\"><b>\u2192 failed / missing / "
                 "unexpected</b></span></p>")
    parts.append(f'<div class="scroll">{render_svg(cols, rows, start)}</div>')
    if links:
        parts.append("<h2>Files</h2><ul>" + "".join(
            f'<li><a href="{_e(href)}">{_e(text)}</a></li>' for href, text in links) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)
