"""The operator's REST API (JSON, `Authorization: Bearer <settings.api_token>`).

    GET  /api/devices                               all devices (without parameter snapshots)
    GET  /api/devices/{id}                          one device with its parameter snapshot
    POST /api/devices/{id}/tasks                    queue {kind, args, connection_request?}
    GET  /api/devices/{id}/tasks                    its tasks (?state=queued|sent|done|failed)
    POST /api/devices/{id}/connection-request       ask the device to open a session now
    POST /api/devices/{id}/deprovision              {method: factory-reset|spv, params?
                                                    (spv: {path: value}, default from the
                                                    settings), connection_request?}
    POST /api/devices/{id}/allow                    lift a de-provisioning / admit the device
                                                    (also one refused as unknown: GET
                                                    /api/refused lists those)
    GET  /api/refused                               unknown devices refused (8001), last seen
                                                    first; not stored as devices
    GET  /api/alarms                                ?device=ID &view=current|history (default both)
    GET  /api/files                                 ?kind=pm|cm
    POST /api/files/cm                              a CM file: ?name=N with the raw body, or JSON
                                                    {name, content}; -> its download URL
    GET  /api/files/outage                          which HTTP(S) file server listeners are down
    POST /api/files/outage                          {transports: ["http", "https"], down: bool}:
                                                    close those listeners (connections refused)
                                                    or open them again on the same ports
    GET  /api/audit                                 ?device=ID &kind=prefix: the HMS's event log
Errors are {"error": "...", "field": "..."?} with 400 (names the bad field), 401 (no or
bad token), 404 (names the unknown device), 502 (connection request failed).
"""

from __future__ import annotations

import asyncio
import hmac
import json
from typing import Any, Protocol

from aiohttp import web

from lab.nodes.hms import params as P
from lab.nodes.hms import plans
from lab.nodes.hms import tasks as T
from lab.nodes.hms.connreq import connection_request
from lab.nodes.hms.context import HmsContext
from lab.nodes.hms.fileserver import FileArea, PathRejected, check_name
from lab.nodes.hms.pmfiles import check_file
from lab.nodes.hms.settings import DEPROVISION_METHODS
from lab.nodes.hms.store import TASK_STATES, Device


def _err(status: int, message: str, field: str | None = None) -> web.HTTPException:
    body: dict[str, Any] = {"error": message}
    if field:
        body["field"] = field
    cls = {400: web.HTTPBadRequest, 401: web.HTTPUnauthorized, 404: web.HTTPNotFound,
           502: web.HTTPBadGateway, 415: web.HTTPUnsupportedMediaType}[status]
    headers = {"WWW-Authenticate": 'Bearer realm="hms"'} if status == 401 else None
    return cls(text=json.dumps(body), content_type="application/json", headers=headers)


class Outage(Protocol):
    """The file server's outage control (lab.nodes.hms.server.FileOutage)."""
    down: set[str]

    @property
    def transports(self) -> list[str]: ...

    async def set(self, transports: list[str], down: bool) -> list[str]: ...


