"""HNB performance measurements: the periodic PM file uploader (TS 32.583 5.6).

The files are TS 32.435 measCollec XML, named per TS 32.432; their format (name, writer,
reader) is lab.pmfile, shared with the HMS that checks them.

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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lab.evidence.events import EventLog
from lab.pmfile import build_meas_collec, meas_file_name, sample_counters

PM_TABLE = "Device.FAP.PerfMgmt.Config."

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
                self._period_begin = now.replace(microsecond=0)
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
        # whole seconds in the file, as TS 32.435 shows them; milliseconds only when a
        # period lasts under a second (time-scaled tests), so begin stays before end
        whole = end.replace(microsecond=0)
        end = whole if whole - begin >= timedelta(seconds=1) else \
            end.replace(microsecond=end.microsecond // 1000 * 1000)
        if end <= begin:
            end = begin + timedelta(milliseconds=1)
        self._period_begin = end
        name = meas_file_name(begin, end, self.sender)
        # periods shorter than a minute give equal names: number them (TS 32.432 RC)
        self._rc = self._rc + 1 if name == self._last_name else 0
        self._last_name = name
        name = meas_file_name(begin, end, self.sender, self._rc)
        # granPeriod is the configured period (under time scaling longer than it took)
        data = build_meas_collec(begin, end, self.sender, sample_counters(self.rng),
                                 vendor=self.vendor, gran_period_s=max(1, cfg.interval_s))
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
