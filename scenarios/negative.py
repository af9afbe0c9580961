"""Negative scenarios: what the lab must refuse, with a clear reason as the verdict."""

from __future__ import annotations

import re
import time
from itertools import pairwise

from lab.evidence.events import Event
from scenarios.harness import Ctx, ScenarioError, scenario


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


def refused_then_gives_up(ctx: Ctx, why: str) -> None:
    """The HNB's SeGW refuses every IKE attempt and records why (`why` in the reason of each
    ike.auth_failed); the HNB reports the refusal, retries with growing delays, then
    fails with a clear error."""
    fqdn = ctx.topo.nodes[ctx.hnb].settings["segw"]
    segw = ctx.node("segw", lambda n: n.settings.get("fqdn") == fqdn)
    ctx.power_on()
    failed = ctx.wait_kind("hnb.failed", ctx.hnb, timeout=90)
    retries = [e for e in ctx.events() if e.node == ctx.hnb and e.kind == "hnb.retry"]
    delays = [int(m[1]) for e in retries if (m := re.search(r"retry in (\d+)s", e.summary))]
    if len(delays) < 2 or any(b <= a for a, b in pairwise(delays)):
        raise ScenarioError(f"the HNB did not retry with growing delays: {delays}")
    # one refusal per attempt; the SeGW's record of the last may land a moment later
    deadline = time.time() + 10
    while len(refusals := _refusals(ctx, segw)) < len(retries):
        if time.time() > deadline:
            raise ScenarioError(f"{segw} recorded {len(refusals)} refusal(s) of "
                                f"{len(retries)} IKE attempts")
        time.sleep(0.2)
    for e in refusals:
        if why.lower() not in str(e.fields.get("reason", "")).lower():
            raise ScenarioError(f"{segw} refused the HNB, but not for {why!r}: {e.summary}")
    if "authentication" not in failed.summary.lower():
        raise ScenarioError(f"the HNB's failure does not say the SeGW refused its "
                            f"authentication: {failed.summary}")


def _refusals(ctx: Ctx, segw: str) -> list[Event]:
    return [e for e in ctx.events() if e.node == segw and e.kind == "ike.auth_failed"]


@scenario(name="hnb-not-accepted", topology="intranet.yaml", clauses=["5.1.1"],
          negative=True, expect="5.1.1/2.3: unknown CA",
          overrides={"nodes.hnb1.settings.cert": "foreign"},
          title="the SeGW does not accept the HNB (certificate from a foreign CA)")
def hnb_not_accepted(ctx: Ctx) -> None:
    refused_then_gives_up(ctx, "unknown CA")


@scenario(name="hnb-cert-expired", topology="intranet.yaml", clauses=["5.1.1"],
          negative=True, expect="5.1.1/2.3: HNB certificate expired",
          overrides={"nodes.hnb1.settings.cert": "expired"},
          title="the HNB's certificate has expired: the SeGW refuses it and says so; the HNB "
                "retries, then fails clearly")
def hnb_cert_expired(ctx: Ctx) -> None:
    refused_then_gives_up(ctx, "expired")


@scenario(name="hnb-identity-mismatch", topology="intranet.yaml", clauses=["5.1.1"],
          negative=True, expect="5.1.1/2.3: identity mismatch",
          overrides={"nodes.hnb1.settings.ike_identity": "100D0B2-HNB0666@hnb.operator.example"},
          title="the HNB claims in IKE an identity its certificate does not carry: the SeGW "
                "refuses it and says so")
def hnb_identity_mismatch(ctx: Ctx) -> None:
    refused_then_gives_up(ctx, "identity mismatch")
