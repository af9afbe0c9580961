"""5.4 de-provisioning: by FactoryReset (executed after the session; the HNB comes back
with 0 BOOTSTRAP and is refused until the operator allows it, then registers) and by
SetParameterValues resetting the operator's parameter set."""

from __future__ import annotations

from scenarios.harness import Ctx, ScenarioError, scenario


def _refused_then_allowed(ctx: Ctx) -> None:
    ctx.wait_kind("hms.refused", ctx.hms(), timeout=60)
    ctx.mark("operator allows")
    ctx.api("POST", f"/api/devices/{ctx.device_id()}/allow")


@scenario(name="deprovision-factory-reset", topology="intranet.yaml", clauses=["5.4"],
          options={"method": "factory-reset"},
          title="FactoryReset after the session; BOOTSTRAP refused until allowed; registers")
def deprovision_factory_reset(ctx: Ctx) -> None:
    ctx.ensure_registered()
    ctx.mark("de-provision")
    ctx.api("POST", f"/api/devices/{ctx.device_id()}/deprovision",
            {"method": "factory-reset", "connection_request": True})
    ctx.wait_kind("cwmp.factory_reset", ctx.hnb, timeout=30)
    _refused_then_allowed(ctx)
    # the HNB retries with the TR-069 backoff and is registered again
    ctx.wait_kind("hnb.in_service", ctx.hnb, timeout=90)


@scenario(name="deprovision-spv", topology="intranet.yaml", clauses=["5.4"],
          options={"method": "spv"},
          title="SetParameterValues resets the operator's parameter set; refused until allowed")
def deprovision_spv(ctx: Ctx) -> None:
    ctx.ensure_registered()
    ctx.mark("de-provision")
    ctx.api("POST", f"/api/devices/{ctx.device_id()}/deprovision",
            {"method": "spv", "connection_request": True})
    ctx.wait_kind("hms.deprovisioned", ctx.hms(), timeout=30)
    # the next session the HNB opens is refused ...
    ctx.api("POST", f"/api/devices/{ctx.device_id()}/connection-request")
    _refused_then_allowed(ctx)
    # ... and once allowed, a session is accepted and the HNB provisioned again
    ctx.api("POST", f"/api/devices/{ctx.device_id()}/connection-request")
    ev = ctx.wait_kind("hms.registered", ctx.hms(), timeout=60)
    if ctx.device_id() not in ev.summary:
        raise ScenarioError(f"unexpected registration: {ev.summary}")
