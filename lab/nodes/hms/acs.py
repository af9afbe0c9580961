"""The ACS session engine: one explicit, named state machine per CWMP session.

A session is identified by the cookie the InformResponse sets (`hms_session`); a CPE that
does not return cookies is followed by its TCP connection, then by its address when only
one session from that address is open.

    state            the CPE sends                        the ACS answers -> next state
    ---------------  -----------------------------------  --------------------------------
    AWAIT_INFORM     Inform                               InformResponse -> CPE_REQUESTS
                     Inform of a refused device           Fault 8001 -> (session dropped)
                     anything else                        Fault 8003 -> (session dropped)
                     empty POST                           HTTP 400 (no session to continue)
    CPE_REQUESTS     TransferComplete                     TransferCompleteResponse
                     GetRPCMethods                        GetRPCMethodsResponse
                     empty POST                           next task's request -> AWAIT_RESPONSE,
                                                          none left: HTTP 204 -> ENDED
                     Inform (a second one)                Fault 8003 -> ENDED
                     a response or Fault                  Fault 8003 (nothing was asked)
                     another ACS-side RPC                 Fault 8000
    AWAIT_RESPONSE   the expected response, or a Fault    task done/failed; next request or 204
                     empty POST                           task back on the queue; 204 -> ENDED
                     anything else                        Fault 8003 (the request stays open)

Faults and refusals (answer in the CPE's namespace, echoing its cwmp:ID; sent with HTTP
500 as SOAP 1.1 requires for a Fault):
  8001 Request denied  a de-provisioned device (TS 32.583 5.4: "shall not lead to the
                       registration process until the operator allows it"), a device whose
                       location matches no policy rule (initial HMS, 5.1 step 5), an
                       unknown device when auto_register is off. The FaultString and the
                       "hms.refused" event say which. A refused device the HMS did not
                       know is not stored as a device (store.refused keeps a bounded note).
  8003 Invalid args    malformed XML, XML bomb/DTD, not SOAP, unknown namespace, missing
                       element, a first message that is not an Inform, out-of-order messages.
  8000 Not supported   an RPC the ACS does not implement.
  HTTP 413             a body over settings.max_body (1 MiB); HTTP 400 an empty POST with
                       no session; HTTP 405 anything but POST; HTTP 401 (Digest and Basic
                       challenges) when settings cpe_auth is set and the CPE did not prove it.
HoldRequests: the ACS sets it true on the InformResponse and its requests when
settings `hold_requests` asks for it (the CPE must then send only responses and empty
POSTs); a CPE request while held is refused with 8003. A HoldRequests header from the
CPE (only the ACS may send it) is ignored and noted in the event.

Events: "cwmp.rx"/"cwmp.tx" (fields dir, msg, device, cwmp_id, session, ns) for every
message, "hms.*" for decisions (hms.location, hms.refused, hms.task.*, hms.session.*,
hms.inner_ip, hms.alarm, hms.bad_request, ...).
"""

from __future__ import annotations

import enum
import hmac
import itertools
import logging
import re
import secrets
import time
from base64 import b64decode
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from lab.cwmp import envelope as E
from lab.cwmp import rpc
from lab.cwmp.digest import DigestVerifier
from lab.cwmp.faults import CwmpError
from lab.nodes.hms import params as P
from lab.nodes.hms import plans
from lab.nodes.hms import tasks as T
from lab.nodes.hms.alarms import alarms_in
from lab.nodes.hms.context import HmsContext
from lab.nodes.hms.fileserver import FileArea
from lab.nodes.hms.policy import choose, location_from
from lab.nodes.hms.store import Device, task_id_from_command_key

log = logging.getLogger(__name__)

COOKIE = "hms_session"
CONTENT_TYPE = 'text/xml; charset="utf-8"'
_INNER_IP = re.compile(r"Device\.IPsec\.IKEv2SA\.\d+\.LocalAddress|"
                       r".*\.Tunnel\.IKESA\.\d+\.IPAddress")
_CPE_REQUESTS = (rpc.Inform, rpc.TransferComplete, rpc.GetRPCMethods)
_RESPONSES = tuple(set(T.EXPECTED.values()) | {rpc.Fault, rpc.GetRPCMethodsResponse,
                                               rpc.GetParameterNamesResponse,
                                               rpc.ScheduleInformResponse})


