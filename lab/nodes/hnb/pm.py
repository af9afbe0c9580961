"""HNB performance measurements: TS 32.435 measCollec XML files and the periodic uploader.

File format (TS 32.435 XML, the shape in notes/protocol.md):

    measCollecFile (ns .../32.435#measCollec)
      fileHeader fileFormatVersion vendorName dnPrefix
        fileSender localDn elementType
        measCollec beginTime
      measData
        managedElement localDn
        measInfo measInfoId
          job jobId / granPeriod duration endTime / repPeriod duration
          measType p=N (counter name) ...
          measValue measObjLdn  ->  r p=N (value) ... suspect
      fileFooter
        measCollec endTime

Named per TS 32.432 `A<YYYYMMDD>.<HHMM><+hhmm>-<HHMM><+hhmm>_<sender>.xml` (UTC here).

Upload policy (TS 32.583 5.6; `Device.FAP.PerfMgmt.Config.{i}.*`, TR-262/TR-181; the
lowest-numbered enabled instance drives the one upload schedule this HNB runs):
- while Enable is true and URL is set, one file is made per PeriodicUploadInterval, at
  PeriodicUploadTime + n * interval when that time is set, else every interval from the
  moment the config was (re)read;
- URL names the destination *directory*: the file name is appended ("/" added if missing),
  so successive periods never overwrite one another on the file server;
- every file is first written to the backlog directory; after an upload succeeds it is
  removed. A failed upload leaves it there and the next period uploads the whole backlog,
  oldest first, stopping at the first failure (so order is kept and no file is lost).
  The backlog is capped at `max_backlog` files (default 672, one week of 15-minute
  periods); beyond that the oldest file is dropped and an event says so;
- Enable false stops the timer (the backlog stays for when it is enabled again).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lxml import etree

from lab.cwmp import xmlsafe
from lab.evidence.events import EventLog

MEAS_NS = "http://www.3gpp.org/ftp/specs/archive/32_series/32.435#measCollec"
FILE_FORMAT_VERSION = "32.435 V11.0"
PM_TABLE = "Device.FAP.PerfMgmt.Config."

# A few TS 32.452 (HNB) style counters: (name, typical attempts range). Successes are
# derived from attempts so a success never exceeds its attempt counter.
HNB_COUNTERS: list[tuple[str, str | None, tuple[int, int]]] = [
    # (counter, the attempt counter it succeeds, value range for attempts)
    ("RRC.AttConnEstab.Sum", None, (20, 120)),
    ("RRC.SuccConnEstab.Sum", "RRC.AttConnEstab.Sum", (0, 0)),
    ("RAB.AttEstabCS.Conv", None, (5, 40)),
    ("RAB.SuccEstabCS.Conv", "RAB.AttEstabCS.Conv", (0, 0)),
    ("RAB.AttEstabPS.Bkg", None, (10, 90)),
    ("RAB.SuccEstabPS.Bkg", "RAB.AttEstabPS.Bkg", (0, 0)),
    ("HNB.UeRegistration.Att", None, (1, 15)),
    ("HNB.UeRegistration.Succ", "HNB.UeRegistration.Att", (0, 0)),
]


class PmFileError(ValueError):
    """A measCollec file that cannot be read; the message says what and where."""


# ---- writing ----------------------------------------------------------------------------


def _ts(t: datetime) -> str:
    """xs:dateTime with an explicit offset, as TS 32.435 examples use."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def meas_file_name(begin: datetime, end: datetime, sender: str, rc: int = 0) -> str:
    """TS 32.432 file name, e.g. `A20261203.1200+0000-1215+0000_HNB-1.xml`; `rc` > 0 adds
    the running count ("_-_2") that tells apart files whose times read the same."""
    b, e = begin.astimezone(UTC), end.astimezone(UTC)
    safe = "".join(c if c.isalnum() or c in "-._" else "_" for c in sender)
    suffix = f"_-_{rc}" if rc else ""
    return f"A{b:%Y%m%d}.{b:%H%M}+0000-{e:%H%M}+0000_{safe}{suffix}.xml"


