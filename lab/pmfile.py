"""The PM file format (TS 32.435 measCollec XML): its name, its writer and its one reader.

Shared by the HNB (which writes and uploads the files, lab.nodes.hnb.pm) and the HMS
(which checks what it receives, lab.nodes.hms.pmfiles), so neither node imports the other.
The reader is strict and is tested against hand-written files, not only against the
writer's output (a file written and read back by one module proves nothing about its
shape). What it checks (the TS 32.435 XML schema, namespace MEAS_NS, as
notes/protocol.md describes it):

    measCollecFile
      fileHeader @fileFormatVersion              required; @vendorName @dnPrefix optional
        fileSender @localDn? @elementType?       optional
        measCollec @beginTime                    required, xs:dateTime with a UTC offset
      measData+                                  at least one (a file that carries data)
        managedElement                           required
        measInfo+ @measInfoId?
          job @jobId?                            optional
          granPeriod @duration @endTime          required; duration xs:duration > 0,
                                                 endTime within beginTime..endTime
          repPeriod @duration?                   optional
          measType @p +                          p unique within its measInfo, a name
          measValue @measObjLdn *
            r @p                                 p names a measType; value a number or NIL
            suspect?                             true | false
      fileFooter
        measCollec @endTime                      required, after beginTime

The first problem found raises MeasFileError naming where it is
("measData[1]/measInfo[2]/granPeriod@duration: ...").

Named per TS 32.432 `A<YYYYMMDD>.<HHMM><+hhmm>-<HHMM><+hhmm>_<sender>.xml` (UTC here).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from lab.cwmp import xmlsafe

MEAS_NS = "http://www.3gpp.org/ftp/specs/archive/32_series/32.435#measCollec"
FILE_FORMAT_VERSION = "32.435 V11.0"
# Larger files are refused unread. A day of 15-minute periods with a few thousand
# counters stays well under it; xmlsafe's 1 MiB default (sized for CWMP) does not.
MAX_SIZE = 16 << 20

# A few TS 32.452 (HNB) style counters: (name, the attempt counter it succeeds, value
# range for attempts). Successes are derived from attempts so a success never exceeds its
# attempt counter.
HNB_COUNTERS: list[tuple[str, str | None, tuple[int, int]]] = [
    ("RRC.AttConnEstab.Sum", None, (20, 120)),
    ("RRC.SuccConnEstab.Sum", "RRC.AttConnEstab.Sum", (0, 0)),
    ("RAB.AttEstabCS.Conv", None, (5, 40)),
    ("RAB.SuccEstabCS.Conv", "RAB.AttEstabCS.Conv", (0, 0)),
    ("RAB.AttEstabPS.Bkg", None, (10, 90)),
    ("RAB.SuccEstabPS.Bkg", "RAB.AttEstabPS.Bkg", (0, 0)),
    ("HNB.UeRegistration.Att", None, (1, 15)),
    ("HNB.UeRegistration.Succ", "HNB.UeRegistration.Att", (0, 0)),
]

_DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")


class MeasFileError(ValueError):
    """Not a TS 32.435 measCollec file; the message says what and where."""


# ---- name and writer --------------------------------------------------------------------


def _ts(t: datetime) -> str:
    """xs:dateTime with an explicit offset, as TS 32.435 examples use; milliseconds only
    when the time has a fraction (a time-scaled test HNB's periods last milliseconds)."""
    t = t.astimezone(UTC)
    ms = f".{t.microsecond // 1000:03d}" if t.microsecond else ""
    return f"{t:%Y-%m-%dT%H:%M:%S}{ms}+00:00"


def meas_file_name(begin: datetime, end: datetime, sender: str, rc: int = 0) -> str:
    """TS 32.432 file name, e.g. `A20261203.1200+0000-1215+0000_HNB-1.xml`; `rc` > 0 adds
    the running count ("_-_2") that tells apart files whose times read the same."""
    b, e = begin.astimezone(UTC), end.astimezone(UTC)
    safe = "".join(c if c.isalnum() or c in "-._" else "_" for c in sender)
    suffix = f"_-_{rc}" if rc else ""
    return f"A{b:%Y%m%d}.{b:%H%M}+0000-{e:%H%M}+0000_{safe}{suffix}.xml"


def sample_counters(rng: random.Random | None = None) -> dict[str, int]:
    """One period's worth of plausible HNB counter values (HNB_COUNTERS)."""
    rng = rng or random.Random()
    values: dict[str, int] = {}
    for name, attempts_of, (lo, hi) in HNB_COUNTERS:
        if attempts_of is None:
            values[name] = rng.randint(lo, hi)
        else:
            att = values[attempts_of]
            # a femtocell succeeds in 95-100 % of its attempts
            values[name] = att - rng.randint(0, max(0, att // 20))
    return values


def build_meas_collec(
    begin: datetime,
    end: datetime,
    sender: str,
    values: dict[str, int],
    *,
    vendor: str = "hnblab",
    dn_prefix: str = "",
    element_type: str = "HNB",
    meas_obj_ldn: str = "HNBFunction=1",
    job_id: str = "1",
    gran_period_s: int | None = None,
) -> bytes:
    """A measCollec XML document for one granularity period [begin, end). granPeriod and
    repPeriod carry `gran_period_s` (the configured period), by default end - begin."""
    if _ts(end) <= _ts(begin):
        raise ValueError(f"PM period end {end} is not after its begin {begin}")
    seconds = gran_period_s if gran_period_s is not None else round((end - begin)
                                                                     .total_seconds())
    if seconds <= 0:
        raise ValueError(f"PM granularity period {seconds} s is not positive (a period "
                         "under a second needs gran_period_s)")
    n = f"{{{MEAS_NS}}}"
    root = etree.Element(n + "measCollecFile", nsmap={None: MEAS_NS})
    header = etree.SubElement(root, n + "fileHeader", fileFormatVersion=FILE_FORMAT_VERSION,
                              vendorName=vendor, dnPrefix=dn_prefix)
    etree.SubElement(header, n + "fileSender", localDn=sender, elementType=element_type)
    etree.SubElement(header, n + "measCollec", beginTime=_ts(begin))
    data = etree.SubElement(root, n + "measData")
    etree.SubElement(data, n + "managedElement", localDn=sender)
    info = etree.SubElement(data, n + "measInfo", measInfoId="HNB")
    etree.SubElement(info, n + "job", jobId=job_id)
    etree.SubElement(info, n + "granPeriod", duration=f"PT{seconds}S", endTime=_ts(end))
    etree.SubElement(info, n + "repPeriod", duration=f"PT{seconds}S")
    names = list(values)
    for p, name in enumerate(names, 1):
        etree.SubElement(info, n + "measType", p=str(p)).text = name
    mv = etree.SubElement(info, n + "measValue", measObjLdn=meas_obj_ldn)
    for p, name in enumerate(names, 1):
        etree.SubElement(mv, n + "r", p=str(p)).text = str(values[name])
    etree.SubElement(mv, n + "suspect").text = "false"
    footer = etree.SubElement(root, n + "fileFooter")
    etree.SubElement(footer, n + "measCollec", endTime=_ts(end))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# ---- reader -----------------------------------------------------------------------------


@dataclass
class MeasInfo:
    meas_info_id: str
    job_id: str
    gran_period_s: float
    end_time: str  # granPeriod@endTime, ISO 8601 with offset
    types: list[str]  # measType names in p order of the file
    # measObjLdn -> counter name -> value (text as in the file: a number or "NIL")
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    suspect: dict[str, bool] = field(default_factory=dict)  # measObjLdn -> suspect flag


@dataclass
class MeasCollec:
    file_format_version: str
    vendor: str
    dn_prefix: str
    sender: str  # fileSender@localDn ("" when absent)
    element_type: str
    begin_time: str  # ISO 8601 with offset
    end_time: str
    infos: list[MeasInfo]

    @property
    def gran_period_s(self) -> float:
        """The granularity period of the first measInfo (a file holds one period)."""
        return self.infos[0].gran_period_s

    @property
    def type_count(self) -> int:
        return sum(len(i.types) for i in self.infos)

    @property
    def value_count(self) -> int:
        return sum(len(v) for i in self.infos for v in i.values.values())

    def counters(self) -> dict[str, int]:
        """Counter name -> value summed over every measured object (integers only: NIL
        and decimals are left out)."""
        out: dict[str, int] = {}
        for info in self.infos:
            for per_obj in info.values.values():
                for name, v in per_obj.items():
                    if v.lstrip("-").isdigit():
                        out[name] = out.get(name, 0) + int(v)
        return out

    def summary(self) -> dict[str, Any]:
        """The fields the HMS reports for a checked file (file.rx, GET /api/files?check=1)."""
        return {"sender": self.sender, "begin_time": self.begin_time,
                "end_time": self.end_time, "gran_period_s": self.gran_period_s,
                "meas_types": self.type_count, "values": self.value_count}


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
    if text is None:
        raise MeasFileError(f"{where}: missing")
    m = _DURATION.fullmatch(text)
    if m is None or text in ("P", "PT") or text.endswith("T"):
        raise MeasFileError(f"{where}: {text!r} is not an xs:duration")
    d, h, mi, s = (float(x) if x else 0.0 for x in m.groups())
    seconds = ((d * 24 + h) * 60 + mi) * 60 + s
    if seconds <= 0:
        raise MeasFileError(f"{where}: duration {text!r} is not positive")
    return seconds


def parse_meas_collec(data: bytes) -> MeasCollec:
    """Read a measCollec document; raises MeasFileError naming what is wrong and where."""
    try:
        root = xmlsafe.parse(data, max_size=MAX_SIZE)
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
    infos: list[MeasInfo] = []
    for i, md in enumerate(blocks, 1):
        where = f"measData[{i}]"
        one(md, "managedElement", where)
        found = md.findall(n + "measInfo")
        if not found:
            raise MeasFileError(f"{where}: no <measInfo>")
        for j, mi in enumerate(found, 1):
            infos.append(_meas_info(mi, f"{where}/measInfo[{j}]", begin, end, n))
    return MeasCollec(
        file_format_version=header.get("fileFormatVersion", ""),
        vendor=header.get("vendorName", ""), dn_prefix=header.get("dnPrefix", ""),
        sender=sender.get("localDn", "") if sender is not None else "",
        element_type=sender.get("elementType", "") if sender is not None else "",
        begin_time=begin.isoformat(), end_time=end.isoformat(), infos=infos)


def _meas_info(mi: Any, w: str, begin: datetime, end: datetime, n: str) -> MeasInfo:
    gps = mi.findall(n + "granPeriod")
    if len(gps) != 1:
        raise MeasFileError(f"{w}: expected one <granPeriod>, found {len(gps)}")
    gran = _duration(gps[0].get("duration"), f"{w}/granPeriod@duration")
    gp_end = _time(gps[0].get("endTime"), f"{w}/granPeriod@endTime")
    if not begin < gp_end <= end:
        raise MeasFileError(f"{w}/granPeriod@endTime {gp_end.isoformat()} is outside "
                            "the file's beginTime..endTime")
    by_p: dict[str, str] = {}
    for mt in mi.findall(n + "measType"):
        p = mt.get("p")
        if not p or p in by_p:
            raise MeasFileError(f"{w}/measType: p {p!r} missing or repeated")
        name = (mt.text or "").strip()
        if not name:
            raise MeasFileError(f"{w}/measType p={p}: no measurement type name")
        by_p[p] = name
    if not by_p:
        raise MeasFileError(f"{w}: no <measType>")
    job = mi.find(n + "job")
    info = MeasInfo(meas_info_id=mi.get("measInfoId", ""),
                    job_id=job.get("jobId", "") if job is not None else "",
                    gran_period_s=gran, end_time=gp_end.isoformat(),
                    types=list(by_p.values()))
    for k, mv in enumerate(mi.findall(n + "measValue"), 1):
        wv = f"{w}/measValue[{k}]"
        ldn = mv.get("measObjLdn")
        if not ldn:
            raise MeasFileError(f"{wv}: missing attribute measObjLdn")
        vals: dict[str, str] = {}
        for r in mv.findall(n + "r"):
            p, text = r.get("p"), (r.text or "").strip()
            if p not in by_p:
                raise MeasFileError(f"{wv}/r: p={p!r} names no measType")
            if by_p[p] in vals:
                raise MeasFileError(f"{wv}/r: p={p} repeated")
            if text != "NIL" and not _NUMBER.fullmatch(text):
                raise MeasFileError(f"{wv}/r p={p}: {text!r} is not a number")
            vals[by_p[p]] = text
        info.values[ldn] = vals
        suspect = mv.find(n + "suspect")
        if suspect is not None:
            flag = (suspect.text or "").strip()
            if flag not in ("true", "false"):
                raise MeasFileError(f"{wv}/suspect: expected true or false, got {flag!r}")
            info.suspect[ldn] = flag == "true"
    return info