class State(enum.Enum):
    AWAIT_INFORM = "await-inform"
    CPE_REQUESTS = "cpe-requests"
    AWAIT_RESPONSE = "await-response"
    ENDED = "ended"


@dataclass
class Session:
    key: str
    peer: str
    conn: str
    state: State = State.AWAIT_INFORM
    device: str | None = None
    ns: str = E.DEFAULT_NS
    pending: int | None = None  # task id of the request on the wire
    pending_id: str | None = None
    held: bool = False  # the ACS told the CPE HoldRequests=true
    last_seen: float = field(default_factory=time.time)
    messages: int = 0

    @property
    def short(self) -> str:
        return self.key[:8]


class Acs:
    def __init__(self, ctx: HmsContext, area: FileArea, *, hold_requests: bool = False) -> None:
        self.ctx = ctx
        self.s = ctx.settings
        self.area = area
        self.hold_requests = hold_requests
        self.sessions: dict[str, Session] = {}
        # no open session was seen before this (last_seen only grows; a new one is "now"),
        # so _expire scans the sessions only when one of them may really be idle too long
        self._oldest_seen = 0.0
        self._ids = itertools.count(1)
        self.digest = (DigestVerifier(realm="hms-acs", credentials={
            self.s.cpe_username: self.s.cpe_password}) if self.s.cpe_username else None)

    # ---- HTTP entry -------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        peer = request.remote or "?"
        if request.method != "POST":
            return self._http_error(405, f"CWMP takes HTTP POST, not {request.method}", peer,
                                    headers={"Allow": "POST"})
        if self.digest is not None:
            denied = self._authenticate(request, peer)
            if denied is not None:
                return denied
        data = await self._read_body(request, peer)
        if isinstance(data, web.Response):
            return data
        self._expire()
        sess = self._find_session(request, peer)
        try:
            return await self._dispatch(sess, data, peer, request)
        except Exception as exc:  # a bug must not take the ACS down: log it, answer 8002
            log.exception("ACS failed on a request from %s", peer)
            self.ctx.emit("hms.internal_error", f"internal error: {exc!r}", peer=peer,
                          device=sess.device if sess else None, error=repr(exc))
            return self._fault(sess, 8002, f"internal error: {type(exc).__name__}", id=None,
                               peer=peer)

    def _authenticate(self, request: web.Request, peer: str) -> web.Response | None:
        """None when the CPE proved it knows settings.cpe_auth (Digest, or Basic), else the
        401 with both challenges (TR-069 3.4.4)."""
        assert self.digest is not None
        hdr = request.headers.get("Authorization", "")
        why = "no credentials"
        if hdr[:6].lower() == "basic ":
            try:
                user, _, pw = b64decode(hdr[6:].strip()).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                user = pw = ""
            if (hmac.compare_digest(user.encode(), self.s.cpe_username.encode())
                    and hmac.compare_digest(pw.encode(), self.s.cpe_password.encode())):
                return None
            why = f"wrong Basic credentials for {user!r}"
        elif hdr[:7].lower() == "digest ":
            if self.digest.verify(request.method, request.path_qs, hdr):
                return None
            why = self.digest.last_error
        if why != "no credentials":
            self.ctx.emit("hms.auth_failed", f"CPE authentication failed: {why}", peer=peer,
                          reason=why)
        stale = why == "nonce expired"
        return web.Response(status=401, text=f"authentication required ({why})\n",
                            headers=CIMultiDict([
                                ("WWW-Authenticate", self.digest.challenge(stale)),
                                ("WWW-Authenticate", 'Basic realm="hms-acs"')]))

    async def _read_body(self, request: web.Request, peer: str) -> bytes | web.Response:
        limit = self.s.max_body
        if request.content_length is not None and request.content_length > limit:
            return self._http_error(413, f"body of {request.content_length} bytes exceeds the "
                                    f"limit of {limit} bytes", peer)
        buf = bytearray()
        async for chunk in request.content.iter_chunked(1 << 16):
            buf += chunk
            if len(buf) > limit:
                return self._http_error(413, f"body exceeds the limit of {limit} bytes", peer)
        return bytes(buf)

    def _http_error(self, status: int, reason: str, peer: str,
                    headers: dict[str, str] | None = None) -> web.Response:
        self.ctx.emit("hms.bad_request", f"HTTP {status}: {reason}", peer=peer, status=status,
                      reason=reason)
        return web.Response(status=status, text=reason + "\n", headers=headers)

    def _find_session(self, request: web.Request, peer: str) -> Session | None:
        key = request.cookies.get(COOKIE)
        if key:
            return self.sessions.get(key)
        conn = _conn_id(request)
        for s in self.sessions.values():
            if s.conn == conn:
                return s
        same_peer = [s for s in self.sessions.values() if s.peer == peer]
        return same_peer[0] if len(same_peer) == 1 else None

    def _expire(self) -> None:
        now = time.time()
        timeout = self.s.session_timeout
        if now - self._oldest_seen <= timeout:
            return  # not even the longest-idle session can have timed out: no scan
        oldest = now
        for s in list(self.sessions.values()):
            if now - s.last_seen > timeout:
                self._end(s, "timed out", requeue=True)  # takes it out of self.sessions
            else:
                oldest = min(oldest, s.last_seen)
        self._oldest_seen = oldest

    def _end(self, s: Session, why: str, *, requeue: bool = False) -> None:
        if requeue and s.pending is not None:
            self.ctx.store.requeue(s.pending)
            self.ctx.emit("hms.task.requeued", f"task {s.pending} back on the queue ({why})",
                          device=s.device, task=s.pending, reason=why)
        s.pending = None
        s.state = State.ENDED
        self.sessions.pop(s.key, None)
        self.ctx.emit("hms.session.end", f"session {s.short} ended: {why}", peer=s.peer,
                      device=s.device, session=s.short, reason=why, messages=s.messages)

    # ---- dispatch ---------------------------------------------------------------------

    async def _dispatch(self, sess: Session | None, data: bytes, peer: str,
                        request: web.Request) -> web.StreamResponse:
        if not data.strip():
            env: E.Envelope | None = None
        else:
            try:
                env = E.decode(data, max_size=self.s.max_body)
            except CwmpError as exc:
                ns = exc.ns or (sess.ns if sess else E.DEFAULT_NS)
                self.ctx.emit("cwmp.rx", f"invalid message: {exc.message}", peer=peer,
                              dir="in", msg="invalid", device=sess.device if sess else None,
                              cwmp_id=exc.id, session=sess.short if sess else None)
                self.ctx.emit("hms.bad_request", f"CWMP fault {exc.code}: {exc.message}",
                              peer=peer, device=sess.device if sess else None,
                              fault=exc.code, reason=exc.message)
                return self._fault(sess, exc.code, exc.message, ns=ns, id=exc.id, peer=peer)
        body = env.body if env else None
        if (sess is not None and isinstance(body, rpc.Inform)
                and COOKIE not in request.cookies):
            # A cookie-less Inform begins a new session. The one we matched by connection
            # or address may be another CPE's (behind the same NAT): _on_inform ends only
            # this device's own abandoned session.
            sess = None
        if sess is None:
            if body is None:
                self.ctx.emit("cwmp.rx", "empty", peer=peer, dir="in", msg="empty")
                return self._http_error(400, "no CWMP session: a session begins with an Inform "
                                        "(empty POST outside a session)", peer)
            sess = Session(key=secrets.token_hex(16), peer=peer, conn=_conn_id(request),
                           ns=env.ns if env else E.DEFAULT_NS)
        assert env is None or isinstance(env, E.Envelope)
        sess.last_seen = time.time()
        sess.messages += 1
        if env is not None:
            sess.ns = env.ns
        self._rx_event(sess, env, peer, request)
        handler = {State.AWAIT_INFORM: self._in_await_inform,
                   State.CPE_REQUESTS: self._in_cpe_requests,
                   State.AWAIT_RESPONSE: self._in_await_response}[sess.state]
        return await handler(sess, env, body)

    def _rx_event(self, s: Session, env: E.Envelope | None, peer: str,
                  request: web.Request) -> None:
        body = env.body if env else None
        fields: dict[str, Any] = {"dir": "in", "msg": E.msg_name(body),
                                  "cwmp_id": env.id if env else None, "session": s.short,
                                  "ns": s.ns, "state": s.state.value}
        if env is not None and env.hold_requests is not None:
            fields["hold_requests_from_cpe"] = env.hold_requests  # not allowed CPE->ACS: ignored
        dev = s.device
        if isinstance(body, rpc.Inform):
            dev = _device_id(body.device_id)
            fields["events"] = body.event_codes()
            # how the session reached us: inside or outside the tunnel (5.2.1 step 2)
            fields.update(_connection(request, peer))
        fields.update(rpc.outcome_fields(body))
        self.ctx.emit("cwmp.rx", E.summary(body), peer=peer, device=dev, **fields)

    # ---- state handlers ---------------------------------------------------------------

    async def _in_await_inform(self, s: Session, env: E.Envelope | None,
                               body: Any) -> web.StreamResponse:
        if not isinstance(body, rpc.Inform):
            reason = (f"session must begin with an Inform, got {E.msg_name(body)} "
                      "(unknown session or device)")
            self.ctx.emit("hms.bad_request", reason, peer=s.peer, fault=8003, reason=reason)
            return self._fault(s, 8003, reason, id=env.id if env else None, drop=True)
        return self._on_inform(s, env, body)

    async def _in_cpe_requests(self, s: Session, env: E.Envelope | None,
                               body: Any) -> web.StreamResponse:
        eid = env.id if env else None
        if body is None:
            return self._next_request(s)
        if isinstance(body, _CPE_REQUESTS) and s.held:
            return self._out_of_order(s, eid, f"{E.msg_name(body)} while HoldRequests is true")
        if isinstance(body, rpc.Inform):
            resp = self._out_of_order(s, eid, "a second Inform in one session")
            self._end(s, "second Inform")
            return resp
        if isinstance(body, rpc.TransferComplete):
            self._on_transfer_complete(s, body)
            return self._reply(s, rpc.TransferCompleteResponse(), id=eid)
        if isinstance(body, rpc.GetRPCMethods):
            return self._reply(s, rpc.GetRPCMethodsResponse(list(rpc.ACS_METHODS)), id=eid)
        if isinstance(body, _RESPONSES):
            return self._out_of_order(s, eid, f"{E.msg_name(body)} but no ACS request is "
                                              "outstanding")
        return self._fault(s, 8000, f"method not supported by the ACS: {E.msg_name(body)}",
                           id=eid)

    async def _in_await_response(self, s: Session, env: E.Envelope | None,
                                 body: Any) -> web.StreamResponse:
        task = self.ctx.store.get_task(s.pending) if s.pending is not None else None
        if task is None:  # deleted under us: carry on as if nothing was asked
            s.state = State.CPE_REQUESTS
            return await self._in_cpe_requests(s, env, body)
        expected = T.EXPECTED[task.kind]
        if body is None:
            self.ctx.emit("hms.bad_request", f"empty POST while {expected.__name__} to task "
                          f"{task.id} is outstanding", peer=s.peer, device=s.device)
            self._end(s, f"CPE did not answer task {task.id}", requeue=True)
            return self._empty_end(s)
        if not isinstance(body, expected | rpc.Fault):
            return self._out_of_order(s, env.id if env else None,
                                      f"expected {expected.__name__} (or a Fault) to "
                                      f"{T.build_request(task).__class__.__name__}, got "
                                      f"{E.msg_name(body)}")
        outcome = T.interpret(task, body)
        s.pending, s.pending_id = None, None
        s.state = State.CPE_REQUESTS
        if outcome.snapshot:
            self.ctx.store.merge_params(task.device, outcome.snapshot)
        if outcome.ok and outcome.awaiting_transfer:
            self.ctx.store.await_transfer(task.id, outcome.result)
            self.ctx.emit("hms.task.accepted", f"task {task.id} {task.kind} accepted; result "
                          "follows in TransferComplete", device=task.device, task=task.id,
                          task_kind=task.kind, purpose=task.purpose)
        else:
            self._finish(task.id, outcome.ok, outcome.result)
        return self._next_request(s)

    # ---- Inform -------------------------------------------------------------------------

    def _on_inform(self, s: Session, env: E.Envelope | None, inform: rpc.Inform) -> web.Response:
        eid = env.id if env else None
        did = inform.device_id
        if not did.oui.strip() or not did.serial_number.strip():
            reason = "Inform DeviceId needs OUI and SerialNumber"
            self.ctx.emit("hms.bad_request", reason, peer=s.peer, fault=8003, reason=reason)
            return self._fault(s, 8003, reason, id=eid, drop=True)
        dev_id = _device_id(did)
        s.device = dev_id
        for other in [o for o in self.sessions.values() if o.device == dev_id]:
            self._end(other, "abandoned: the device began a new session", requeue=True)
        params = [(p.name, p.value) for p in inform.parameters]
        values = dict(params)
        known = self.ctx.store.has_device(dev_id)
        loc = rule = None
        if self.s.role in ("initial", "both"):
            loc = location_from(params)
            rule = choose(self.s.policy, loc)
        if not known:
            # Refused before it is stored: a device the HMS turns away is no device of its
            # own, so spoofed Informs cannot grow the devices table (store.refused keeps a
            # bounded note for the operator, the events say each time).
            if not self.s.auto_register:
                why = "unknown device and auto_register is off"
                return self._refuse_unknown(s, did, eid, f"Request denied: {dev_id} {why}; "
                                            "the operator must allow it first", why)
            if loc is not None and rule is None:
                self._location_event(s, dev_id, loc, rule)
                return self._refuse_unknown(s, did, eid, "Request denied: location not "
                                            f"served ({loc.describe()})",
                                            "location matches no policy rule")
        fields: dict[str, Any] = dict(
            manufacturer=did.manufacturer, product_class=did.product_class,
            last_inform=time.time(), last_events=inform.event_codes(), ip=s.peer)
        if P.CR_URL in values:
            fields["cr_url"] = values[P.CR_URL]
        if not known and self.s.cr_username:
            fields["cr_username"] = self.s.cr_username
            fields["cr_password"] = self.s.cr_password
        if known and "0 BOOTSTRAP" in inform.event_codes():
            fields["params"] = {}  # a factory-fresh device: what we knew of it is gone
        # one transaction: the device's fields and its parameter snapshot
        dev = self.ctx.store.upsert_device(dev_id, oui=did.oui, serial=did.serial_number,
                                           merge_params=values, **fields)
        if not known:
            self.ctx.emit("hms.device.new", f"new device {dev_id}", peer=s.peer, device=dev_id,
                          manufacturer=did.manufacturer, product_class=did.product_class)
        dev = self._inner_ip(dev, params, inform)
        self._alarms(dev, params, s, inform.event_codes())

        if not dev.allowed:
            # allowed=0 otherwise: a store from before refused devices were left out
            why = ("de-provisioned by the operator" if dev.state == "deprovisioned"
                   else "unknown device and auto_register is off")
            return self._refuse(s, dev, eid, f"Request denied: {dev_id} {why}; the operator "
                                f"must allow it first", why)
        if loc is not None:
            self.ctx.store.update_device(dev_id, location=loc.to_json())
            self._location_event(s, dev_id, loc, rule)
            if rule is None:
                return self._refuse(s, dev, eid, f"Request denied: location not served "
                                    f"({loc.describe()})", "location matches no policy rule")
            plans.assignment(self.ctx, dev, rule)
        if self.s.role in ("serving", "both") and (
                dev.state == "new" or "0 BOOTSTRAP" in inform.event_codes()):
            plans.registration(self.ctx, dev, self.area)
        s.state = State.CPE_REQUESTS
        s.held = self.hold_requests and self.ctx.store.next_task(dev_id) is not None
        self.sessions[s.key] = s
        self.ctx.emit("hms.session.start", f"session {s.short} for {dev_id}", peer=s.peer,
                      device=dev_id, session=s.short, events=inform.event_codes())
        resp = self._reply(s, rpc.InformResponse(max_envelopes=1), id=eid,
                           hold=True if s.held else None)
        resp.set_cookie(COOKIE, s.key, httponly=True, path="/")
        return resp

    def _refuse(self, s: Session, dev: Device, eid: str | None, fault_string: str,
                why: str) -> web.Response:
        self.ctx.emit("hms.refused", f"{dev.id} refused: {why}", peer=s.peer, device=dev.id,
                      fault=8001, reason=why, state=dev.state)
        return self._fault(s, 8001, fault_string, id=eid, drop=True)

    def _refuse_unknown(self, s: Session, did: rpc.DeviceId, eid: str | None,
                        fault_string: str, why: str) -> web.Response:
        dev_id = _device_id(did)
        rec = self.ctx.store.record_refused(dev_id, oui=did.oui.strip(),
                                            serial=did.serial_number.strip(), reason=why,
                                            manufacturer=did.manufacturer,
                                            product_class=did.product_class, ip=s.peer)
        self.ctx.emit("hms.refused", f"{dev_id} refused: {why}", peer=s.peer, device=dev_id,
                      fault=8001, reason=why, state="unknown",
                      refusals=rec["count"])
        return self._fault(s, 8001, fault_string, id=eid, drop=True)

    def _location_event(self, s: Session, dev_id: str, loc: Any, rule: Any) -> None:
        self.ctx.emit("hms.location", f"{dev_id} at {loc.describe()}: "
                      f"{'rule ' + rule.name if rule else 'no rule matches'}", peer=s.peer,
                      device=dev_id, ok=rule is not None, rule=rule.name if rule else None,
                      location=loc.to_json())

    def _inner_ip(self, dev: Device, params: list[tuple[str, str]],
                  inform: rpc.Inform) -> Device:
        """The device, its inner IPsec address updated when the Inform reports a new one."""
        for name, value in params:
            if _INNER_IP.fullmatch(name) and value and value != dev.inner_ip:
                updated = self.ctx.store.update_device(dev.id, inner_ip=value)
                vc = "4 VALUE CHANGE" in inform.event_codes()
                self.ctx.emit("hms.inner_ip", f"{dev.id} inner IPsec address "
                              f"{dev.inner_ip or '(none)'} -> {value}", device=dev.id,
                              old=dev.inner_ip, new=value, parameter=name, value_change=vc)
                return updated
        return dev

    def _alarms(self, dev: Device, params: list[tuple[str, str]], s: Session,
                events: list[str]) -> None:
        notices, problems = alarms_in(params)
        for prob in problems:
            self.ctx.emit("hms.alarm_invalid", f"{dev.id}: {prob}", device=dev.id, problem=prob)
        for n in notices:
            if self.ctx.store.apply_alarm(dev.id, n.alarm_id, n.notification_type,
                                          n.event_time, n.fields):
                sev = n.fields.get("PerceivedSeverity", "")
                self.ctx.emit("hms.alarm", f"{dev.id} {n.notification_type} {n.alarm_id} {sev} "
                              f"{n.fields.get('SpecificProblem', '')}".rstrip(), device=dev.id,
                              alarm_id=n.alarm_id, notification_type=n.notification_type,
                              source=n.source, event_time=n.event_time, severity=sev,
                              # the Inform it rode in: queued alarms wait for the next
                              # session, whatever opened it (5.5.2)
                              session=s.short, events=events)

    # ---- CPE requests ---------------------------------------------------------------------

    def _on_transfer_complete(self, s: Session, tc: rpc.TransferComplete) -> None:
        tid = task_id_from_command_key(tc.command_key)
        task = self.ctx.store.get_task(tid) if tid is not None else None
        if task is None or task.device != s.device or task.kind not in ("Download", "Upload"):
            self.ctx.emit("hms.transfer_unknown", f"TransferComplete for unknown CommandKey "
                          f"{tc.command_key!r}", device=s.device, command_key=tc.command_key,
                          fault=tc.fault_code)
            return
        if task.state in ("done", "failed"):
            self.ctx.emit("hms.transfer_repeat", f"TransferComplete for task {task.id} again "
                          "(already recorded)", device=s.device, task=task.id)
            return
        out = T.transfer_outcome(tc)
        self._finish(task.id, out.ok, out.result)

    # ---- ACS requests -----------------------------------------------------------------------

    def _next_request(self, s: Session) -> web.StreamResponse:
        assert s.device is not None
        while True:
            task = self.ctx.store.next_task(s.device)
            if task is None:
                self._end(s, "no more requests")
                return self._empty_end(s)
            if task.attempts >= self.s.max_attempts:
                self._finish(task.id, False, {"error": f"no response after {task.attempts} "
                                                       "attempts"})
                continue
            try:
                req = T.build_request(task)
            except (KeyError, ValueError, TypeError) as exc:
                self._finish(task.id, False, {"error": f"cannot build request: {exc}"})
                continue
            s.pending = task.id
            s.pending_id = f"acs-{next(self._ids)}"
            s.state = State.AWAIT_RESPONSE
            self.ctx.store.mark_sent(task.id)
            self.ctx.emit("hms.task.sent", f"task {task.id} {task.kind} ({task.purpose})",
                          device=s.device, task=task.id, task_kind=task.kind,
                          purpose=task.purpose, session=s.short)
            more = self.ctx.store.next_task(s.device) is not None
            hold = None
            if s.held:
                hold = more  # keep holding while more requests follow
                s.held = more
            try:
                return self._reply(s, req, id=s.pending_id, hold=hold)
            except ValueError as exc:  # the codec refuses what it cannot send validly
                self._finish(task.id, False, {"error": f"cannot encode request: {exc}"})
                s.pending, s.state = None, State.CPE_REQUESTS

    def _finish(self, task_id: int, ok: bool, result: dict[str, Any]) -> None:
        task = self.ctx.store.finish_task(task_id, ok, result)
        kind = "hms.task.done" if ok else "hms.task.failed"
        detail = "" if ok else f": {result.get('fault', '')} " \
                               f"{result.get('fault_string') or result.get('error', '')}"
        self.ctx.emit(kind, f"task {task.id} {task.kind} ({task.purpose}) "
                      f"{'done' if ok else 'failed'}{detail}".rstrip(), device=task.device,
                      task=task.id, task_kind=task.kind, purpose=task.purpose, result=result)
        plans.after(self.ctx, task, ok, result)

    # ---- answers ----------------------------------------------------------------------------

    def _reply(self, s: Session, body: Any, *, id: str | None, status: int = 200,
               hold: bool | None = None) -> web.Response:
        data = E.encode(body, ns=s.ns, id=id, hold_requests=hold)
        extra: dict[str, Any] = {}
        names = _param_names(body)
        if names is not None:  # which parameters: tells alarm from PM configuration apart
            extra["names"] = names
        extra.update(rpc.outcome_fields(body))
        self.ctx.emit("cwmp.tx", E.summary(body), peer=s.peer, device=s.device, dir="out",
                      msg=E.msg_name(body), cwmp_id=id, session=s.short, ns=s.ns,
                      state=s.state.value, **extra)
        return web.Response(status=status, body=data, content_type="text/xml",
                            charset="utf-8")

    def _fault(self, s: Session | None, code: int, message: str, *, id: str | None,
               ns: str | None = None, peer: str | None = None,
               drop: bool = False) -> web.Response:
        # FaultString comes partly from the peer's bytes: keep it printable and bounded
        message = "".join(c if c.isprintable() else "?" for c in message)[:1024]
        fault = CwmpError(code, message).to_fault()
        tmp = s or Session(key="-" * 8, peer=peer or "?", conn="")
        if ns is not None:
            tmp.ns = ns
        resp = self._reply(tmp, fault, id=id, status=500)
        if drop and s is not None:
            self.sessions.pop(s.key, None)
            s.state = State.ENDED
        return resp

    def _out_of_order(self, s: Session, eid: str | None, what: str) -> web.Response:
        reason = f"message out of order: {what} (session state {s.state.value})"
        self.ctx.emit("hms.bad_request", reason, peer=s.peer, device=s.device, fault=8003,
                      reason=reason)
        return self._fault(s, 8003, reason, id=eid)

    def _empty_end(self, s: Session) -> web.Response:
        self.ctx.emit("cwmp.tx", "empty (204: session end)", peer=s.peer, device=s.device,
                      dir="out", msg="empty", cwmp_id=None, session=s.short, ns=s.ns)
        resp = web.Response(status=204)
        resp.del_cookie(COOKIE, path="/")
        return resp


def _device_id(d: rpc.DeviceId) -> str:
    return f"{d.oui.strip()}-{d.serial_number.strip()}"


def _connection(request: web.Request, peer: str) -> dict[str, Any]:
    """The CPE's address, the HMS address it connected to, and whether over TLS."""
    transport = request.transport
    local = transport.get_extra_info("sockname") if transport else None
    return {"remote_addr": peer, "local_addr": local[0] if local else None,
            "tls": request.secure}


def _conn_id(request: web.Request) -> str:
    transport = request.transport
    peer = transport.get_extra_info("peername") if transport else None
    return f"{peer[0]}:{peer[1]}" if peer else f"?{id(transport)}"


def _param_names(body: Any) -> list[str] | None:
    """Parameter names a request is about (SPV, SPA: the parameters set; GPV, GPA: the
    names asked), or None for other messages."""
    if isinstance(body, rpc.SetParameterValues | rpc.SetParameterAttributes):
        return [p.name for p in body.parameters]
    if isinstance(body, rpc.GetParameterValues | rpc.GetParameterAttributes):
        return list(body.names)
    return None