def sample_counters(rng: random.Random | None = None) -> dict[str, int]:
    """One period's worth of plausible HNB counter values."""
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
) -> bytes:
    """A measCollec XML document for one granularity period [begin, end)."""
    if end <= begin:
        raise ValueError(f"PM period end {end} is not after its begin {begin}")
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
    seconds = int((end - begin).total_seconds())
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


# ---- reading ----------------------------------------------------------------------------


@dataclass
class MeasInfo:
    meas_info_id: str
    job_id: str
    gran_period_s: int
    end_time: str
    types: list[str]
    # measObjLdn -> counter name -> value (text as in the file)
    values: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class MeasCollec:
    file_format_version: str
    vendor: str
    sender: str
    element_type: str
    begin_time: str
    end_time: str
    infos: list[MeasInfo]

    def counters(self) -> dict[str, int]:
        """Counter name -> value summed over every measured object (ints only)."""
        out: dict[str, int] = {}
        for info in self.infos:
            for per_obj in info.values.values():
                for name, v in per_obj.items():
                    with contextlib.suppress(ValueError):
                        out[name] = out.get(name, 0) + int(v)
        return out


def _duration_s(text: str, where: str) -> int:
    # TS 32.435 uses "PT900S"; accept PTnM / PTnH too
    t = text.strip().upper()
    if not t.startswith("PT") or len(t) < 4:
        raise PmFileError(f"{where}: duration {text!r} is not like PT900S")
    num, unit = t[2:-1], t[-1]
    mult = {"S": 1, "M": 60, "H": 3600}.get(unit)
    if mult is None or not num.isdigit():
        raise PmFileError(f"{where}: duration {text!r} is not like PT900S")
    return int(num) * mult


def parse_meas_collec(data: bytes) -> MeasCollec:
    """Read a measCollec file; raises PmFileError naming what is missing or wrong."""
    try:
        root = xmlsafe.parse(data)
    except xmlsafe.XmlError as exc:
        raise PmFileError(f"PM file is not usable XML: {exc}") from exc
    n = f"{{{MEAS_NS}}}"
    if root.tag != n + "measCollecFile":
        raise PmFileError(f"root element is {root.tag}, expected {{{MEAS_NS}}}measCollecFile")

    def one(parent: Any, tag: str, where: str) -> Any:
        el = parent.find(n + tag)
        if el is None:
            raise PmFileError(f"{where}: missing <{tag}>")
        return el

    def attr(el: Any, name: str, where: str) -> str:
        v = el.get(name)
        if v is None:
            raise PmFileError(f"{where}: missing attribute {name}")
        return v

    header = one(root, "fileHeader", "measCollecFile")
    sender = one(header, "fileSender", "fileHeader")
    begin = one(header, "measCollec", "fileHeader")
    footer = one(root, "fileFooter", "measCollecFile")
    end = one(footer, "measCollec", "fileFooter")
    infos: list[MeasInfo] = []
    for md_i, md in enumerate(root.findall(n + "measData"), 1):
        for mi_i, mi in enumerate(md.findall(n + "measInfo"), 1):
            where = f"measData[{md_i}]/measInfo[{mi_i}]"
            gp = one(mi, "granPeriod", where)
            job = mi.find(n + "job")
            by_p: dict[str, str] = {}
            for mt in mi.findall(n + "measType"):
                by_p[attr(mt, "p", where + "/measType")] = (mt.text or "").strip()
            info = MeasInfo(
                meas_info_id=mi.get("measInfoId", ""),
                job_id=job.get("jobId", "") if job is not None else "",
                gran_period_s=_duration_s(attr(gp, "duration", where + "/granPeriod"),
                                          where + "/granPeriod"),
                end_time=attr(gp, "endTime", where + "/granPeriod"),
                types=list(by_p.values()),
            )
            for mv_i, mv in enumerate(mi.findall(n + "measValue"), 1):
                w = f"{where}/measValue[{mv_i}]"
                ldn = attr(mv, "measObjLdn", w)
                vals: dict[str, str] = {}
                for r in mv.findall(n + "r"):
                    p = attr(r, "p", w + "/r")
                    if p not in by_p:
                        raise PmFileError(f"{w}: r p={p} has no measType with that p")
                    vals[by_p[p]] = (r.text or "").strip()
                info.values[ldn] = vals
            infos.append(info)
    return MeasCollec(
        file_format_version=header.get("fileFormatVersion", ""),
        vendor=header.get("vendorName", ""),
        sender=attr(sender, "localDn", "fileHeader/fileSender"),
        element_type=sender.get("elementType", ""),
        begin_time=attr(begin, "beginTime", "fileHeader/measCollec"),
        end_time=attr(end, "endTime", "fileFooter/measCollec"),
        infos=infos,
    )


