"""The operator REST API: token auth, clear JSON errors, tasks, files."""

from __future__ import annotations

import aiohttp
import pytest

from lab.nodes.hms.server import HmsHandle
from tests.unit import test_hms_support
from tests.unit.test_hms_support import TOKEN, Cpe, kinds

hms_factory = test_hms_support.hms_factory  # the fixture, shared
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def hms(hms_factory) -> HmsHandle:
    h = await hms_factory()
    async with Cpe(h.urls["cwmp"]) as cpe:
        await cpe.session(["1 BOOT"], {"Device.IPsec.IKEv2SA.1.LocalAddress": "10.20.0.7"})
    return h


async def test_token_required(hms: HmsHandle) -> None:
    async with aiohttp.ClientSession() as s:
        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": TOKEN}):
            async with s.get(f"{hms.urls['api']}/devices", headers=headers) as r:
                assert r.status == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
                assert "Bearer token" in (await r.json())["error"]
    assert len(kinds(hms, "hms.api.denied")) == 3


async def test_devices_and_unknown_device(hms: HmsHandle) -> None:
    api = hms.urls["api"]
    async with aiohttp.ClientSession(headers=AUTH) as s:
        async with s.get(f"{api}/devices") as r:
            (dev,) = await r.json()
        assert dev["id"] == "00005A-SER0001" and dev["inner_ip"] == "10.20.0.7"
        assert "params" not in dev and "cr_password" not in dev
        async with s.get(f"{api}/devices/00005A-SER0001") as r:
            assert (await r.json())["params"]["Device.IPsec.IKEv2SA.1.LocalAddress"] == \
                "10.20.0.7"
        for method, path in (("GET", ""), ("POST", "/tasks"), ("POST", "/allow"),
                             ("POST", "/deprovision"), ("POST", "/connection-request")):
            async with s.request(method, f"{api}/devices/NOPE-1{path}", json={"kind": "GPV"}) as r:
                assert r.status == 404
                assert (await r.json())["error"] == "unknown device 'NOPE-1'"
        async with s.get(f"{api}/nothing-here") as r:
            assert r.status == 404 and "error" in await r.json()


@pytest.mark.parametrize(("body", "field", "words"), [
    ({"args": {}}, "kind", "kind is required"),
    ({"kind": "Explode"}, "kind", "not one of"),
    ({"kind": "GPV", "args": {"names": []}}, "args.names", "non-empty list"),
    ({"kind": "GPV", "args": {"names": ["a"], "depth": 2}}, "args.depth", "not an argument"),
    ({"kind": "SPV", "args": {"parameters": {"Device.X.Port": "abc"}}}, "args.parameters",
     None),
    ({"kind": "SPV", "args": {"parameters": {"Device.IPsec.Enable": "maybe"}}},
     "args.parameters", "not a boolean"),
    ({"kind": "Download", "args": {"url": "gopher://x/y"}}, "args.url", "URL"),
    ({"kind": "Download", "args": {"cm_file": "missing.xml"}}, "args.cm_file", "no CM file"),
    ({"kind": "AddObject", "args": {"object_name": "Device.X"}}, "args.object_name", "'.'"),
    ({"kind": "GPV", "bogus": 1}, "bogus", "unknown field"),
])
async def test_bad_task_names_the_field(hms: HmsHandle, body: dict, field: str,
                                        words: str | None) -> None:
    async with aiohttp.ClientSession(headers=AUTH) as s, s.post(
            f"{hms.urls['api']}/devices/00005A-SER0001/tasks", json=body) as r:
        err = await r.json()
    if words is None:  # a string for an untyped path is fine: it is sent as xsd:string
        assert r.status == 201
        return
    assert r.status == 400 and err["field"] == field and words in err["error"], err


async def test_bad_json_body(hms: HmsHandle) -> None:
    async with aiohttp.ClientSession(headers=AUTH) as s:
        async with s.post(f"{hms.urls['api']}/devices/00005A-SER0001/tasks",
                          data=b"{not json") as r:
            assert r.status == 400 and (await r.json())["field"] == "body"
        async with s.post(f"{hms.urls['api']}/devices/00005A-SER0001/deprovision",
                          json={"method": "explode"}) as r:
            assert r.status == 400 and (await r.json())["field"] == "method"
        async with s.post(f"{hms.urls['api']}/devices/00005A-SER0001/deprovision",
                          json={"method": "spv"}) as r:  # no reset parameter set configured
            assert r.status == 400 and "settings.deprovision.params" in (await r.json())["error"]
        async with s.post(f"{hms.urls['api']}/devices/00005A-SER0001/deprovision",
                          json={"method": "spv", "params": {"Device.IPsec.Enable": "x"}}) as r:
            assert r.status == 400 and (await r.json())["field"] == "params"
        async with s.post(f"{hms.urls['api']}/devices/00005A-SER0001/deprovision",
                          json={"method": "spv", "params": {"Device.IPsec.Enable": False}}) as r:
            assert r.status == 202
            assert (await r.json())["task"]["args"]["parameters"][0]["value"] == "false"
        async with s.get(f"{hms.urls['api']}/alarms", params={"view": "future"}) as r:
            assert r.status == 400 and (await r.json())["field"] == "view"


async def test_cm_upload_then_download_task(hms: HmsHandle) -> None:
    api = hms.urls["api"]
    async with aiohttp.ClientSession(headers=AUTH) as s:
        async with s.post(f"{api}/files/cm", params={"name": "site-7.xml"},
                          data=b"<configDataFile/>") as r:
            assert r.status == 201
            cm = await r.json()
        assert cm["url"] == f"{hms.urls['files_http']}/cm/site-7.xml"
        async with s.post(f"{api}/files/cm", json={"name": "../x.xml", "content": "a"}) as r:
            assert r.status == 400 and (await r.json())["field"] == "name"
        async with s.post(f"{api}/devices/00005A-SER0001/tasks",
                          json={"kind": "Download", "args": {"cm_file": "site-7.xml"}}) as r:
            task = (await r.json())["task"]
        assert task["args"]["url"] == cm["url"] and task["args"]["password"] == "***"
        assert task["args"]["file_size"] == len(b"<configDataFile/>")
        async with s.post(f"{api}/devices/00005A-SER0001/tasks", json={"kind": "Upload"}) as r:
            up = (await r.json())["task"]
        assert up["args"]["url"] == f"{hms.urls['files_http']}/pm/"
        assert up["args"]["file_type"] == "2 Vendor Log File"
        async with s.get(f"{api}/files", params={"kind": "cm"}) as r:
            assert [f["name"] for f in await r.json()] == ["site-7.xml"]
        async with s.get(f"{api}/devices/00005A-SER0001/tasks",
                         params={"state": "queued"}) as r:
            assert [t["kind"] for t in await r.json()] == ["Download", "Upload"]
    # the CPE then gets them in its next session, validated against the schema
    async with Cpe(hms.urls["cwmp"]) as cpe:
        reqs = await cpe.session(["2 PERIODIC"])
    assert [type(q).__name__ for q in reqs] == ["Download", "Upload"]
    assert reqs[0].password == "files-pw"


async def test_audit_log(hms: HmsHandle) -> None:
    async with aiohttp.ClientSession(headers=AUTH) as s, s.get(
            f"{hms.urls['api']}/audit", params={"device": "00005A-SER0001",
                                                "kind": "hms.inner_ip"}) as r:
        (ev,) = await r.json()
    assert ev["fields"]["new"] == "10.20.0.7"
