"""5.4 de-provisioning: by FactoryReset (executed after the session; the HNB comes back
with 0 BOOTSTRAP and is refused with Fault 8001 until the operator allows it, then
registers) and by SetParameterValues resetting the operator's parameter set (read back
once the HNB is allowed again). Both ride in the session the HMS's connection request
opens ("-cr" flows)."""

from __future__ import annotations

import time

from scenarios.checks import accepted_while_refused
from scenarios.cm import read_back, set_values
from scenarios.harness import Ctx, ScenarioError, scenario


def _refused_then_allowed(ctx: Ctx, since: float) -> None:
    """Wait for a refusal, then allow the HNB; every Inform until then must have been
    refused (none accepted)."""
    ctx.wait(lambda e: e.node == ctx.hms() and e.kind == "hms.refused" and e.time >= since,
             "the HMS to refuse the de-provisioned HNB", timeout=60)
    # the refusal is complete when the HNB has ended that session: the operator acts after
    ctx.wait_between_sessions()
    until = time.time()
    problem = accepted_while_refused(ctx.events(), ctx.hms(), ctx.device_id(), since, until)
    if problem:
        raise ScenarioError(problem)
    ctx.mark("operator allows")
    ctx.api("POST", f"/api/devices/{ctx.device_id()}/allow")


@scenario(name="deprovision-factory-reset", topology="intranet.yaml", clauses=["5.4"],
          options={"method": "factory-reset", "trigger": "connection-request"},
          title="FactoryReset after the session; BOOTSTRAP refused until allowed; registers")
def deprovision_factory_reset(ctx: Ctx) -> None:
    ctx.ensure_registered()
    ctx.wait_between_sessions()
    ctx.mark("de-provision")
    ctx.api("POST", f"/api/devices/{ctx.device_id()}/deprovision",
            {"method": "factory-reset", "connection_request": True})
    done = ctx.wait_kind("hms.deprovisioned", ctx.hms(), timeout=30)
    ctx.wait_kind("cwmp.factory_reset", ctx.hnb, timeout=30)
    _refused_then_allowed(ctx, done.time)
    # the HNB retries with the TR-069 backoff and is registered again
    ctx.wait_kind("hnb.in_service", ctx.hnb, timeout=90)


def _reset_set(ctx: Ctx) -> dict[str, str]:
    """The operator's parameter set the HMS resets (settings.deprovision.params)."""
    params = (ctx.topo.nodes[ctx.hms()].settings.get("deprovision") or {}).get("params")
    if not params:
        raise ScenarioError(f"{ctx.hms()} has no settings.deprovision.params to reset")
    return {k: str(v) for k, v in params.items()}


def _same(a: str, b: str) -> bool:
    canon = {"0": "false", "1": "true"}  # xsd:boolean has two spellings
    return canon.get(a.lower(), a.lower()) == canon.get(b.lower(), b.lower())


@scenario(name="deprovision-spv", topology="intranet.yaml", clauses=["5.4"],
          options={"method": "spv", "trigger": "connection-request"},
          title="SetParameterValues resets the operator's parameter set (read back); "
                "refused until allowed")
def deprovision_spv(ctx: Ctx) -> None:
    ctx.ensure_registered()
    reset = _reset_set(ctx)
    # in service first, so that the reset visibly changes every parameter of the set
    set_values(ctx, {n: ("true" if _same(v, "false") else f"hnblab-{n.rsplit('.', 1)[-1]}")
               for n, v in reset.items()})
    ctx.wait_between_sessions()
    ctx.mark("de-provision")
    ctx.api("POST", f"/api/devices/{ctx.device_id()}/deprovision",
            {"method": "spv", "connection_request": True})
    done = ctx.wait_kind("hms.deprovisioned", ctx.hms(), timeout=30)
    # the next session the HNB opens is refused ...
    ctx.api("POST", f"/api/devices/{ctx.device_id()}/connection-request")
    _refused_then_allowed(ctx, done.time)
    # ... and once allowed, a session is accepted and the HNB provisioned again
    ctx.api("POST", f"/api/devices/{ctx.device_id()}/connection-request")
    ev = ctx.wait_kind("hms.registered", ctx.hms(), timeout=60)
    if ctx.device_id() not in ev.summary:
        raise ScenarioError(f"unexpected registration: {ev.summary}")
    got = read_back(ctx, list(reset))
    wrong = {n: got.get(n) for n, v in reset.items() if not _same(str(got.get(n)), v)}
    if wrong:
        raise ScenarioError(f"de-provisioning did not reset {wrong} (expected {reset})")