# ---- periodic uploader --------------------------------------------------------------------

# upload(url, data, username, password) -> None, raising on failure (transfers.upload fits)
Uploader = Callable[[str, bytes, str, str], Awaitable[None]]


@dataclass
class PmConfig:
    enable: bool
    url: str
    username: str
    password: str
    interval_s: int
    upload_time: datetime | None

    @property
    def active(self) -> bool:
        return self.enable and bool(self.url) and self.interval_s > 0


def _parse_time(text: str) -> datetime | None:
    text = (text or "").strip()
    if not text or text.startswith("0001-01-01"):
        return None
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _truthy(v: object) -> bool:
    return str(v).strip().lower() in ("1", "true")


def destination(url: str, file_name: str) -> str:
    """The PerfMgmt URL names a directory: append the file name to it."""
    return url + file_name if url.endswith("/") else f"{url}/{file_name}"


class PmUploader:
    """Periodic PM file generation and upload driven by Device.FAP.PerfMgmt.Config.1."""

    def __init__(
        self,
        model: Any,
        upload: Uploader,
        backlog_dir: Path | str,
        events: EventLog,
        *,
        sender: str,
        vendor: str = "hnblab",
        time_scale: float = 1.0,
        max_backlog: int = 672,
        rng: random.Random | None = None,
    ) -> None:
        self.model = model
        self._upload = upload
        self.backlog_dir = Path(backlog_dir)
        self.backlog_dir.mkdir(parents=True, exist_ok=True)
        self.events = events
        self.sender = sender
        self.vendor = vendor
        self.time_scale = time_scale
        self.max_backlog = max_backlog
        self.rng = rng or random.Random()
        self.uploaded: list[str] = []  # destinations uploaded so far (for tests, status)
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._period_begin: datetime | None = None
        self._cycle_done = asyncio.Condition()
        self.cycles = 0
        self._idle = asyncio.Event()  # set while PM upload is disabled
        self._last_name = ""
        self._rc = 0

    def instance(self) -> str | None:
        """The PerfMgmt.Config instance in charge: the lowest-numbered enabled one (this HNB
        runs one upload schedule), else the lowest one; None when the table is empty."""
        try:
            numbers = self.model.instances(PM_TABLE)
        except Exception:  # a model without the table: PM is off
            return None
        enabled = [n for n in numbers
                   if _truthy(self.model.get(f"{PM_TABLE}{n}.Enable"))]
        pick = (enabled or numbers or [None])[0]
        return None if pick is None else f"{PM_TABLE}{pick}."

    def config(self) -> PmConfig:
        prefix = self.instance()
        if prefix is None:
            return PmConfig(False, "", "", "", 0, None)

        def g(name: str) -> str:
            return self.model.get(prefix + name)

        try:
            interval = int(g("PeriodicUploadInterval") or 0)
        except ValueError:
            interval = 0
        return PmConfig(
            enable=_truthy(g("Enable")),
            url=g("URL"),
            username=g("Username"),
            password=g("Password"),
            interval_s=interval,
            upload_time=_parse_time(g("PeriodicUploadTime")),
        )

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="pm-uploader")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def reconfigure(self) -> None:
        """Call after the PerfMgmt parameters may have changed (e.g. after a session)."""
        self._changed.set()

    def backlog(self) -> list[Path]:
        """Files waiting for upload, oldest first (by write time: "_-_10" sorts before
        "_-_2" by name)."""
        files = []
        for p in self.backlog_dir.glob("A*.xml"):
            try:
                files.append((p.stat().st_mtime_ns, p.name, p))
            except FileNotFoundError:
                continue
        return [p for _, _, p in sorted(files)]

    async def wait_idle(self) -> None:
        """Wait until the uploader has seen that PM upload is disabled."""
        await self._idle.wait()

    async def wait_cycles(self, n: int) -> None:
        """Wait until at least `n` upload periods have been processed (tests)."""
        async with self._cycle_done:
            await self._cycle_done.wait_for(lambda: self.cycles >= n)

    def _next_due(self, cfg: PmConfig, now: datetime) -> float:
        """Seconds (scaled) until the next period boundary."""
        interval = cfg.interval_s
        if cfg.upload_time is not None:
            # align to PeriodicUploadTime + k * interval (TR-262)
            elapsed = (now - cfg.upload_time).total_seconds()
            k = int(elapsed // interval) + 1
            due = cfg.upload_time + timedelta(seconds=k * interval)
            wait = (due - now).total_seconds()
        else:
            wait = float(interval)
        return max(0.0, wait) * self.time_scale

    async def _run(self) -> None:
        while True:
            self._changed.clear()
            cfg = self.config()
            if not cfg.active:
                self._period_begin = None
                self._idle.set()
                await self._changed.wait()
                continue
            self._idle.clear()
            now = datetime.now(UTC)
            if self._period_begin is None:
                self._period_begin = now
            wait = self._next_due(cfg, now)
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=wait)
                continue  # config changed: re-read it and re-plan the period
            except TimeoutError:
                pass
            await self.run_period(cfg)

    async def run_period(self, cfg: PmConfig | None = None) -> None:
        """Close the current period: write its file, then upload the backlog."""
        cfg = cfg or self.config()
        end = datetime.now(UTC)
        begin = self._period_begin or end - timedelta(seconds=max(1, cfg.interval_s))
        if end <= begin:
            end = begin + timedelta(seconds=1)
        self._period_begin = end
        name = meas_file_name(begin, end, self.sender)
        # periods shorter than a minute give equal names: number them (TS 32.432 RC)
        self._rc = self._rc + 1 if name == self._last_name else 0
        self._last_name = name
        name = meas_file_name(begin, end, self.sender, self._rc)
        data = build_meas_collec(begin, end, self.sender, sample_counters(self.rng),
                                 vendor=self.vendor)
        path = self.backlog_dir / name
        path.write_bytes(data)
        self.events.emit("pm.file", f"PM file {path.name}", file=path.name, bytes=len(data))
        self._trim_backlog()
        await self._flush(cfg)
        async with self._cycle_done:
            self.cycles += 1
            self._cycle_done.notify_all()

    def _trim_backlog(self) -> None:
        files = self.backlog()
        for old in files[: max(0, len(files) - self.max_backlog)]:
            old.unlink(missing_ok=True)
            self.events.emit("pm.dropped", f"PM backlog full: dropped {old.name}",
                             file=old.name)

    async def _flush(self, cfg: PmConfig) -> None:
        for path in self.backlog():
            dest = destination(cfg.url, path.name)
            try:
                await self._upload(dest, path.read_bytes(), cfg.username, cfg.password)
            except Exception as exc:
                left = len(self.backlog())
                self.events.emit("pm.upload_failed",
                                 f"PM upload of {path.name} to {dest} failed: {exc}",
                                 peer=dest, file=path.name, error=str(exc), backlog=left)
                return  # keep order: the rest waits for the next period
            path.unlink(missing_ok=True)
            self.uploaded.append(dest)
            self.events.emit("pm.upload", f"PM file {path.name} uploaded to {dest}",
                             peer=dest, file=path.name, url=dest)
