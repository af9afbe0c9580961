"""Discovery and registration (TS 32.583 5.1.1, 5.1.2, 5.2.1) matched over synthetic runs
shaped like the nodes' events: pass, a missing step, out of order, the same-HMS variant,
internet discovery, failures and unexpected events."""

from __future__ import annotations

from dataclasses import replace

import pytest

from lab.flows import FLOWS, BindingError, Observation, match, suggest_binding
from lab.flows.matcher import FlowResult, check_expect, scenario_unexpected
from lab.flows.model import LANES, AnyOf, Expect, M, Names, O, ev, msg, sides
from scenarios import runner
from tests.unit.test_flows_fixtures import (
    Run,
    hnb_cert_expired,
    hnb_identity_mismatch,
    hnb_not_accepted,
    internet,
    intranet,
    same_hms,
)


def check(r: Run, flow: str, **kw: object) -> FlowResult:
    return match(FLOWS[flow], suggest_binding(r.topo), r.events, r.topo,
                 start=r.events[0].time, **kw)  # type: ignore[arg-type]


def statuses(res: FlowResult) -> dict[str, str]:
    return {v.step.id: v.status for v in res.steps}


def test_intranet_discovery_passes_every_step_in_order() -> None:
    res = check(intranet(), "5.1.1")
    assert res.verdict == "pass"
    assert set(statuses(res).values()) == {"passed"}
    times = [v.time for v in res.steps if v.step.req == M]
    assert times == sorted(times)  # type: ignore[type-var]
    assert not [u for u in res.unexpected if not u.info]
    # the one HMS request 5.1.1 does not claim is registration's (5.2.1 claims it)
    assert [(u.message.name, u.message.fields["purpose"]) for u in res.unexpected
            if u.message] == [("SetParameterValues", "provision")]


def test_intranet_evidence_names_both_sides() -> None:
    res = check(intranet(), "5.1.1")
    by_id = {v.step.id: v for v in res.steps}
    # the Inform recorded by the HNB (cwmp.tx) and by HMS initial (cwmp.rx) is one message
    inform = by_id["4"]
    assert {(e.node, e.kind) for e in inform.events} == {("hnb1", "cwmp.tx"),
                                                         ("hms-initial", "cwmp.rx")}
    assert len(inform.messages) == 1
    # the tunnel as the HNB and the SeGW saw it
    assert {e.node for e in by_id["2.3"].events} == {"hnb1", "segw-initial"}
    # the SPV of step 6 is the HMS's "assign" task, not any SPV
    assert by_id["6"].messages[0].fields["purpose"] == "assign"
    assert by_id["7"].messages[0].fields["purpose"] == "assign"


def test_intranet_registration_passes() -> None:
    res = check(intranet(), "5.2.1")
    st = statuses(res)
    assert res.verdict == "pass"
    assert st["5.3-bis"] == st["5.4-bis"] == "skipped"
    assert all(st[s] == "passed" for s in ("2.1", "2.2", "3", "4.1", "4.2", "5.1", "5.2",
                                          "5.3", "5.4", "6.1", "6.2", "7"))
    accept = {v.step.id: v for v in res.steps}["7"]
    assert {m.name for m in accept.messages} == {"HNBRegisterRequest", "HNBRegisterAccept"}


def test_missing_step_fails_the_flow() -> None:
    r = intranet(drop=("hnb1/cwmp.tx/SetParameterValuesResponse",
                       "hms-initial/cwmp.rx/SetParameterValuesResponse"))
    res = check(r, "5.1.1")
    st = statuses(res)
    assert res.verdict == "fail"
    assert st["7"] == "missing"
    assert "SetParameterValuesResponse" in {v.step.id: v for v in res.steps}["7"].reason
    assert st["6"] == st["8"] == "passed"


def test_step_seen_before_its_predecessor_is_out_of_order() -> None:
    r = intranet()
    # the InformResponse of HMS initial arrives after its SetParameterValues
    spv = next(e for e in r.events if e.node == "hnb1" and e.kind == "cwmp.rx"
               and e.fields["msg"] == "SetParameterValues")
    late = spv.time + 0.005
    r.events = [replace(e, time=late) if e.fields.get("msg") == "InformResponse"
                and "initial" in str(e.peer) + e.node else e for e in r.events]
    res = check(r, "5.1.1")
    six = {v.step.id: v for v in res.steps}["6"]
    assert six.status == "failed"
    assert six.reason.startswith("out of order") and "step 5" in six.reason
    assert res.verdict == "fail"


