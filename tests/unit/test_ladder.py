"""The ladder diagram page (lab.evidence.ladder): parses, self-contained, one arrow per
message, spec step labels, missing steps marked."""

from __future__ import annotations

import lxml.html
from lxml import etree

from lab.evidence.ladder import build_rows, render_page
from lab.flows import FLOWS, Observation, match, suggest_binding
from tests.unit.test_flows_fixtures import Run, intranet, same_hms

SVG = "{http://www.w3.org/2000/svg}"


def page(r: Run, flows: tuple[str, ...] = ("5.1.1", "5.2.1")) -> tuple[str, Observation]:
    obs = Observation(r.events, r.topo)
    b = suggest_binding(r.topo)
    t0 = r.events[0].time
    results = [match(FLOWS[f], b, obs, start=t0) for f in flows]
    return render_page("discovery-intranet", obs, results, start=t0,
                       links=[("../events/hnb1.jsonl", "events/hnb1.jsonl")]), obs


def rows_of(doc: lxml.html.HtmlElement) -> list[etree._Element]:
    svg = doc.xpath("//*[local-name()='svg']")[0]
    return [g for g in svg.iter(f"{SVG}g", "g") if "row" in (g.get("class") or "").split()]


def texts(g: etree._Element) -> list[str]:
    return [" ".join("".join(t.itertext()).split()) for t in g.iter(f"{SVG}text", "text")]


def test_page_parses_and_is_self_contained() -> None:
    html, _ = page(intranet())
    doc = lxml.html.document_fromstring(html)
    assert doc.xpath("//title")[0].text.startswith("discovery-intranet: PASS")
    assert len(doc.xpath("//*[local-name()='svg']")) == 1
    assert not doc.xpath("//script|//link|//img|//iframe")
    for el in doc.iter():  # nothing fetched from elsewhere
        for attr in ("src", "href"):
            v = el.get(attr)
            if v is not None and attr == "href":
                assert not v.startswith(("http:", "https:", "//")), v
            assert attr != "src" or v is None
    # the SVG is valid XML on its own (opens outside the page too)
    svg_text = html[html.index("<svg"):html.index("</svg>") + 6]
    etree.fromstring(svg_text.encode())


def test_one_arrow_per_message_with_step_labels() -> None:
    r = intranet()
    html, obs = page(r)
    doc = lxml.html.document_fromstring(html)
    arrows = [g for g in rows_of(doc) if "row-arrow" in g.get("class", "")]
    # every message in the run is one arrow, however many nodes recorded it
    # + an arrow for each step proven by no message: 8 (session released), 10
    assert len(arrows) == len(obs.messages) + 2
    informs = [g for g in arrows if any(t.endswith("Inform") for t in texts(g))]
    assert len(informs) == 2  # the Inform to HMS initial and to HMS serving, once each
    labels = " | ".join(t for g in arrows for t in texts(g))
    for tag in ("5.1.1/2.1 DNSQuery", "5.1.1/2.3 IKE_AUTH", "5.1.1/6 SetParameterValues",
                "5.2.1/5.3 SetParameterValues", "5.2.1/7 HNBRegisterRequest"):
        assert tag in labels, tag
    lanes = [t for t in doc.xpath("//*[local-name()='text'][@class='lanename']/text()")]
    assert lanes[:3] == ["HNB", "DNS outer", "SeGW initial"] and "HNB-GW" in lanes
    assert "File server" not in lanes  # bound but unused: no empty lane
    times = doc.xpath("//*[local-name()='text'][@class='time']/text()")
    assert times[0] == "+0.010 s" and all(t.startswith("+") for t in times)


def test_missing_step_is_drawn_red_where_expected() -> None:
    r = intranet(drop=("hnb1/cwmp.tx/SetParameterValuesResponse",
                       "hms-initial/cwmp.rx/SetParameterValuesResponse"))
    html, _ = page(r)
    doc = lxml.html.document_fromstring(html)
    assert doc.xpath("//title")[0].text.endswith("FAIL")
    rows = rows_of(doc)
    missing = [g for g in rows if "row-missing" in g.get("class", "")]
    assert len(missing) == 1 and "row-bad" in missing[0].get("class", "")
    assert any("5.1.1/7 SetParameterValuesResponse" in t for t in texts(missing[0]))
    # right after the SetParameterValues of step 6
    i = rows.index(missing[0])
    assert any("5.1.1/6 SetParameterValues" in t for t in texts(rows[i - 1]))
    tr = doc.xpath("//tr[@class='missing']")
    assert len(tr) == 1 and tr[0].xpath("td")[0].text == "7"


