"""Configuration management: 5.3.1 by CM file download (HTTP, HTTPS and FTP; a corrupt
file and one invalid parameter apply nothing) and 5.3.2 by SetParameterValues (success,
and a failure with per-parameter faults that leaves nothing half-applied). These are later
updates: the HMS reaches the registered HNB by a connection request (TR-069 3.2.2) and
acts in the session it opens; their flows are the "-cr" variants, which require both."""

from __future__ import annotations

import time
from typing import Any

from lab.datamodel.cmfile import write_cm_file
from scenarios.checks import download_failed, served_over, spv_faults, transfer_complete
from scenarios.harness import Ctx, ScenarioError, scenario

RAN = "Device.Services.FAPService.1.CellConfig.UMTS.RAN."
ACCESS = "Device.Services.FAPService.1.AccessMgmt.UMTS."
BY_CR = {"trigger": "connection-request"}  # flows_for: the "-cr" flows
# the HMS's file server (CM files, PM uploads): its port per scheme
PORTS = {"http": 8080, "https": 8443, "ftp": 2121, "ftps": 2990, "sftp": 2222}


def queue(ctx: Ctx, kind: str, args: dict[str, Any]) -> int:
    """Queue a task and ask the HNB for a session (TR-069 connection request). The HNB
    rate-limits connection requests (20 in 10 s) and says 503: then ask again shortly;
    the queued task waits for that session."""
    ctx.wait_between_sessions()
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


def set_values(ctx: Ctx, values: dict[str, str]) -> None:
    t = wait_task(ctx, queue(ctx, "SPV", {"parameters": values}))
    if t["state"] != "done":
        raise ScenarioError(f"setting {sorted(values)} failed: {t}")


@scenario(name="cm-spv", topology="intranet.yaml", clauses=["5.3.2"], options=BY_CR,
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


# one valid value, one of the wrong type, one parameter that does not exist: the Fault
# lists the two bad ones (9005 no such parameter; 9006/9007 bad type or value) and not
# the good one, and the good one is not applied either (all or nothing)
GOOD = {f"{ACCESS}HNBName": "must-not-stick"}
BAD = {f"{ACCESS}MaxUEsServed": "many", f"{ACCESS}NoSuchParameter": "1"}
BAD_CODES = {f"{ACCESS}MaxUEsServed": {9006, 9007}, f"{ACCESS}NoSuchParameter": {9005}}


@scenario(name="cm-spv-fault", topology="intranet.yaml", clauses=["5.3.2"],
          negative=True, options=BY_CR, expect="5.3.2/B: 9003",
          title="CM by SetParameterValues with invalid values: per-parameter faults, "
                "nothing applied")
def cm_spv_fault(ctx: Ctx) -> None:
    ctx.ensure_registered()
    names = [f"{ACCESS}HNBName", f"{ACCESS}MaxUEsServed"]
    before = read_back(ctx, names)
    # a value this run has not used before: applied, it would show in the read-back
    good = {n: f"{v}-{time.time():.0f}" for n, v in GOOD.items()}
    t = wait_task(ctx, queue(ctx, "SPV", {"parameters": {**good, **BAD}}))
    if t["state"] != "failed" or (t.get("result") or {}).get("fault") != 9003:
        raise ScenarioError(f"expected Fault 9003 with per-parameter faults, got {t}")
    problem = spv_faults(ctx.events(), ctx.hms(), BAD_CODES)
    if problem:
        raise ScenarioError(problem)
    after = read_back(ctx, names)
    if after != before:
        raise ScenarioError(f"a failed SetParameterValues changed the HNB: {before} -> {after}")


def _cm_file(ctx: Ctx, name: str, params: dict[str, str], corrupt: bool = False) -> str:
    data = write_cm_file(params, vendor_name="hnblab", local_dn=ctx.device_id())
    if corrupt:
        data = data[: len(data) // 2]
    ctx.api("POST", f"/api/files/cm?name={name}", raw=data)
    return name


def file_url(ctx: Ctx, scheme: str, path: str) -> str:
    """A URL on the serving HMS's file server by its name (the HTTPS certificate names it),
    e.g. path "cm/a.xml" or "pm/"."""
    host = ctx.topo.nodes[ctx.hms()].settings.get("fqdn")
    return f"{scheme}://{host}:{PORTS[scheme]}/{path}"


def _download(ctx: Ctx, name: str, scheme: str = "http") -> tuple[int, dict[str, Any]]:
    task = queue(ctx, "Download", {"cm_file": name,
                                   "url": file_url(ctx, scheme, f"cm/{name}")})
    return task, wait_task(ctx, task)


@scenario(name="cm-download", topology="intranet.yaml", clauses=["5.3.1"], options=BY_CR,
          title="CM by file download over HTTP, HTTPS and FTP: everything applied, "
                "TransferComplete 0")
def cm_download(ctx: Ctx) -> None:
    ctx.ensure_registered()
    for n, scheme in enumerate(("http", "https", "ftp")):
        want = {f"{ACCESS}HNBName": f"hnblab-cm-{scheme}", f"{RAN}CellID": str(4242 + n)}
        name = _cm_file(ctx, f"cm-{scheme}.xml", want)
        ctx.mark(f"download over {scheme}")
        task, t = _download(ctx, name, scheme)
        if t["state"] != "done" or (t.get("result") or {}).get("fault") != 0:
            raise ScenarioError(f"CM download over {scheme} failed: {t}")
        problem = served_over(ctx.events(), ctx.hms(), name, scheme)
        tc = transfer_complete(ctx.events(), ctx.hms(), task)
        if tc is None or tc.fields.get("fault_code") != 0:
            problem = problem or f"no TransferComplete with FaultCode 0 for task {task}: {tc}"
        if problem:
            raise ScenarioError(problem)
        got = read_back(ctx, list(want))
        if got != want:
            raise ScenarioError(f"after the {scheme} CM file: read back {got}, expected {want}")


@scenario(name="cm-download-bad", topology="intranet.yaml", clauses=["5.3.1"],
          negative=True, options=BY_CR, expect="5.3.1/D: 9018",
          title="a corrupt CM file and one with an invalid parameter: TransferComplete "
                "FaultCode, nothing applied")
def cm_download_bad(ctx: Ctx) -> None:
    ctx.ensure_registered()
    names = [f"{ACCESS}HNBName", f"{ACCESS}MaxUEsServed"]
    set_values(ctx, {f"{ACCESS}HNBName": "hnblab-before-bad", f"{ACCESS}MaxUEsServed": "4"})
    before = read_back(ctx, names)
    cases = {"corrupt": _cm_file(ctx, "cm-corrupt.xml", {f"{ACCESS}HNBName": "x"}, True),
             "invalid": _cm_file(ctx, "cm-invalid.xml", {f"{ACCESS}HNBName": "y",
                                                         f"{ACCESS}MaxUEsServed": "many"})}
    for what, name in cases.items():
        ctx.mark(f"{what} CM file")
        task, t = _download(ctx, name)
        if t["state"] != "failed":
            raise ScenarioError(f"the {what} CM file was reported as applied: {t}")
        problem = download_failed(ctx.events(), ctx.hms(), task)
        if problem:
            raise ScenarioError(f"the {what} CM file: {problem}")
        after = read_back(ctx, names)
        if after != before:
            raise ScenarioError(f"the {what} CM file changed the HNB: {before} -> {after}")
