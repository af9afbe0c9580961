"""Discovery (5.1.1 via the MNO intranet, 5.1.2 via the public internet) followed by
registration (5.2.1): power the HNB on and wait until it is in service at the HNB-GW."""

from __future__ import annotations

from scenarios.harness import Ctx, scenario


@scenario(name="discovery-intranet", topology="intranet.yaml", clauses=["5.1.1", "5.2.1"],
          title="HMS initial on the MNO intranet behind SeGW initial, serving SeGW + HMS")
def discovery_intranet(ctx: Ctx) -> None:
    ctx.power_on_and_register()


@scenario(name="discovery-same-hms", topology="intranet-same-hms.yaml",
          clauses=["5.1.1", "5.2.1"], options={"same_hms": True},
          title="serving HMS is the initial one: steps 8-9 skipped, straight to step 10")
def discovery_same_hms(ctx: Ctx) -> None:
    ctx.power_on_and_register()


@scenario(name="discovery-internet", topology="internet.yaml", clauses=["5.1.2", "5.2.1"],
          title="HMS initial on the public internet over TLS, then the serving SeGW + HMS")
def discovery_internet(ctx: Ctx) -> None:
    ctx.power_on_and_register()


@scenario(name="discovery-hnbgw-from-initial", topology="intranet.yaml",
          clauses=["5.1.1", "5.2.1"], options={"hnbgw_from": "initial"},
          overrides={"nodes.hms-initial.settings.policy.0.hnbgw": "hnbgw.mno.operator.example",
                     "nodes.hms-serving.settings.provisioning": {"ipsec": True}},
          title="the HMS initial assigns the HNB-GW (5.1.1 step 6 option)")
def discovery_hnbgw_from_initial(ctx: Ctx) -> None:
    ctx.power_on_and_register()