def test_same_hms_skips_release_and_teardown() -> None:
    r = same_hms()
    res = check(r, "5.1.1")
    st = statuses(res)
    assert res.facts["same_hms"] is True
    assert st["8"] == st["9"] == "skipped"
    assert "step 10" in {v.step.id: v for v in res.steps}["8"].reason
    assert st["10"] == "passed" and res.verdict == "pass"
    reg = check(r, "5.2.1")
    rst = statuses(reg)
    assert reg.verdict == "pass"
    assert {rst[s] for s in ("2.1", "2.2", "3", "4.1", "4.2")} == {"skipped"}
    # registration rides the discovery session: its Inform is 5.1.1 step 4's Inform
    d4 = {v.step.id: v for v in res.steps}["4"]
    r51 = {v.step.id: v for v in reg.steps}["5.1"]
    assert d4.messages[0] is not None and r51.messages[0].index == d4.messages[0].index


def test_internet_discovery_over_tls() -> None:
    r = internet()
    res = check(r, "5.1.2")
    assert res.verdict == "pass", statuses(res)
    three = {v.step.id: v for v in res.steps}["3"]
    assert three.events[0].fields["url"].startswith("https://")
    assert check(r, "5.2.1").verdict == "pass"


def test_internet_discovery_without_tls_fails_step_3() -> None:
    res = check(internet(https=False), "5.1.2")
    three = {v.step.id: v for v in res.steps}["3"]
    assert three.status == "failed" and "http://" in three.reason


def test_rejected_registration_fails_step_7_with_the_reject() -> None:
    res = check(intranet(reject=True), "5.2.1")
    seven = {v.step.id: v for v in res.steps}["7"]
    assert seven.status == "failed"
    assert "HNBRegisterReject" in seven.reason
    assert res.verdict == "fail"


def test_unexpected_auth_failure_is_named_but_the_flow_passes() -> None:
    res = check(intranet(auth_fail=True), "5.1.1")
    assert res.verdict == "pass"
    errors = [u for u in res.unexpected if not u.info]
    whys = {u.why for u in errors}
    assert "IKEv2 authentication failed" in whys and "IKEv2 failed" in whys
    assert all(u.events[0].node in ("hnb1", "segw-initial") for u in errors)


REFUSALS = [("hnb-not-accepted", hnb_not_accepted), ("hnb-cert-expired", hnb_cert_expired),
            ("hnb-identity-mismatch", hnb_identity_mismatch)]


@pytest.mark.parametrize("name, run", REFUSALS)
@pytest.mark.parametrize("hnb_first", [False, True])
def test_a_refused_tunnel_fails_on_both_sides_records(name: str, run: object,
                                                       hnb_first: bool) -> None:
    """The HNB's ike.failed and the SeGW's ike.auth_failed land about 1 ms apart, either
    first; only the SeGW's says why: the step's evidence holds both, so the scenario's
    expected text (the SeGW's reason) is found whichever came first."""
    r: Run = run()  # type: ignore[operator]
    if hnb_first:
        r.events = [replace(e, time=round(e.time + 0.015, 3)) if e.kind == "ike.auth_failed"
                    else e for e in r.events]
    res = check(r, "5.1.1")
    step = {v.step.id: v for v in res.steps}["2.3"]
    assert step.status == "failed"
    first = {(e.node, e.kind) for e in step.events if e.time == step.time}
    assert first == {("hnb1", "ike.failed") if hnb_first else ("segw-initial", "ike.auth_failed")}
    assert {("hnb1", "ike.failed"), ("segw-initial", "ike.auth_failed")} <= \
        {(e.node, e.kind) for e in step.events}
    expected = runner.load_all()[name].expected
    assert expected is not None and expected.text
    assert expected.text.lower() not in " ".join(
        e.summary for e in step.events if e.node == "hnb1").lower()  # the HNB cannot say
    got = check_expect([res], expected)
    assert got.ok, got.why
    assert expected.text.lower() in step.reason.lower()


def test_a_refusal_for_another_reason_is_not_the_expected_one() -> None:
    res = check(hnb_not_accepted(), "5.1.1")
    for text in ("HNB certificate expired", "identity mismatch"):
        got = check_expect([res], Expect.parse(f"5.1.1/2.3: {text}"))
        assert not got.ok and "nothing there mentions" in got.why


def test_the_segws_refusal_of_another_hnb_is_not_this_tunnels_failure() -> None:
    r = hnb_not_accepted()
    # the SeGW's records name the HNB by its outer address: make it someone else's
    r.events = [replace(e, peer="198.51.100.250", fields={**e.fields, "outer": "198.51.100.250",
                                                         "identity": "100D0B2-X@r.example"})
                if e.kind == "ike.auth_failed" else e for e in r.events]
    step = {v.step.id: v for v in check(r, "5.1.1").steps}["2.3"]
    assert step.status == "failed"
    assert {e.kind for e in step.events} == {"ike.failed"}


