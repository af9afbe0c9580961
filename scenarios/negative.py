"""Negative scenarios: what the lab must refuse, with a clear reason as the verdict."""

from __future__ import annotations

from scenarios.harness import Ctx, scenario


@scenario(name="hms-cert-mismatch", topology="internet.yaml", clauses=["5.1.2"],
          negative=True, expect="5.1.2/3: hostname mismatch",
          overrides={"nodes.hms-initial.settings.cert": "wrong-name"},
          title="HMS initial's certificate does not match its name: the HNB stops and says why")
def hms_cert_mismatch(ctx: Ctx) -> None:
    ctx.power_on()
    ctx.wait(lambda e: e.node == ctx.hnb and e.kind == "cwmp.session"
             and e.fields.get("ok") is False and "certificate" in e.summary.lower(),
             "a CWMP session refused for the HMS certificate", timeout=30)


@scenario(name="segw-unreachable", topology="intranet.yaml", clauses=["5.1.1"],
          negative=True, expect="5.1.1/2.2,2.3: peer not responding",
          overrides={("zones", "outer", "segw-initial.operator.example"): "198.51.100.99"},
          title="SeGW initial unreachable: the HNB retries, then fails clearly")
def segw_unreachable(ctx: Ctx) -> None:
    ctx.power_on()
    ctx.wait_kind("hnb.failed", ctx.hnb, timeout=90)


@scenario(name="hnb-not-accepted", topology="intranet.yaml", clauses=["5.1.1"],
          negative=True, expect="5.1.1/2.3: ike.auth_failed",
          overrides={"nodes.hnb1.settings.cert": "foreign"},
          title="the SeGW does not accept the HNB (certificate from a foreign CA)")
def hnb_not_accepted(ctx: Ctx) -> None:
    ctx.power_on()
    ctx.wait_kind("ike.auth_failed", timeout=30)
    ctx.wait_kind("hnb.failed", ctx.hnb, timeout=90)