class Api:
    def __init__(self, ctx: HmsContext, area: FileArea, outage: Outage) -> None:
        self.ctx, self.area, self.outage = ctx, area, outage

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth], client_max_size=16 << 20)
        r = app.router
        r.add_get("/api/devices", self.devices)
        r.add_get("/api/devices/{id}", self.device)
        r.add_post("/api/devices/{id}/tasks", self.add_task)
        r.add_get("/api/devices/{id}/tasks", self.tasks)
        r.add_post("/api/devices/{id}/connection-request", self.conn_req)
        r.add_post("/api/devices/{id}/deprovision", self.deprovision)
        r.add_post("/api/devices/{id}/allow", self.allow)
        r.add_get("/api/refused", self.refused)
        r.add_get("/api/alarms", self.alarms)
        r.add_get("/api/files", self.files)
        r.add_post("/api/files/cm", self.add_cm)
        r.add_get("/api/files/outage", self.get_outage)
        r.add_post("/api/files/outage", self.set_outage)
        r.add_get("/api/audit", self.audit)
        return app

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        hdr = request.headers.get("Authorization", "")
        token = hdr[7:].strip() if hdr[:7].lower() == "bearer " else ""
        if not token or not hmac.compare_digest(token.encode(),
                                                self.ctx.settings.api_token.encode()):
            self.ctx.emit("hms.api.denied", f"API {request.method} {request.path}: "
                          f"{'bad' if token else 'no'} Bearer token", peer=request.remote)
            raise _err(401, "missing or wrong Bearer token (Authorization: Bearer <token>)")
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status >= 400 and exc.content_type != "application/json":
                # aiohttp's own 404/405: keep the API's JSON shape
                return web.json_response(
                    {"error": f"{exc.reason}: {request.method} {request.path}"},
                    status=exc.status)
            raise

    # ---- helpers ---------------------------------------------------------------------

    def _device(self, request: web.Request) -> Device:
        dev_id = request.match_info["id"]
        dev = self.ctx.store.get_device(dev_id)
        if dev is None:
            raise _err(404, f"unknown device {dev_id!r}")
        return dev

    async def _json(self, request: web.Request, *, optional: bool = False) -> dict[str, Any]:
        raw = await request.read()
        if not raw.strip():
            if optional:
                return {}
            raise _err(400, "request body must be a JSON object", "body")
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise _err(400, f"request body is not JSON: {exc}", "body") from None
        if not isinstance(data, dict):
            raise _err(400, "request body must be a JSON object", "body")
        return data

    async def _kick(self, dev: Device) -> dict[str, Any]:
        url = dev.cr_url
        if not url:
            return {"ok": False, "status": None,
                    "detail": f"{dev.id} has reported no ConnectionRequestURL"}
        user = dev.cr_username or self.ctx.settings.cr_username
        pw = dev.cr_password or self.ctx.settings.cr_password
        res = await connection_request(url, user, pw)
        self.ctx.emit("hms.connection_request", f"connection request to {dev.id}: {res.detail}",
                      device=dev.id, dir="out", msg="ConnectionRequest", url=url,
                      status=res.status, ok=res.ok)
        return {"ok": res.ok, "status": res.status, "detail": res.detail, "url": url}

    # ---- devices ---------------------------------------------------------------------

    async def devices(self, request: web.Request) -> web.Response:
        return web.json_response([d.to_json(with_params=False)
                                  for d in self.ctx.store.list_devices()])

    async def device(self, request: web.Request) -> web.Response:
        return web.json_response(self._device(request).to_json())

    async def add_task(self, request: web.Request) -> web.Response:
        dev = self._device(request)
        body = await self._json(request)
        unknown = set(body) - {"kind", "args", "connection_request"}
        if unknown:
            raise _err(400, f"unknown field {sorted(unknown)[0]!r} (allowed: kind, args, "
                       "connection_request)", sorted(unknown)[0])
        kind = body.get("kind")
        if not isinstance(kind, str):
            raise _err(400, "kind is required (SPV, GPV, SPA, GPA, AddObject, DeleteObject, "
                       "Download, Upload, Reboot, FactoryReset)", "kind")
        args = body.get("args")
        args = {} if args is None else dict(args) if isinstance(args, dict) else args
        try:
            args = self._fill_transfer(kind, args)
            task = plans.queue(self.ctx, dev, kind, args, "operator")
        except T.TaskError as exc:
            raise _err(400, str(exc), exc.field) from None
        out: dict[str, Any] = {"task": task.to_json()}
        if body.get("connection_request"):
            out["connection_request"] = await self._kick(dev)
        return web.json_response(out, status=201)

    def _fill_transfer(self, kind: str, args: Any) -> Any:
        files = self.ctx.settings.files
        if kind == "Download" and isinstance(args, dict) and "cm_file" in args:
            name = args.pop("cm_file")
            try:
                check_name(str(name))
            except PathRejected as exc:
                raise T.TaskError("args.cm_file", str(exc)) from None
            if not (self.area.dir("cm") / name).is_file():
                raise T.TaskError("args.cm_file", f"no CM file {name!r} (upload it with POST "
                                  "/api/files/cm first)")
            args.setdefault("url", self.ctx.cm_url(name))
            args.setdefault("username", files.user)
            args.setdefault("password", files.password)
            args.setdefault("file_size", (self.area.dir("cm") / name).stat().st_size)
        if kind == "Upload" and isinstance(args, dict) and "url" not in args:
            args["url"] = self.ctx.pm_url()
            args.setdefault("username", files.user)
            args.setdefault("password", files.password)
        return args

    async def tasks(self, request: web.Request) -> web.Response:
        dev = self._device(request)
        state = request.query.get("state")
        if state is not None and state not in TASK_STATES:
            raise _err(400, f"state {state!r} not one of {', '.join(TASK_STATES)}", "state")
        return web.json_response([t.to_json() for t in self.ctx.store.list_tasks(dev.id, state)])

    async def conn_req(self, request: web.Request) -> web.Response:
        dev = self._device(request)
        res = await self._kick(dev)
        return web.json_response(res, status=200 if res["ok"] else 502)

    async def deprovision(self, request: web.Request) -> web.Response:
        dev = self._device(request)
        body = await self._json(request, optional=True)
        method = body.get("method", self.ctx.settings.deprovision_method)
        if method not in DEPROVISION_METHODS:
            raise _err(400, f"method {method!r} not one of {', '.join(DEPROVISION_METHODS)}",
                       "method")
        params = None
        if "params" in body:
            if method != "spv":
                raise _err(400, "params go with method spv", "params")
            try:
                params = P.parameter_list(body["params"], "params")
            except ValueError as exc:
                raise _err(400, str(exc), "params") from None
        try:
            task = plans.deprovisioning(self.ctx, dev, method, params)
        except T.TaskError as exc:
            raise _err(400, str(exc), exc.field) from None
        self.ctx.emit("hms.deprovision_requested", f"operator de-provisions {dev.id} by "
                      f"{method}", device=dev.id, method=method, task=task.id)
        out: dict[str, Any] = {"task": task.to_json()}
        if body.get("connection_request"):
            out["connection_request"] = await self._kick(dev)
        return web.json_response(out, status=202)

    async def allow(self, request: web.Request) -> web.Response:
        # a refused unknown device is admitted here: it becomes a device on this request
        dev = self.ctx.store.admit_refused(request.match_info["id"])  # allowed, state new
        if dev is None:
            dev = self._device(request)
            new_state = "new" if dev.state == "deprovisioned" else dev.state
            dev = self.ctx.store.update_device(dev.id, allowed=True, state=new_state)
        self.ctx.emit("hms.allowed", f"operator allows {dev.id} (state {dev.state})",
                      device=dev.id, state=dev.state)
        return web.json_response(dev.to_json(with_params=False))

    async def refused(self, request: web.Request) -> web.Response:
        return web.json_response(self.ctx.store.list_refused())

    # ---- alarms, files, audit --------------------------------------------------------

    async def alarms(self, request: web.Request) -> web.Response:
        device = request.query.get("device")
        if device is not None and self.ctx.store.get_device(device) is None:
            raise _err(404, f"unknown device {device!r}")
        view = request.query.get("view")
        if view not in (None, "current", "history"):
            raise _err(400, f"view {view!r} not one of current, history", "view")
        out: dict[str, Any] = {}
        if view in (None, "current"):
            out["current"] = self.ctx.store.current_alarms(device)
        if view in (None, "history"):
            out["history"] = self.ctx.store.alarm_history(device)
        return web.json_response(out)

    async def files(self, request: web.Request) -> web.Response:
        """?kind=pm|cm; ?check=1 adds each PM file's TS 32.435 check (`meas`: meas_ok, and
        its begin/end time and granularity period, or meas_problem)."""
        kind = request.query.get("kind")
        if kind not in (None, "pm", "cm"):
            raise _err(400, f"kind {kind!r} not one of pm, cm", "kind")
        check = request.query.get("check", "0")
        if check not in ("0", "1"):
            raise _err(400, f"check {check!r} not one of 0, 1", "check")
        files = self.ctx.store.list_files(kind)

        def listing() -> list[dict[str, Any]]:
            out = []
            for f in files:
                item = f.to_json()
                if check == "1" and f.kind == "pm":
                    item["meas"] = check_file(f.path)
                out.append(item)
            return out
        # re-parsing every PM file is work for a thread, not the loop that serves the ACS
        return web.json_response(await asyncio.to_thread(listing))

    async def get_outage(self, request: web.Request) -> web.Response:
        return web.json_response({"down": sorted(self.outage.down),
                                  "transports": self.outage.transports})

    async def set_outage(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        unknown = set(body) - {"transports", "down"}
        if unknown:
            raise _err(400, f"unknown field {sorted(unknown)[0]!r} (allowed: transports, "
                       "down)", sorted(unknown)[0])
        transports, down = body.get("transports"), body.get("down")
        if (not isinstance(transports, list) or not transports
                or not all(isinstance(t, str) for t in transports)):
            raise _err(400, "transports: expected a non-empty list such as [\"http\"]",
                       "transports")
        if not isinstance(down, bool):
            raise _err(400, "down: expected true (take down) or false (bring up)", "down")
        try:
            now_down = await self.outage.set(transports, down)
        except ValueError as exc:
            raise _err(400, str(exc), "transports") from None
        return web.json_response({"down": now_down, "transports": self.outage.transports})

    async def add_cm(self, request: web.Request) -> web.Response:
        if request.content_type == "application/json":
            body = await self._json(request)
            name, content = body.get("name"), body.get("content")
            if not isinstance(content, str):
                raise _err(400, "content is required (the CM file as text)", "content")
            data = content.encode("utf-8")
        else:
            name, data = request.query.get("name"), await request.read()
        if not isinstance(name, str) or not name:
            raise _err(400, "name is required", "name")
        if not data:
            raise _err(400, "the CM file is empty", "content")
        try:
            rec = self.area.add_cm(name, data, transport="api", user="operator")
        except PathRejected as exc:
            raise _err(400, str(exc), "name") from None
        return web.json_response({"name": rec.name, "size": rec.size, "sha256": rec.sha256,
                                  "url": self.ctx.cm_url(rec.name)}, status=201)

    async def audit(self, request: web.Request) -> web.Response:
        return web.json_response(self.ctx.store.audit_log(
            request.query.get("device"), request.query.get("kind", "")))