def test_cm_download_takes_the_bis_branch() -> None:
    res = check(intranet(cm="download"), "5.2.1")
    st = statuses(res)
    assert res.facts["cm_download"] is True
    assert st["5.3"] == st["5.4"] == "skipped"
    assert st["5.3-bis"] == st["5.4-bis"] == "passed"
    assert res.verdict == "pass"


def test_start_time_excludes_earlier_events() -> None:
    r = intranet()
    later = next(e for e in r.events if e.kind == "cwmp.url_changed").time
    res = match(FLOWS["5.1.1"], suggest_binding(r.topo), r.events, r.topo, start=later)
    st = statuses(res)
    assert st["1"] == "missing" and st["4"] == "missing"
    assert res.verdict == "fail"


def test_facts_override_wins() -> None:
    res = check(intranet(), "5.1.1", facts_override={"same_hms": True})
    assert statuses(res)["8"] == "skipped"


def test_binding_missing_a_lane_is_an_error_naming_it() -> None:
    r = intranet()
    b = suggest_binding(r.topo)
    del b["HMS initial"]
    with pytest.raises(BindingError, match="HMS initial"):
        match(FLOWS["5.1.1"], b, r.events, r.topo)
    b = {**suggest_binding(r.topo), "HNB-GW": "nosuchnode"}
    with pytest.raises(BindingError, match="nosuchnode"):
        match(FLOWS["5.2.1"], b, r.events, r.topo)


def test_observation_is_reusable_across_flows() -> None:
    r = intranet()
    obs = Observation(r.events, r.topo)
    b = suggest_binding(r.topo)
    rs = [match(FLOWS[f], b, obs, start=r.events[0].time) for f in ("5.1.1", "5.2.1")]
    assert [x.verdict for x in rs] == ["pass", "pass"]
    assert scenario_unexpected(rs) == []


def test_suggested_bindings_follow_the_topologies() -> None:
    b = suggest_binding(intranet().topo)
    assert b == {"HNB": "hnb1", "DNS outer": "dns-outer", "DNS inner": "dns-inner",
                 "SeGW initial": "segw-initial", "HMS initial": "hms-initial",
                 "SeGW serving": "segw-serving", "HMS serving": "hms-serving",
                 "HNB-GW": "hnbgw", "File server": "hms-serving"}
    s = suggest_binding(same_hms().topo)
    assert s["HMS initial"] == s["HMS serving"] == "hms"
    assert s["SeGW initial"] == s["SeGW serving"] == "segw"
    i = suggest_binding(internet().topo)
    assert "SeGW initial" not in i and i["HMS initial"] == "hms-initial"
    with pytest.raises(BindingError, match="no hnb node named 'hnbX'"):
        suggest_binding(intranet().topo, "hnbX")


# ---- the tables themselves --------------------------------------------------------------------

SPEC_STEPS = {
    "5.1.1": ["1", "2.1", "2.2", "2.3", "2.4", "2.5", "3", "4", "5", "6", "7", "8", "9", "10"],
    "5.1.2": [str(i) for i in range(1, 10)],
    "5.2.1": ["1", "2.1", "2.2", "3", "4.1", "4.2", "5.1", "5.2", "5.3", "5.4", "5.3-bis",
              "5.4-bis", "6.1", "6.2", "7"],
    "5.2.2": ["0", "A", "B", "C"],
    "5.3.1": ["CR", "A", "B", "C", "D"],
    "5.3.2": ["CR", "A", "B"],
    "5.5.1": ["1", "2"], "5.5.2": ["0", "1", "2"], "5.6.1": ["3", "4"], "5.6.2": ["0", "1"],
}


@pytest.mark.parametrize("fid", sorted(SPEC_STEPS))
def test_flow_tables_number_steps_as_the_spec(fid: str) -> None:
    assert [s.id for s in FLOWS[fid].steps] == SPEC_STEPS[fid]


def test_every_step_is_well_formed() -> None:
    for f in FLOWS.values():
        ids = [s.id for s in f.steps]
        assert len(ids) == len(set(ids)), f.id
        for s in f.steps:
            assert s.req in (M, O) and s.text and s.message, (f.id, s.id)
            assert s.lanes() <= set(LANES), (f.id, s.id, s.lanes() - set(LANES))
    assert FLOWS["5.1.1"].step("9").req == O
    assert FLOWS["5.1.1"].step("8").requirement == "C (not same_hms)"
    with pytest.raises(KeyError, match="no step '11'"):
        FLOWS["5.1.1"].step("11")


