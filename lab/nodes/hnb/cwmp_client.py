"""The HNB's CWMP session engine (the CPE side of TR-069, Amendment 2 = CWMP 1.1).

One session at a time, always opened by the HNB:
  Inform (events, RetryCount, ParameterList = forced inform params + changed notified
  params) -> InformResponse -> the HNB's own requests (TransferComplete), unless the ACS
  said HoldRequests -> empty POST -> ACS requests answered from the data model -> the
  session ends when the ACS answers with an empty HTTP response (204 or empty 200) and
  the HNB has nothing left to send. Cookies live for one session (a fresh jar each
  time); every response echoes the request's cwmp:ID. HTTP auth towards the ACS (Basic
  or Digest, whichever it challenges with) uses ManagementServer.Username/Password.

Events (TR-069 3.7.1.5): kept in a persistent queue (`cwmp_state.json` in the state
directory) until an InformResponse says they were delivered. Single events are kept once,
"M ..." events once per CommandKey. "6 CONNECTION REQUEST" is not retried (dropped when
its session fails). "4 VALUE CHANGE" is derived from the data model's pending
notifications; "7 TRANSFER COMPLETE" with "M Download"/"M Upload" is derived from the
undelivered TransferComplete results, which stay until a TransferCompleteResponse.
"0 BOOTSTRAP" is added while Device.ManagementServer.URL differs from the URL a
BOOTSTRAP was last delivered to (first boot, factory reset, URL change).

Failed session (no InformResponse, HTTP error, fault, broken exchange): RetryCount+1 and
a retry after a random wait in [m*k^(n-1), m*k^n) seconds, m =
CWMPRetryMinimumWaitInterval (5), k = CWMPRetryIntervalMultiplier/1000 (2.0), n capped
at 10 (TR-069 Table 3: 5-10 s, 10-20 s, ... 2560-5120 s), times `time_scale`. A new event
during the wait starts the retry at once. RetryCount goes back to 0 after a session that
completed.

After a successful session: FactoryReset (model reset and saved, state cleared, then a
reboot with "0 BOOTSTRAP" + "1 BOOT"), or Reboot ("1 BOOT" + "M Reboot"), then a URL
change hook, then scheduled transfers (after DelaySeconds). An ACS change of the URL
makes the next session go to the new URL with "0 BOOTSTRAP".
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import json
import logging
import random
import ssl as ssl_mod
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import aiohttp.abc

from lab.cwmp import envelope, rpc
from lab.cwmp.faults import CPE_FAULT_BASE, CwmpError
from lab.cwmp.rpc import (
    BOOT,
    BOOTSTRAP,
    CONNECTION_REQUEST,
    M_DOWNLOAD,
    M_REBOOT,
    M_SCHEDULE_INFORM,
    M_UPLOAD,
    PERIODIC,
    SCHEDULED,
    TRANSFER_COMPLETE,
    VALUE_CHANGE,
)
from lab.datamodel import DataModelError
from lab.evidence.events import EventLog
from lab.nodes.hnb import transfers

log = logging.getLogger(__name__)

MS = "Device.ManagementServer."
URL_PARAM = MS + "URL"


# Events dropped when the session carrying them fails (TR-069: "not retried").
NOT_RETRIED = {CONNECTION_REQUEST}

DOWNLOAD_TYPES = (transfers.CM_FILE_TYPE,)
UPLOAD_TYPES = ("1 Vendor Configuration File", "2 Vendor Log File")

Hook = Callable[..., Awaitable[None] | None]


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def call_hook(hook: Hook | None, *args: Any) -> None:
    """Call a sync or async hook; its failure is logged, never fatal to the caller."""
    if hook is None:
        return
    try:
        result = hook(*args)
        if inspect.isawaitable(result):
            await result
    except Exception:
        log.exception("hook %r failed", hook)


class SessionError(Exception):
    """Why a session failed (the message names the step and the cause)."""


@dataclass
class SessionRecord:
    """What one session did; `wait_session` hands these to tests."""

    index: int
    url: str
    events: list[str]
    retry_count: int
    ok: bool = False
    error: str = ""
    inform: rpc.Inform | None = None
    received: list[str] = field(default_factory=list)  # ACS message names, in order
    sent: list[str] = field(default_factory=list)  # HNB message names, in order


@dataclass
class PendingTransfer:
    kind: str  # "Download" | "Upload"
    command_key: str
    file_type: str
    url: str
    username: str = ""
    password: str = ""
    file_size: int = 0
    delay_seconds: int = 0


@dataclass
class TransferResult:
    """A TransferComplete not yet acknowledged, with its "M Download"/"M Upload" event."""

    event: str
    tc: rpc.TransferComplete


class EventQueue:
    """Undelivered events and TransferComplete results, saved to a JSON file."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.events: list[rpc.EventStruct] = []
        self.transfers: list[TransferResult] = []
        self.bootstrap_url: str | None = None  # where "0 BOOTSTRAP" was last delivered
        self._load()

    def _load(self) -> None:
        if not self.path or not self.path.exists():
            return
        try:
            d = json.loads(self.path.read_text())
            self.events = [rpc.EventStruct(**e) for e in d.get("events", [])]
            self.transfers = [TransferResult(t["event"], rpc.TransferComplete(**t["tc"]))
                              for t in d.get("transfers", [])]
            self.bootstrap_url = d.get("bootstrap_url")
        except (OSError, ValueError, TypeError, KeyError) as exc:
            # a torn state file: start clean, which at worst re-sends BOOTSTRAP
            log.warning("%s: unreadable CWMP state, starting clean (%s)", self.path, exc)

    def save(self) -> None:
        if not self.path:
            return
        d = {"events": [asdict(e) for e in self.events],
             "transfers": [{"event": t.event, "tc": asdict(t.tc)} for t in self.transfers],
             "bootstrap_url": self.bootstrap_url}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(d, indent=1))
        tmp.replace(self.path)

    def add(self, code: str, command_key: str = "") -> None:
        single = not code.startswith("M ")
        for e in self.events:
            if e.code == code and (single or e.command_key == command_key):
                return
        self.events.append(rpc.EventStruct(code, command_key if not single else ""))
        self.save()

    def remove_delivered(self, delivered: Iterable[rpc.EventStruct]) -> None:
        gone = {(e.code, e.command_key) for e in delivered}
        self.events = [e for e in self.events if (e.code, e.command_key) not in gone]
        self.save()

    def drop_not_retried(self) -> None:
        self.events = [e for e in self.events if e.code not in NOT_RETRIED]
        self.save()

    def clear(self) -> None:
        self.events, self.transfers, self.bootstrap_url = [], [], None
        self.save()


