"""5.6.1 PM upload period set (SetParameterValues of FAP.PerfMgmt.Config.1, in the session
the HMS's connection request opens) and 5.6.2 PM file upload: TS 32.435 measCollec files
(the HMS checks each one it receives) uploaded periodically (two uploads a period apart)
to the file server the HMS named, over FTP, FTPS, SFTP, HTTP and HTTPS; disabling stops
the uploads; during a real file-server outage (the HMS closes its HTTP listener) files
wait in the HNB's backlog and, once it is back, arrive oldest first with none lost."""

from __future__ import annotations

import time

from scenarios.checks import backlog_delivered, not_measCollec, periodic, pm_received
from scenarios.cm import BY_CR, PORTS, file_url, queue, wait_task
from scenarios.harness import Ctx, ScenarioError, scenario

PM_TABLE = "Device.FAP.PerfMgmt.Config."
PERIOD_S = 2


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


def _checked(ctx: Ctx, since: float) -> None:
    """Every PM file the HMS received since `since` is a TS 32.435 measCollec file: as its
    file server recorded it, and as its API lists it (parsed again from the stored file)."""
    problem = not_measCollec(pm_received(ctx.events(), ctx.hms(), since))
    listed = [f for f in ctx.api("GET", "/api/files?kind=pm&check=1")
              if f.get("created", 0) >= since]
    bad = [f for f in listed if not (f.get("meas") or {}).get("meas_ok")]
    if not problem and bad:
        problem = f"the HMS lists {bad[0]['name']} as not measCollec: {bad[0].get('meas')}"
    if problem:
        raise ScenarioError(problem)


@scenario(name="pm-period", topology="intranet.yaml", clauses=["5.6.1"], options=BY_CR,
          title="the HMS sets the PM upload period; the HNB confirms")
def pm_period(ctx: Ctx) -> None:
    ctx.ensure_registered()
    t = set_pm(ctx, True, file_url(ctx, "http", "pm/"), 300)
    if t["state"] != "done":
        raise ScenarioError(f"PM period set failed: {t}")


def _wait_upload(ctx: Ctx, scheme: str, since: float, n: int = 1) -> None:
    ctx.wait(lambda e: e.node == ctx.hms() and e.kind == "file.rx" and e.time >= since
             and e.fields.get("transport") == scheme
             and len([u for u in pm_received(ctx.events(), ctx.hms(), since)
                      if u.fields.get("transport") == scheme]) >= n,
             f"{n} PM file(s) over {scheme}", 30)


@scenario(name="pm-upload", topology="intranet.yaml", clauses=["5.6.1", "5.6.2"],
          options=BY_CR,
          title="periodic PM upload over FTP, FTPS, SFTP, HTTP, HTTPS; disable stops it")
def pm_upload(ctx: Ctx) -> None:
    ctx.ensure_registered()
    start = time.time()
    for scheme in PORTS:
        ctx.mark(f"upload over {scheme}")
        since = time.time()
        set_pm(ctx, True, file_url(ctx, scheme, "pm/"), PERIOD_S)
        # over the first transport, two periods: the uploads are periodic
        n = 2 if scheme == "http" else 1
        _wait_upload(ctx, scheme, since, n)
        if n == 2:
            ups = [u for u in pm_received(ctx.events(), ctx.hms(), since)
                   if u.fields.get("transport") == scheme]
            problem = periodic(ups, PERIOD_S)
            if problem:
                raise ScenarioError(problem)
    ctx.mark("disable")
    set_pm(ctx, False, file_url(ctx, "http", "pm/"), PERIOD_S)
    n = len(pm_files(ctx))
    time.sleep(5)
    if len(pm_files(ctx)) != n:
        raise ScenarioError("the HNB kept uploading after PM upload was disabled")
    _checked(ctx, start)


def _outage(ctx: Ctx, down: bool) -> None:
    out = ctx.api("POST", "/api/files/outage", {"transports": ["http"], "down": down})
    if ("http" in out.get("down", [])) != down:
        raise ScenarioError(f"the HMS file server did not go {'down' if down else 'up'}: "
                            f"{out}")


@scenario(name="pm-outage", topology="intranet.yaml", clauses=["5.6.2"],
          title="file server down: files wait in the backlog; back, they arrive in order, "
                "none lost")
def pm_outage(ctx: Ctx) -> None:
    ctx.ensure_registered()
    since = time.time()
    set_pm(ctx, True, file_url(ctx, "http", "pm/"), PERIOD_S)
    _wait_upload(ctx, "http", since)
    ctx.mark("outage: file server down")
    down_at = time.time()
    _outage(ctx, True)
    try:
        # the file server the HMS named refuses connections for two periods at least
        ctx.wait(lambda e: e.node == ctx.hnb and e.kind == "pm.upload_failed"
                 and e.time >= down_at and int(e.fields.get("backlog") or 0) >= 2,
                 "two PM files waiting in the backlog during the outage", 30)
        backlog = list(ctx.control(ctx.hnb, "status").get("pm_backlog", []))
        if len(backlog) < 2:
            raise ScenarioError(f"the backlog during the outage: {backlog}")
        late = pm_received(ctx.events(), ctx.hms(), down_at + 0.5)
        if late:
            raise ScenarioError(f"a PM file arrived while the file server was down: "
                                f"{late[0].summary}")
    finally:
        _outage(ctx, False)
    ctx.mark("file server back")
    deadline = time.time() + 30
    while time.time() < deadline:
        got = {str(u.fields.get("name")) for u in pm_received(ctx.events(), ctx.hms(),
                                                              down_at)}
        if set(backlog) <= got:
            break
        time.sleep(0.5)
    else:
        raise ScenarioError(f"backlog files lost: {sorted(set(backlog) - got)}")
    set_pm(ctx, False, file_url(ctx, "http", "pm/"), PERIOD_S)
    time.sleep(1.0)  # an upload the last period started lands
    problem = backlog_delivered(ctx.events(), ctx.hnb, ctx.hms(), backlog, since)
    if problem:
        raise ScenarioError(problem)
    _checked(ctx, since)
