"""5.6.1 PM upload period set (SetParameterValues of FAP.PerfMgmt.Config.1) and 5.6.2 PM
file upload: TS 32.435 measCollec files uploaded periodically to the file server the HMS
named, over FTP, FTPS, SFTP, HTTP and HTTPS; disabling stops the uploads; during a
file-server outage files wait in the HNB's backlog and none is lost."""

from __future__ import annotations

import time

from scenarios.cm import queue, wait_task
from scenarios.harness import Ctx, ScenarioError, scenario

PM_TABLE = "Device.FAP.PerfMgmt.Config."
TRANSPORTS = {"http": 8080, "https": 8443, "ftp": 2121, "ftps": 2990, "sftp": 2222}


def _url(ctx: Ctx, scheme: str, port: int | None = None) -> str:
    host = ctx.topo.nodes[ctx.hms()].settings.get("fqdn")
    return f"{scheme}://{host}:{port or TRANSPORTS[scheme]}/pm/"


def pm_config(ctx: Ctx) -> str:
    """The HNB's PerfMgmt.Config entry, made by AddObject when it has none (a table
    instance is the HMS's to create, TR-069 A.3.2.6)."""
    t = wait_task(ctx, queue(ctx, "GPV", {"names": [PM_TABLE]}))
    names = sorted((t.get("result") or {}).get("parameters") or {})
    if names:
        return PM_TABLE + names[0][len(PM_TABLE):].split(".", 1)[0] + "."
    t = wait_task(ctx, queue(ctx, "AddObject", {"object_name": PM_TABLE}))
    if t["state"] != "done":
        raise ScenarioError(f"AddObject {PM_TABLE} failed: {t}")
    return f"{PM_TABLE}{t['result']['instance_number']}."


def set_pm(ctx: Ctx, enable: bool, url: str, interval: int) -> dict:
    PM = pm_config(ctx)
    return wait_task(ctx, queue(ctx, "SPV", {"parameters": {
        f"{PM}Enable": "true" if enable else "false", f"{PM}URL": url,
        f"{PM}Username": "hnb", f"{PM}Password": "hnb-files",
        f"{PM}PeriodicUploadInterval": str(interval)}}))


def pm_files(ctx: Ctx) -> list[dict]:
    return ctx.api("GET", "/api/files?kind=pm")


@scenario(name="pm-period", topology="intranet.yaml", clauses=["5.6.1"],
          title="the HMS sets the PM upload period; the HNB confirms")
def pm_period(ctx: Ctx) -> None:
    ctx.ensure_registered()
    t = set_pm(ctx, True, _url(ctx, "http"), 300)
    if t["state"] != "done":
        raise ScenarioError(f"PM period set failed: {t}")


@scenario(name="pm-upload", topology="intranet.yaml", clauses=["5.6.1", "5.6.2"],
          title="periodic PM upload over FTP, FTPS, SFTP, HTTP, HTTPS; disable stops it")
def pm_upload(ctx: Ctx) -> None:
    ctx.ensure_registered()
    for scheme in TRANSPORTS:
        ctx.mark(f"upload over {scheme}")
        set_pm(ctx, True, _url(ctx, scheme), 2)
        ctx.wait(lambda e, s=scheme: e.node == ctx.hms() and e.kind == "file.rx"
                 and e.fields.get("transport") == s, f"a PM file over {scheme}", 30)
    ctx.mark("disable")
    set_pm(ctx, False, _url(ctx, "http"), 2)
    n = len(pm_files(ctx))
    time.sleep(5)
    if len(pm_files(ctx)) != n:
        raise ScenarioError("the HNB kept uploading after PM upload was disabled")


@scenario(name="pm-outage", topology="intranet.yaml", clauses=["5.6.2"],
          title="file server unreachable: files wait in the backlog, none lost")
def pm_outage(ctx: Ctx) -> None:
    ctx.ensure_registered()
    before = len(pm_files(ctx))
    ctx.mark("outage")
    set_pm(ctx, True, _url(ctx, "http", port=8099), 2)  # nothing listens there
    ctx.wait(lambda e: e.node == ctx.hnb and e.kind == "pm.upload_failed",
             "a failed PM upload during the outage", 30)
    time.sleep(4)
    backlog = ctx.control(ctx.hnb, "status").get("pm_backlog", [])
    if not backlog:
        raise ScenarioError("no PM file waited in the backlog during the outage")
    ctx.mark("recovery")
    set_pm(ctx, True, _url(ctx, "http"), 2)
    deadline = time.time() + 30
    while time.time() < deadline:
        names = {f["name"] for f in pm_files(ctx)}
        if set(backlog) <= names:
            break
        time.sleep(0.5)
    else:
        raise ScenarioError(f"backlog files lost: {sorted(set(backlog) - names)}")
    if len(pm_files(ctx)) < before + len(backlog):
        raise ScenarioError("fewer PM files stored than generated")
    set_pm(ctx, False, _url(ctx, "http"), 2)
