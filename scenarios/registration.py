"""Registration (5.2.1) at the serving HMS, with CM by SetParameterValues (5.3/5.4) or by
a CM file Download (5.3-bis/5.4-bis), and at the HNB-GW over HNBAP (step 7).

Each variant pins its branch with the flow fact `cm_download`: the branch the HMS did not
take must not pass in its place (a Download where SPV is expected fails 5.3, an SPV where
a Download is expected fails 5.3-bis)."""

from __future__ import annotations

from scenarios.checks import download_only
from scenarios.harness import Ctx, ScenarioError, scenario


@scenario(name="registration", topology="intranet.yaml", clauses=["5.2.1"],
          options={"cm_download": False},
          title="registration at the serving HMS (SPV) and the HNB-GW (HNBAP)")
def registration(ctx: Ctx) -> None:
    ctx.power_on_and_register()


@scenario(name="registration-download", topology="intranet.yaml", clauses=["5.2.1"],
          options={"cm_download": True},
          overrides={"nodes.hms-serving.settings.cm_mode": "download"},
          title="registration with CM by file download (5.3-bis/5.4-bis), no SPV provisioning")
def registration_download(ctx: Ctx) -> None:
    ctx.power_on_and_register()
    problem = download_only(ctx.events(), ctx.hms())
    if problem:
        raise ScenarioError(problem)


@scenario(name="registration-hms-outside-tunnel", topology="intranet.yaml",
          clauses=["5.1.1", "5.2.1"], options={"hms_serving": "outside-tunnel"},
          overrides={
              "nodes.hms-serving.addresses": {"internet": "198.51.100.21",
                                              "mno": "203.0.113.21"},
              "nodes.hms-serving.settings.tls": True,
              "nodes.hms-serving.settings.fqdn": "hms-serving.operator.example",
              ("zones", "outer", "hms-serving.operator.example"): "hms-serving",
              "nodes.hms-initial.settings.policy.0.serving_hms_url":
                  "https://hms-serving.operator.example:7548/acs"},
          title="serving HMS reached outside the tunnel over TLS (name from the outer DNS); "
                "the HNB-GW through the tunnel")
def registration_hms_outside_tunnel(ctx: Ctx) -> None:
    ctx.power_on_and_register()
