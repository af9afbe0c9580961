"""Configuration management: 5.3.1 by CM file download (HTTP and FTP; a corrupt file and
one invalid parameter apply nothing) and 5.3.2 by SetParameterValues (success, and a
failure with per-parameter faults that leaves nothing half-applied). The HMS reaches the
registered HNB by a connection request (TR-069 3.2.2), then acts in that session."""

from __future__ import annotations

import time
from typing import Any

from lab.datamodel.cmfile import write_cm_file
from scenarios.harness import Ctx, ScenarioError, scenario

RAN = "Device.Services.FAPService.1.CellConfig.UMTS.RAN."
ACCESS = "Device.Services.FAPService.1.AccessMgmt.UMTS."


def queue(ctx: Ctx, kind: str, args: dict[str, Any]) -> int:
    """Queue a task and ask the HNB for a session (TR-069 connection request). The HNB
    rate-limits connection requests (20 in 10 s) and says 503: then ask again shortly;
    the queued task waits for that session."""
    out = ctx.api("POST", f"/api/devices/{ctx.device_id()}/tasks",
                  {"kind": kind, "args": args, "connection_request": True})
    cr = out.get("connection_request", {})
    for _ in range(20):
        if cr.get("ok"):
            break
        if cr.get("status") != 503:
            raise ScenarioError(f"connection request to the HNB failed: {cr}")
        time.sleep(1.0)
        cr = ctx.api("POST", f"/api/devices/{ctx.device_id()}/connection-request",
                     allow_error=True)
    else:
        raise ScenarioError(f"the HNB kept refusing connection requests: {cr}")
    return int(out["task"]["id"])


def wait_task(ctx: Ctx, task: int, timeout: float = 30.0) -> dict[str, Any]:
    """The task's final record once the HMS marked it done or failed."""
    ctx.wait(lambda e: e.node == ctx.hms() and e.kind in ("hms.task.done", "hms.task.failed")
             and e.fields.get("task") == task, f"task {task} to finish", timeout)
    tasks = ctx.api("GET", f"/api/devices/{ctx.device_id()}/tasks")
    return next(t for t in tasks if t["id"] == task)


def read_back(ctx: Ctx, names: list[str]) -> dict[str, str]:
    t = wait_task(ctx, queue(ctx, "GPV", {"names": names}))
    params = (t.get("result") or {}).get("parameters") or []
    return {p["name"]: p["value"] for p in params} if isinstance(params, list) else params


@scenario(name="cm-spv", topology="intranet.yaml", clauses=["5.3.2"],
          title="CM by SetParameterValues: applied, read back")
def cm_spv(ctx: Ctx) -> None:
    ctx.ensure_registered()
    want = {f"{ACCESS}HNBName": "hnblab-cm-spv", f"{ACCESS}MaxUEsServed": "8"}
    t = wait_task(ctx, queue(ctx, "SPV", {"parameters": want, "parameter_key": "cm-spv-1"}))
    if t["state"] != "done":
        raise ScenarioError(f"SPV failed: {t}")
    got = read_back(ctx, list(want))
    if got != want:
        raise ScenarioError(f"read back {got}, expected {want}")


@scenario(name="cm-spv-fault", topology="intranet.yaml", clauses=["5.3.2"],
          options={"expect_fault": True}, expect="5.3.2/B: 9003",
          title="CM by SetParameterValues with one invalid value: fault, nothing applied")
def cm_spv_fault(ctx: Ctx) -> None:
    ctx.ensure_registered()
    before = read_back(ctx, [f"{ACCESS}HNBName"])
    bad = {f"{ACCESS}HNBName": "must-not-stick", f"{ACCESS}MaxUEsServed": "many"}
    t = wait_task(ctx, queue(ctx, "SPV", {"parameters": bad}))
    if t["state"] != "failed" or "9003" not in str(t.get("result")):
        raise ScenarioError(f"expected a 9003 fault with per-parameter faults, got {t}")
    if read_back(ctx, [f"{ACCESS}HNBName"]) != before:
        raise ScenarioError("a failed SetParameterValues changed the HNB")


def _cm_file(ctx: Ctx, name: str, params: dict[str, str], corrupt: bool = False) -> str:
    data = write_cm_file(params, vendor_name="hnblab", local_dn=ctx.device_id())
    if corrupt:
        data = data[: len(data) // 2]
    ctx.api("POST", f"/api/files/cm?name={name}", raw=data)
    return name


def _download(ctx: Ctx, name: str, scheme: str = "http") -> dict[str, Any]:
    args: dict[str, Any] = {"cm_file": name}
    t = queue(ctx, "Download", args) if scheme == "http" else queue(
        ctx, "Download", {"cm_file": name, "url": _ftp_url(ctx, name)})
    return wait_task(ctx, t)


def _ftp_url(ctx: Ctx, name: str) -> str:
    hms = ctx.topo.nodes[ctx.hms()]
    return f"ftp://{hms.settings.get('fqdn')}:2121/cm/{name}"


@scenario(name="cm-download", topology="intranet.yaml", clauses=["5.3.1"],
          title="CM by file download over HTTP and FTP: everything applied, TransferComplete 0")
def cm_download(ctx: Ctx) -> None:
    ctx.ensure_registered()
    for scheme, value in (("http", "hnblab-cm-http"), ("ftp", "hnblab-cm-ftp")):
        want = {f"{ACCESS}HNBName": value, f"{RAN}CellID": "4242"}
        t = _download(ctx, _cm_file(ctx, f"cm-{scheme}.xml", want), scheme)
        if t["state"] != "done":
            raise ScenarioError(f"CM download over {scheme} failed: {t}")
        got = read_back(ctx, list(want))
        if got != want:
            raise ScenarioError(f"after the {scheme} CM file: read back {got}, expected {want}")


@scenario(name="cm-download-bad", topology="intranet.yaml", clauses=["5.3.1"],
          options={"expect_fault": True}, expect="5.3.1/D: 9018",
          title="a corrupt CM file and one with an invalid parameter: nothing applied")
def cm_download_bad(ctx: Ctx) -> None:
    ctx.ensure_registered()
    before = read_back(ctx, [f"{ACCESS}HNBName"])
    cases = {"corrupt": _cm_file(ctx, "cm-corrupt.xml", {f"{ACCESS}HNBName": "x"}, True),
             "invalid": _cm_file(ctx, "cm-invalid.xml", {f"{ACCESS}HNBName": "y",
                                                         f"{ACCESS}MaxUEsServed": "many"})}
    for what, name in cases.items():
        t = _download(ctx, name)
        if t["state"] != "failed":
            raise ScenarioError(f"the {what} CM file was reported as applied: {t}")
    if read_back(ctx, [f"{ACCESS}HNBName"]) != before:
        raise ScenarioError("a failed CM download changed the HNB")