class CwmpClient:
    """CPE session engine. Run it with `await client.run()` (a task); trigger sessions with
    `request_session(event)`; `await stop()` ends it."""

    def __init__(
        self,
        model: Any,
        events: EventLog,
        *,
        state_dir: Path | str | None = None,
        ssl: ssl_mod.SSLContext | None = None,
        ns: str = envelope.NS_1_1,
        time_scale: float = 1.0,
        http_timeout: float = 30.0,
        transfer_options: transfers.TransferOptions | None = None,
        on_url_changed: Hook | None = None,
        on_reboot: Hook | None = None,
        on_session_done: Hook | None = None,
        log_file: Path | None = None,
        resolver: aiohttp.abc.AbstractResolver | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.model = model
        self.events = events
        self.state_dir = Path(state_dir) if state_dir else None
        if self.state_dir:
            self.state_dir.mkdir(parents=True, exist_ok=True)
        self.ssl = ssl
        self.ns = ns
        self.time_scale = time_scale
        self.http_timeout = http_timeout
        # names resolved through `resolver` when given (the network side's DNS)
        self.resolver = resolver
        self.transfer_options = transfer_options or transfers.TransferOptions(
            ssl=ssl, resolver=resolver)
        # on_url_changed(old, new): the network side may need a new tunnel/resolver first
        self.on_url_changed = on_url_changed
        # on_reboot(): the device restarts its other parts (model already saved)
        self.on_reboot = on_reboot
        # on_session_done(record): e.g. the PM uploader re-reads its config
        self.on_session_done = on_session_done
        self.log_file = log_file
        self.rng = rng or random.Random()
        self.queue = EventQueue(self.state_dir / "cwmp_state.json" if self.state_dir else None)
        self.retry_count = 0
        self.sessions: list[SessionRecord] = []
        self._ids = itertools.count(1)
        self._wake = asyncio.Event()
        self._done = asyncio.Condition()
        self._periodic_changed = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._run_task: asyncio.Task[Any] | None = None
        # set during a session, acted on after it completed
        self._factory_reset = False
        self._reboot_key: str | None = None
        self._transfers: list[PendingTransfer] = []
        self._pending_sent: tuple[list[str], list[str]] = ([], [])
        model.on_active_change = self._active_change

    # ---- public API -------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self._get(URL_PARAM)

    def request_session(self, event: str | None = None, command_key: str = "") -> None:
        """Queue `event` (if any) and open a session as soon as possible."""
        if event:
            self.queue.add(event, command_key)
        self._wake.set()

    def boot(self) -> None:
        """Power-on: queue "1 BOOT" (and "0 BOOTSTRAP" follows from the URL rule)."""
        self.queue.add(BOOT)
        self._wake.set()

    async def run(self) -> None:
        self._run_task = asyncio.current_task()
        self._spawn(self._periodic_loop(), "periodic-inform")
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                if not self._has_work():
                    continue
                if not self.url:
                    self.events.emit("cwmp.idle", "no ManagementServer.URL: no session")
                    continue
                if self._get(MS + "EnableCWMP", "true").lower() in ("0", "false"):
                    self.events.emit("cwmp.idle", "ManagementServer.EnableCWMP is false")
                    continue
                ok = await self._session()
                if ok:
                    self.retry_count = 0
                    await self._after_success()
                    if self._has_work():
                        self._wake.set()
                    continue
                self.retry_count += 1
                self.queue.drop_not_retried()
                self._start_transfers()  # accepted (DownloadResponse sent): the ACS waits
                if not self._has_work():
                    continue
                delay = self.retry_delay(self.retry_count)
                self.events.emit("cwmp.retry", f"session retry {self.retry_count} in "
                                 f"{delay:.2f} s", retry_count=self.retry_count, delay=delay)
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    # a new event during the wait retries at once (TR-069)
                    await asyncio.wait_for(self._wake.wait(), delay)
                self._wake.set()
        finally:
            for t in list(self._tasks):
                t.cancel()
            for t in list(self._tasks):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t

    async def stop(self) -> None:
        task = self._run_task
        if task and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._run_task = None

    async def wait_session(self, events: Iterable[str] = (), *, after: int = 0,
                           ok: bool | None = True) -> SessionRecord:
        """The first session with index >= `after` whose Inform carried all `events`
        (and that succeeded; ok=False: that failed; ok=None: either). Wrap in asyncio.wait_for."""
        want = set(events)

        def find() -> SessionRecord | None:
            for rec in self.sessions:
                if rec.index < after or (ok is not None and rec.ok != ok):
                    continue
                if want <= set(rec.events):
                    return rec
            return None

        async with self._done:
            await self._done.wait_for(lambda: find() is not None)
            rec = find()
            assert rec is not None
            return rec

    def retry_delay(self, retry: int) -> float:
        """Seconds to wait before retry number `retry` (1-based), already scaled."""
        m = self._int_param(MS + "CWMPRetryMinimumWaitInterval", 5)
        k = self._int_param(MS + "CWMPRetryIntervalMultiplier", 2000) / 1000.0
        n = min(max(retry, 1), 10)
        lo = m * k ** (n - 1)
        return self.rng.uniform(lo, lo * k) * self.time_scale

    # ---- data model helpers --------------------------------------------------------------

    def _get(self, name: str, default: str = "") -> str:
        """Raw value (hidden ones included: we need the ACS password)."""
        try:
            return self.model.get(name)
        except DataModelError:
            return default

    def _int_param(self, name: str, default: int) -> int:
        try:
            return int(self._get(name, str(default)))
        except ValueError:
            return default

    def _pending(self) -> tuple[list[str], list[str]]:
        active, passive = self.model.pending_notifications()
        return list(active), list(passive)

    def _active_change(self, *_args: Any) -> None:
        # a device-made change of an active-notify parameter: a session now (TR-069 3.2.1)
        self._wake.set()

    def _has_work(self) -> bool:
        active, _ = self._pending()
        return bool(self.queue.events or self.queue.transfers or active
                    or self.url != (self.queue.bootstrap_url or ""))

    def _save_model(self) -> None:
        if self.state_dir:
            self.model.save(self.state_dir / "model.json")

    # ---- one session -------------------------------------------------------------------------

    def _session_events(self, url: str) -> list[rpc.EventStruct]:
        evs = list(self.queue.events)
        codes = {e.code for e in evs}
        if url != self.queue.bootstrap_url and BOOTSTRAP not in codes:
            evs.insert(0, rpc.EventStruct(BOOTSTRAP))
        active, passive = self._pending()
        if (active or passive) and VALUE_CHANGE not in codes:
            evs.append(rpc.EventStruct(VALUE_CHANGE))
        if self.queue.transfers:
            evs.append(rpc.EventStruct(TRANSFER_COMPLETE))
            for r in self.queue.transfers:
                ev = rpc.EventStruct(r.event, r.tc.command_key)
                if all((e.code, e.command_key) != (ev.code, ev.command_key) for e in evs):
                    evs.append(ev)
        order = {BOOTSTRAP: 0, BOOT: 1}
        evs.sort(key=lambda e: order.get(e.code, 2))
        return evs

    def _build_inform(self, events: list[rpc.EventStruct]) -> rpc.Inform:
        device_id = self.model.device_id()
        # forced-inform params, the WAN IP, location, then pending notifications
        params: dict[str, rpc.ParameterValue] = {}
        for pv in self.model.inform_parameters():
            params.setdefault(pv.name, pv)
        return rpc.Inform(device_id=device_id, events=events, max_envelopes=1,
                          current_time=now_iso(), retry_count=self.retry_count,
                          parameters=list(params.values()))

    async def _session(self) -> bool:
        url = self.url
        events = self._session_events(url)
        rec = SessionRecord(index=len(self.sessions), url=url,
                            events=[e.code for e in events], retry_count=self.retry_count)
        self.events.emit("cwmp.session", f"session {rec.index} to {url}: "
                         f"{','.join(rec.events)}", peer=url, url=url, events=rec.events,
                         retry_count=self.retry_count, state="start")
        try:
            await self._exchange(rec, url, events)
            rec.ok = True
        except (SessionError, CwmpError, aiohttp.ClientError, OSError, ValueError) as exc:
            rec.error = str(exc) or type(exc).__name__
            self._factory_reset, self._reboot_key = False, None  # only after success
        except asyncio.CancelledError:
            # HNB stopped/powered off mid-session: still close the session in the log, or
            # anything pairing start with end (wait_between_sessions) waits on it forever
            rec.error = "cancelled"
            self._factory_reset, self._reboot_key = False, None
            self._emit_session_end(rec, url)
            raise
        self._emit_session_end(rec, url)
        self._save_model()
        async with self._done:
            self.sessions.append(rec)
            self._done.notify_all()
        await call_hook(self.on_session_done, rec)
        return rec.ok

    def _emit_session_end(self, rec: SessionRecord, url: str) -> None:
        self.events.emit("cwmp.session", f"session {rec.index} "
                         f"{'completed' if rec.ok else 'failed: ' + rec.error}",
                         peer=url, url=url, events=rec.events, ok=rec.ok, error=rec.error,
                         state="end")

    def _http_session(self) -> aiohttp.ClientSession:
        user = self._get(MS + "Username")
        password = self._get(MS + "Password")
        middlewares = (aiohttp.DigestAuthMiddleware(user, password),) if user else ()
        # unsafe=True: keep cookies for IP-literal ACS URLs too; one jar per session
        connector = aiohttp.TCPConnector(resolver=self.resolver) if self.resolver else None
        return aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True), middlewares=middlewares,
            timeout=aiohttp.ClientTimeout(total=self.http_timeout), connector=connector)

    async def _exchange(self, rec: SessionRecord, url: str,
                        events: list[rpc.EventStruct]) -> None:
        async with self._http_session() as http:
            post = _Poster(self, http, url, rec)
            self._pending_sent = self._pending()
            inform = self._build_inform(events)
            rec.inform = inform
            env = await post.send(inform, str(next(self._ids)))
            if env is None or not isinstance(env.body, rpc.InformResponse):
                raise SessionError(f"Inform answered with {post.describe(env)}, "
                                   "not InformResponse")
            # delivered: forget the events, the notifications, the bootstrap condition
            self.queue.remove_delivered(events)
            if any(e.code == BOOTSTRAP for e in events):
                self.queue.bootstrap_url = url
                self.queue.save()
            active, passive = self._pending_sent
            self.model.clear_notifications([*active, *passive])
            hold = bool(env.hold_requests)
            # only the results this Inform announced ("7 TRANSFER COMPLETE"); one that
            # completes meanwhile waits for the next session
            own = [r for r in self.queue.transfers
                   if any(e.code == r.event and e.command_key == r.tc.command_key
                          for e in events)]
            incoming: envelope.Envelope | None = None  # an ACS request to answer
            acs_empty = False  # the last HTTP response carried no envelope
            while True:
                if incoming is not None:
                    hold = bool(incoming.hold_requests)
                    answer = self._answer(incoming.body)
                    env = await post.send(answer, incoming.id, ns=incoming.ns)
                    incoming, acs_empty = self._classify(env, post)
                    if acs_empty:
                        hold = False  # an empty response carries no HoldRequests
                    continue
                if own and not hold:
                    env = await post.send(own[0].tc, str(next(self._ids)))
                    if env is None:
                        raise SessionError("TransferComplete answered with an empty "
                                           "response")
                    if isinstance(env.body, rpc.TransferCompleteResponse):
                        done = own.pop(0)
                        self.queue.transfers = [r for r in self.queue.transfers
                                                if r is not done]
                        self.queue.save()
                        hold = bool(env.hold_requests)
                        acs_empty = False
                        continue
                    if isinstance(env.body, rpc.Fault):
                        raise SessionError(f"TransferComplete refused: Fault "
                                           f"{env.body.code} {env.body.string}")
                    incoming, acs_empty = self._classify(env, post)
                    continue
                if acs_empty:
                    return  # the ACS has nothing more and neither have we
                env = await post.send(None, None)
                incoming, acs_empty = self._classify(env, post)
                if acs_empty:
                    hold = False

    def _classify(self, env: envelope.Envelope | None,
                  post: _Poster) -> tuple[envelope.Envelope | None, bool]:
        """(ACS request to answer or None, whether the response was empty)."""
        if env is None:
            return None, True
        if env.body is None:  # an envelope with an empty Body: treat as "nothing more"
            return None, True
        if isinstance(env.body, rpc.Fault):
            raise SessionError(f"ACS sent Fault {env.body.code} {env.body.string}")
        if isinstance(env.body, CwmpError) and env.id is None and env.body.code != 9000:
            raise SessionError(f"unreadable ACS message: {env.body.message}")
        if isinstance(env.body, _ACS_RESPONSES):
            raise SessionError(f"unexpected {post.describe(env)} from the ACS")
        return env, False

    # ---- answering ACS requests ------------------------------------------------------------

    def _answer(self, body: Any) -> Any:
        """The response (or rpc.Fault) to one ACS request."""
        try:
            if isinstance(body, CwmpError):
                raise body
            return self._dispatch(body)
        except CwmpError as exc:
            return exc.to_fault()
        except Exception as exc:  # the model must never take the session down
            log.exception("internal error answering %s", type(body).__name__)
            return rpc.Fault(9002, f"internal error in {type(body).__name__}: {exc}")

    def _dispatch(self, body: Any) -> Any:
        m = self.model
        if isinstance(body, rpc.GetRPCMethods):
            return rpc.GetRPCMethodsResponse(methods=list(rpc.CPE_METHODS))
        if isinstance(body, rpc.GetParameterNames):
            return rpc.GetParameterNamesResponse(
                parameters=list(m.names(body.parameter_path, body.next_level)))
        if isinstance(body, rpc.GetParameterValues):
            return rpc.GetParameterValuesResponse(parameters=list(m.get_values(body.names)))
        if isinstance(body, rpc.SetParameterValues):
            if not body.parameters:
                raise CwmpError(9003, "SetParameterValues with an empty ParameterList")
            m.set_values(body.parameters, body.parameter_key)
            self._periodic_changed.set()
            return rpc.SetParameterValuesResponse(status=0)
        if isinstance(body, rpc.GetParameterAttributes):
            return rpc.GetParameterAttributesResponse(
                parameters=list(m.get_attributes(body.names)))
        if isinstance(body, rpc.SetParameterAttributes):
            m.set_attributes(body.parameters)
            return rpc.SetParameterAttributesResponse()
        if isinstance(body, rpc.AddObject):
            n = m.add_object(body.object_name, body.parameter_key)
            return rpc.AddObjectResponse(instance_number=int(n), status=0)
        if isinstance(body, rpc.DeleteObject):
            m.delete_object(body.object_name, body.parameter_key)
            return rpc.DeleteObjectResponse(status=0)
        if isinstance(body, rpc.Download):
            transfers.check_scheme(body.url, "Download")
            if body.file_type not in DOWNLOAD_TYPES:
                raise CwmpError(9003, f"Download FileType {body.file_type!r} not supported; "
                                      f"this HNB takes {', '.join(DOWNLOAD_TYPES)}")
            self._transfers.append(PendingTransfer(
                "Download", body.command_key, body.file_type, body.url, body.username,
                body.password, body.file_size, body.delay_seconds))
            return rpc.DownloadResponse(status=1)
        if isinstance(body, rpc.Upload):
            transfers.check_scheme(body.url, "Upload")
            if body.file_type not in UPLOAD_TYPES:
                raise CwmpError(9003, f"Upload FileType {body.file_type!r} not supported; "
                                      f"this HNB sends {', '.join(UPLOAD_TYPES)}")
            self._transfers.append(PendingTransfer(
                "Upload", body.command_key, body.file_type, body.url, body.username,
                body.password, 0, body.delay_seconds))
            return rpc.UploadResponse(status=1)
        if isinstance(body, rpc.Reboot):
            self._reboot_key = body.command_key
            return rpc.RebootResponse()
        if isinstance(body, rpc.FactoryReset):
            self._factory_reset = True
            return rpc.FactoryResetResponse()
        if isinstance(body, rpc.ScheduleInform):
            if body.delay_seconds <= 0:
                raise CwmpError(9003, "ScheduleInform DelaySeconds must be greater than 0")
            self._spawn(self._scheduled(body.delay_seconds, body.command_key),
                        "schedule-inform")
            return rpc.ScheduleInformResponse()
        raise CwmpError(9000, f"method not supported by this CPE: {type(body).__name__}")

    # ---- after a successful session ------------------------------------------------------------

    async def _after_success(self) -> None:
        if self._factory_reset:
            self._factory_reset, self._reboot_key = False, None
            self._transfers.clear()
            self.events.emit("cwmp.factory_reset", "FactoryReset: model reset, rebooting")
            self.model.factory_reset()
            self._save_model()
            self.queue.clear()
            self.queue.add(BOOTSTRAP)
            self.queue.add(BOOT)
            await call_hook(self.on_reboot)
            return
        if self._reboot_key is not None:
            key, self._reboot_key = self._reboot_key, None
            self._transfers.clear()  # a reboot abandons transfers not yet started
            self.events.emit("cwmp.reboot", f"Reboot (CommandKey {key!r})", command_key=key)
            self._save_model()
            self.queue.add(BOOT)
            self.queue.add(M_REBOOT, key)
            await call_hook(self.on_reboot)
            return
        url = self.url
        if url and url != (self.queue.bootstrap_url or ""):
            old = self.queue.bootstrap_url or ""
            self.events.emit("cwmp.url_changed", f"ManagementServer.URL {old} -> {url}",
                             old=old, new=url)
            await call_hook(self.on_url_changed, old, url)
        self._start_transfers()
        self._periodic_changed.set()

    def _start_transfers(self) -> None:
        for t in self._transfers:
            self._spawn(self._transfer(t), f"transfer-{t.kind}")
        self._transfers.clear()

    def _spawn(self, coro: Awaitable[Any], name: str) -> None:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _scheduled(self, delay: int, key: str) -> None:
        await asyncio.sleep(delay * self.time_scale)
        self.queue.add(SCHEDULED)
        self.request_session(M_SCHEDULE_INFORM, key)

    async def _transfer(self, t: PendingTransfer) -> None:
        if t.delay_seconds:
            await asyncio.sleep(t.delay_seconds * self.time_scale)
        start = now_iso()
        code, text = 0, ""
        self.events.emit(f"transfer.{t.kind.lower()}", f"{t.kind} {t.file_type} {t.url} "
                         "started", peer=t.url, url=t.url, command_key=t.command_key,
                         state="start")
        try:
            if t.kind == "Download":
                data = await transfers.download(t.url, t.username, t.password,
                                                file_size=t.file_size,
                                                options=self.transfer_options)
                changed = transfers.apply_cm_file(self.model, data)
                self._save_model()
                self.events.emit("cm.applied", f"CM file applied: {len(changed)} changed",
                                 url=t.url, changed=sorted(changed))
            else:
                await transfers.upload(t.url, self._upload_content(t.file_type),
                                       t.username, t.password, options=self.transfer_options)
        except transfers.TransferError as exc:
            code, text = exc.code, exc.message
        except Exception as exc:  # never lose the TransferComplete
            log.exception("transfer failed")
            code, text = 9002, f"{t.kind} {t.url}: internal error: {exc}"
        self.events.emit(f"transfer.{t.kind.lower()}",
                         f"{t.kind} {t.url} {'done' if code == 0 else f'failed {code}: {text}'}",
                         peer=t.url, url=t.url, command_key=t.command_key, state="end",
                         fault_code=code, fault_string=text)
        tc = rpc.TransferComplete(command_key=t.command_key, fault_code=code,
                                  fault_string=text[:256], start_time=start,
                                  complete_time=now_iso())
        kind = M_DOWNLOAD if t.kind == "Download" else M_UPLOAD
        self.queue.transfers.append(TransferResult(kind, tc))
        self.queue.save()
        self._wake.set()

    def _upload_content(self, file_type: str) -> bytes:
        if file_type.startswith("2"):
            if self.log_file and self.log_file.exists():
                return self.log_file.read_bytes()
            return "".join(e.to_json() + "\n" for e in self.events.memory).encode()
        from lab.datamodel import cmfile

        # writable configuration only, never the secrets (hidden parameters)
        values = self.model.values("Device.", writable_only=True, include_hidden=False)
        did = self.model.device_id()
        return cmfile.write_cm_file(values, local_dn=f"{did.oui}-{did.serial_number}",
                                    oui=did.oui, product_class=did.product_class)

    # ---- periodic inform ------------------------------------------------------------------------

    async def _periodic_loop(self) -> None:
        """"2 PERIODIC" every PeriodicInformInterval, at PeriodicInformTime + k * interval
        when that time is set (wall clock), else counted from when the setting was read.
        Sessions in between do not move the schedule."""
        anchor: float | None = None
        last_cfg: tuple[bool, int, str] | None = None
        while True:
            self._periodic_changed.clear()
            cfg = (self._get(MS + "PeriodicInformEnable").lower() in ("1", "true"),
                   self._int_param(MS + "PeriodicInformInterval", 0),
                   self._get(MS + "PeriodicInformTime"))
            enable, interval, ref_text = cfg
            if not enable or interval <= 0:
                anchor = None
                last_cfg = cfg
                await self._periodic_changed.wait()
                continue
            period = interval * self.time_scale
            ref = _parse_time(ref_text)
            if ref is not None:
                # align to the reference time: seconds until the next multiple (scaled)
                since = (datetime.now(UTC) - ref).total_seconds()
                wait = (interval - since % interval) * self.time_scale
            else:
                loop_now = time.monotonic()
                if cfg != last_cfg or anchor is None:
                    anchor, last_cfg = loop_now, cfg
                k = int((loop_now - anchor) // period) + 1
                wait = anchor + k * period - loop_now
            try:
                await asyncio.wait_for(self._periodic_changed.wait(), wait)
                continue
            except TimeoutError:
                self.request_session(PERIODIC)


def _parse_time(text: str) -> datetime | None:
    """An xsd:dateTime, or None for empty / the Unknown Time / unreadable."""
    text = (text or "").strip()
    if not text or text.startswith("0001-01-01"):
        return None
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


_ACS_RESPONSES = (rpc.InformResponse, rpc.TransferCompleteResponse, rpc.GetRPCMethodsResponse)


class _Poster:
    """One HTTP POST round trip per call, logging each message as an event."""

    def __init__(self, client: CwmpClient, http: aiohttp.ClientSession, url: str,
                 rec: SessionRecord) -> None:
        self.c = client
        self.http = http
        self.url = url
        self.rec = rec

    @staticmethod
    def describe(env: envelope.Envelope | None) -> str:
        if env is None:
            return "an empty HTTP response"
        if isinstance(env.body, CwmpError):
            return f"an unreadable message ({env.body.message})"
        return envelope.summary(env.body)

    async def send(self, body: Any, cwmp_id: str | None, *,
                   ns: str | None = None) -> envelope.Envelope | None:
        ns = ns or self.c.ns
        if body is None:
            data = b""
            headers = {}
        else:
            data = envelope.encode(body, ns=ns, id=cwmp_id)
            headers = {"Content-Type": 'text/xml; charset="utf-8"'}
            if isinstance(body, rpc.Inform | rpc.TransferComplete | rpc.GetRPCMethods):
                headers["SOAPAction"] = '""'
        name = envelope.msg_name(body)
        self.rec.sent.append(name)
        self.c.events.emit("cwmp.tx", envelope.summary(body), peer=self.url, dir="out",
                           msg=name, cwmp_id=cwmp_id, url=self.url, events=self.rec.events,
                           **rpc.outcome_fields(body))
        ssl_arg: Any = self.c.ssl if self.c.ssl is not None else True
        resp = await self.http.post(self.url, data=data, headers=headers, ssl=ssl_arg)
        challenge = resp.headers.get("WWW-Authenticate", "")
        if resp.status == 401 and challenge.lower().startswith("basic"):
            user, password = self.c._get(MS + "Username"), self.c._get(MS + "Password")
            resp.release()
            resp = await self.http.post(
                self.url, data=data, ssl=ssl_arg,
                headers={**headers, **transfers.basic_auth_header(user, password)})
        if resp.history:  # redirected (TR-069 3.4.5): the rest of the session goes there
            self.url = str(resp.url)
        async with resp:
            raw = await resp.read()
            status = resp.status
        if status == 204 or (status == 200 and not raw.strip()):
            self.rec.received.append("empty")
            self.c.events.emit("cwmp.rx", "empty", peer=self.url, dir="in", msg="empty",
                               cwmp_id=None, url=self.url, events=self.rec.events,
                               status=status)
            return None
        if status == 401:
            raise SessionError(f"{self.url}: ACS refused our credentials (HTTP 401)")
        try:
            env = envelope.decode(raw, fault_base=CPE_FAULT_BASE)
        except CwmpError as exc:
            if status != 200:
                raise SessionError(f"{self.url}: HTTP {status} {resp.reason}") from exc
            # unreadable: if it was an ACS request the caller answers with this fault
            # (9000 unknown method, 9003 malformed); after our own request it fails
            self._log_rx("unreadable", exc.id, status, error=exc.message)
            return envelope.Envelope(body=exc, ns=exc.ns or ns, id=exc.id)  # type: ignore[arg-type]
        if status != 200 and not isinstance(env.body, rpc.Fault):
            raise SessionError(f"{self.url}: HTTP {status} {resp.reason}")
        name = envelope.msg_name(env.body)
        self.rec.received.append(name)
        self.c.events.emit("cwmp.rx", envelope.summary(env.body), peer=self.url, dir="in",
                           msg=name, cwmp_id=env.id, url=self.url, events=self.rec.events,
                           hold_requests=env.hold_requests)
        return env

    def _log_rx(self, name: str, cwmp_id: str | None, status: int, error: str) -> None:
        self.rec.received.append(name)
        self.c.events.emit("cwmp.rx", f"{name}: {error}", peer=self.url, dir="in", msg=name,
                           cwmp_id=cwmp_id, url=self.url, events=self.rec.events,
                           status=status, error=error)