def test_merged_lanes_and_unexpected_events() -> None:
    r = same_hms()
    cols, _ = build_rows(Observation(r.events, r.topo),
                         [match(FLOWS["5.1.1"], suggest_binding(r.topo), r.events, r.topo,
                                start=r.events[0].time)], r.events[0].time)
    labels = [c.label for c in cols]
    assert "SeGW initial+serving" in labels and "HMS initial+serving" in labels
    html, _ = page(intranet(auth_fail=True), ("5.1.1",))
    doc = lxml.html.document_fromstring(html)
    items = doc.xpath("//ul[@class='unexpected']/li")
    assert any("IKEv2 authentication failed" in "".join(li.itertext()) for li in items)
    bad_notes = [g for g in rows_of(doc) if "row-bad" in g.get("class", "")]
    assert any("IKE authentication failed" in " ".join(texts(g)) for g in bad_notes)


def test_hostile_text_is_escaped() -> None:
    r = intranet()
    ev = r.events[5]
    r.events[5] = type(ev)(ev.time, ev.node, ev.kind, ev.peer,
                           '<script>alert(1)</script>\x00"&', ev.fields)
    html, _ = page(r)
    assert "<script>" not in html
    lxml.html.document_fromstring(html)


def test_hms_request_no_step_claims_is_listed_not_drawn_as_an_error() -> None:
    from tests.unit.test_flows_fixtures import operator_spv

    r = operator_spv(also=("Download",))
    start = max(e.time for e in r.events if e.kind == "hnbap.rx") + 1.0
    obs = Observation(r.events, r.topo)
    res = match(FLOWS["5.3.2"], suggest_binding(r.topo), obs, start=start)
    doc = lxml.html.document_fromstring(render_page("cm-spv", obs, [res], start=start))
    items = ["".join(li.itertext()) for li in doc.xpath("//ul[@class='unexpected']/li")]
    assert len(items) == 1 and "(informational)" in items[0] and "Download" in items[0]
    download = [g for g in rows_of(doc) if any(t.endswith("Download") for t in texts(g))]
    assert len(download) == 1 and "row-plain" in download[0].get("class", "")
    assert doc.xpath("//title")[0].text.endswith("PASS")


def test_negative_page_marks_the_expected_failure() -> None:
    from lab.flows.matcher import check_expect
    from lab.flows.model import Expect
    from tests.unit.test_flows_fixtures import hnb_not_accepted

    r = hnb_not_accepted()
    obs = Observation(r.events, r.topo)
    t0 = r.events[0].time
    res = [match(FLOWS["5.1.1"], suggest_binding(r.topo), obs, start=t0)]
    exp = check_expect(res, Expect.parse("5.1.1/2.3: ike.auth_failed"))
    doc = lxml.html.document_fromstring(render_page("hnb-not-accepted", obs, res, start=t0,
                                                    expectation=exp))
    assert doc.xpath("//title")[0].text == "hnb-not-accepted: PASS"
    assert "expected failure seen at 5.1.1 step 2.3" in doc.xpath(
        "//div[contains(@class,'expect')]")[0].text_content()
    (row,) = doc.xpath("//tr[@class='expected']")
    assert row.xpath("td")[0].text == "2.3"
    # the failure itself is still drawn as what went wrong
    assert any("IKE authentication failed" in " ".join(texts(g)) for g in rows_of(doc)
               if "row-bad" in g.get("class", ""))
    # the same run without its expectation is a failing page
    plain = lxml.html.document_fromstring(render_page("hnb-not-accepted", obs, res, start=t0))
    assert plain.xpath("//title")[0].text.endswith("FAIL")