def test_predicate_operators_flatten_but_keep_sides() -> None:
    a, b, c = ev("x.y", "HNB"), msg("M", "HNB", "HMS serving"), ev("z", "HNB-GW")
    p = a | b | c
    assert isinstance(p, AnyOf) and len(p.parts) == 3 and not p.same_fact
    q = sides(a, b) | c
    assert len(q.parts) == 2 and q.parts[0].same_fact  # type: ignore[attr-defined]
    assert (a & b).lanes() == {"HNB", "HMS serving"}
    assert msg("DNSQuery", "HNB", "DNS outer", qname=Names("SeGW initial")).lanes() == {
        "HNB", "DNS outer", "SeGW initial"}
    assert "qname names SeGW initial" in msg("DNSQuery", "HNB", "DNS outer",
                                             qname=Names("SeGW initial")).text()


def test_flows_for_expands_clause_5_4() -> None:
    from lab.flows import flows_for

    assert [f.id for f in flows_for(["5.4"])] == ["5.4-1", "5.4-refused"]
    assert [f.id for f in flows_for(["5.1.1", "5.4"], {"method": "spv"})] == [
        "5.1.1", "5.4-2", "5.4-refused"]
    with pytest.raises(KeyError, match="method 'reboot'"):
        flows_for(["5.4"], {"method": "reboot"})
    with pytest.raises(KeyError, match=r"no flow '9\.9'"):
        flows_for(["9.9"])


# ---- unknown facts, HMS requests no step claims ---------------------------------------------

def _without_release(r: Run) -> Run:
    """5.1.1 step 8 not happening: neither side records the session with HMS initial end."""
    r.events = [e for e in r.events if not (
        (e.node == "hnb1" and e.kind == "cwmp.session" and e.fields.get("state") == "end"
         and "initial" in str(e.peer))
        or (e.node == "hms-initial" and e.kind == "hms.session.end"))]
    return r


def test_unknown_fact_does_not_excuse_a_mandatory_step() -> None:
    # same_hms unknown: step 8 (C, not same_hms) is looked for; not seen, it is missing,
    # and the reason names the fact nobody could determine
    res = check(_without_release(intranet()), "5.1.1", facts_override={"same_hms": None})
    eight = {v.step.id: v for v in res.steps}["8"]
    assert eight.status == "missing" and eight.bad
    assert "undetermined" in eight.reason and "same_hms" in eight.reason
    assert res.verdict == "fail" and eight in res.problems
    # step 9 (optional, same unknown fact) was seen: it passes
    assert statuses(res)["9"] == "passed"
    # with the fact known to be false the same run fails the same step, without the note
    known = {v.step.id: v for v in check(_without_release(intranet()), "5.1.1").steps}["8"]
    assert known.status == "missing" and "undetermined" not in known.reason
    # and seen, a step of unknown condition passes
    seen = check(intranet(), "5.1.1", facts_override={"same_hms": None})
    assert statuses(seen)["8"] == "passed" and seen.verdict == "pass"


def test_unknown_fact_skips_an_optional_step_not_seen() -> None:
    r = intranet()
    r.events = [e for e in r.events if e.kind != "ike.down"]
    res = check(r, "5.1.1", facts_override={"same_hms": None})
    nine = {v.step.id: v for v in res.steps}["9"]
    assert nine.status == "skipped" and not nine.bad


def after_registration(r: Run, flow: str, **kw: object) -> FlowResult:
    start = max(e.time for e in r.events if e.kind == "hnbap.rx") + 1.0
    return match(FLOWS[flow], suggest_binding(r.topo), r.events, r.topo, start=start,
                 **kw)  # type: ignore[arg-type]


def test_hms_requests_no_step_claims_are_listed_as_information() -> None:
    from tests.unit.test_flows_fixtures import operator_spv

    r = operator_spv(also=("Download", "GetParameterValues"))
    res = after_registration(r, "5.3.2")
    assert res.verdict == "pass", statuses(res)
    extra = [u for u in res.unexpected if u.message is not None]
    assert [u.message.name for u in extra] == ["Download", "GetParameterValues"]
    assert all(u.info for u in extra)
    assert all("no step accounts for" in u.why and "operator" in u.why for u in extra)
    # the SPV step A claims is not among them, nor any response or the HNB's own requests
    a = {v.step.id: v for v in res.steps}["A"]
    assert a.messages[0].index not in {u.message.index for u in extra}
    assert scenario_unexpected([res]) == res.unexpected
    # without the extra requests nothing is listed
    assert after_registration(operator_spv(), "5.3.2").unexpected == []


def test_requests_outside_the_window_are_not_listed() -> None:
    from tests.unit.test_flows_fixtures import operator_spv

    r = operator_spv(also=("Download",))
    dl = next(e for e in r.events if e.kind == "cwmp.tx" and e.fields.get("msg") == "Download")
    start = max(e.time for e in r.events if e.kind == "hnbap.rx") + 1.0
    res = match(FLOWS["5.3.2"], suggest_binding(r.topo), r.events, r.topo, start=start,
                end=dl.time - 0.001)
    assert res.unexpected == []
