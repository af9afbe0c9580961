"""The HMS's check of an uploaded PM file: is it a TS 32.435 measCollec XML document?

Written apart from the HNB's writer (lab.nodes.hnb.pm) on purpose: a file the HNB makes
and reads back with its own code proves nothing about its shape. What is checked (the
TS 32.435 XML schema, namespace MEAS_NS, as notes/protocol.md describes it):

    measCollecFile
      fileHeader @fileFormatVersion              required
        fileSender @localDn? @elementType?       optional
        measCollec @beginTime                    required, xs:dateTime
      measData+                                  at least one (a file that carries data)
        managedElement                           required
        measInfo+
          job @jobId?                            optional
          granPeriod @duration @endTime          required; duration xs:duration > 0
          repPeriod @duration?                   optional
          measType @p +                          p unique within its measInfo
          measValue @measObjLdn *
            r @p                                 p names a measType; value a number or NIL
            suspect?                             true | false
      fileFooter
        measCollec @endTime                      required, after beginTime

The first problem found raises MeasFileError naming where it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lab.cwmp import xmlsafe

MEAS_NS = "http://www.3gpp.org/ftp/specs/archive/32_series/32.435#measCollec"
MAX_CHECKED = 16 << 20  # larger uploads are stored but not parsed
_DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")


class MeasFileError(ValueError):
    """Not a TS 32.435 measCollec file; the message says what and where."""


@dataclass
class MeasSummary:
    sender: str
    begin_time: str
    end_time: str
    gran_period_s: float
    meas_types: int
    values: int

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _time(text: str | None, where: str) -> datetime:
    if not text:
        raise MeasFileError(f"{where}: missing")
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise MeasFileError(f"{where}: {text!r} is not an xs:dateTime") from None
    if t.tzinfo is None:
        raise MeasFileError(f"{where}: {text!r} has no UTC offset")
    return t


def _duration(text: str | None, where: str) -> float:
    m = _DURATION.fullmatch(text or "")
    if not text or m is None or text in ("P", "PT"):
        raise MeasFileError(f"{where}: {text!r} is not an xs:duration")
    d, h, mi, s = (float(x) if x else 0.0 for x in m.groups())
    seconds = ((d * 24 + h) * 60 + mi) * 60 + s
    if seconds <= 0:
        raise MeasFileError(f"{where}: duration {text!r} is not positive")
    return seconds


def check_meas_collec(data: bytes) -> MeasSummary:
    """The file's summary when it is a measCollec document; raises MeasFileError."""
    try:
        root = xmlsafe.parse(data, max_size=MAX_CHECKED)
    except xmlsafe.XmlError as exc:
        raise MeasFileError(f"not usable XML: {exc}") from exc
    n = f"{{{MEAS_NS}}}"
    if root.tag != n + "measCollecFile":
        raise MeasFileError(f"root element is {root.tag}, expected {n}measCollecFile")

    def one(parent: Any, tag: str, where: str) -> Any:
        found = parent.findall(n + tag)
        if len(found) != 1:
            raise MeasFileError(f"{where}: expected one <{tag}>, found {len(found)}")
        return found[0]

    header = one(root, "fileHeader", "measCollecFile")
    if not header.get("fileFormatVersion"):
        raise MeasFileError("fileHeader: missing attribute fileFormatVersion")
    sender = header.find(n + "fileSender")
    begin = _time(one(header, "measCollec", "fileHeader").get("beginTime"),
                  "fileHeader/measCollec@beginTime")
    end = _time(one(one(root, "fileFooter", "measCollecFile"), "measCollec",
                    "fileFooter").get("endTime"), "fileFooter/measCollec@endTime")
    if end <= begin:
        raise MeasFileError(f"fileFooter/measCollec@endTime {end.isoformat()} is not after "
                            f"beginTime {begin.isoformat()}")
    blocks = root.findall(n + "measData")
    if not blocks:
        raise MeasFileError("measCollecFile: no <measData> (a PM file carries measurements)")
    gran, types, values = 0.0, 0, 0
    for i, md in enumerate(blocks, 1):
        where = f"measData[{i}]"
        one(md, "managedElement", where)
        infos = md.findall(n + "measInfo")
        if not infos:
            raise MeasFileError(f"{where}: no <measInfo>")
        for j, mi in enumerate(infos, 1):
            w = f"{where}/measInfo[{j}]"
            gp = one(mi, "granPeriod", w)
            gran = _duration(gp.get("duration"), f"{w}/granPeriod@duration")
            gp_end = _time(gp.get("endTime"), f"{w}/granPeriod@endTime")
            if not begin < gp_end <= end:
                raise MeasFileError(f"{w}/granPeriod@endTime {gp_end.isoformat()} is outside "
                                    "the file's beginTime..endTime")
            ps: set[str] = set()
            for mt in mi.findall(n + "measType"):
                p = mt.get("p")
                if not p or p in ps:
                    raise MeasFileError(f"{w}/measType: p {p!r} missing or repeated")
                if not (mt.text or "").strip():
                    raise MeasFileError(f"{w}/measType p={p}: no measurement type name")
                ps.add(p)
            if not ps:
                raise MeasFileError(f"{w}: no <measType>")
            types += len(ps)
            for k, mv in enumerate(mi.findall(n + "measValue"), 1):
                wv = f"{w}/measValue[{k}]"
                if not mv.get("measObjLdn"):
                    raise MeasFileError(f"{wv}: missing attribute measObjLdn")
                for r in mv.findall(n + "r"):
                    p, text = r.get("p"), (r.text or "").strip()
                    if p not in ps:
                        raise MeasFileError(f"{wv}/r: p={p!r} names no measType")
                    if text != "NIL" and not _NUMBER.fullmatch(text):
                        raise MeasFileError(f"{wv}/r p={p}: {text!r} is not a number")
                    values += 1
                suspect = mv.find(n + "suspect")
                if suspect is not None and (suspect.text or "").strip() not in ("true",
                                                                                "false"):
                    raise MeasFileError(f"{wv}/suspect: expected true or false")
    return MeasSummary(sender=sender.get("localDn", "") if sender is not None else "",
                       begin_time=begin.isoformat(), end_time=end.isoformat(),
                       gran_period_s=gran, meas_types=types, values=values)


def check_fields(data: bytes) -> dict[str, Any]:
    """The check as event/API fields: meas_ok, and the summary or meas_problem."""
    if len(data) > MAX_CHECKED:
        return {"meas_ok": None, "meas_problem": f"not checked: over {MAX_CHECKED} bytes"}
    try:
        summary = check_meas_collec(data)
    except MeasFileError as exc:
        return {"meas_ok": False, "meas_problem": str(exc)}
    return {"meas_ok": True, **summary.to_json()}
