"""5.2.2 HNB IPsec IP address change: the serving SeGW gives the HNB another inner
address; the HNB tells the serving HMS by an Inform carrying the new address, and the
HMS updates its record."""

from __future__ import annotations

from scenarios.harness import Ctx, ScenarioError, scenario


@scenario(name="ipsec-address-change", topology="intranet.yaml", clauses=["5.2.2"],
          title="inner IPsec address changes; Inform with the new address; HMS record updated")
def ipsec_address_change(ctx: Ctx) -> None:
    ctx.ensure_registered()
    identity = ctx.control(ctx.hnb, "status")["identity"]
    segw = ctx.control(ctx.hnb, "status")["tunnel"]["segw"]
    segw_node = ctx.node("segw", lambda n: n.settings.get("fqdn") == segw)
    old = ctx.control(ctx.hnb, "status")["tunnel"]["inner"]
    ctx.mark("readdress")
    ctx.segw_ctl(segw_node, "readdress", identity)
    ev = ctx.wait_kind("hms.inner_ip", ctx.hms("serving"), timeout=30)
    dev = ctx.api("GET", f"/api/devices/{ctx.device_id()}")
    new = ctx.control(ctx.hnb, "status")["tunnel"]["inner"]
    if new == old:
        raise ScenarioError(f"the inner address did not change ({old})")
    if new not in str(dev) or new not in ev.summary:
        raise ScenarioError(f"the HMS record does not show the new inner address {new}: "
                            f"{ev.summary}")
