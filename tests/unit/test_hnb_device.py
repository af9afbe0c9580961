"""The HNB as a device: FactoryReset, Reboot, a new HMS URL, state that survives a restart."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

from lab.cwmp import rpc
from lab.evidence.events import EventLog
from lab.nodes.hnb.device import Hnb
from lab.pki import Pki
from tests.unit.test_hnb_session import MS, WAIT, running_hnb, scripted_acs

INTERVAL = MS + "PeriodicInformInterval"


def _spv(name: str, value: str, key: str = "") -> rpc.SetParameterValues:
    return rpc.SetParameterValues([rpc.ParameterValue(name, value)], parameter_key=key)


async def test_factory_reset_only_after_session_then_bootstrap(tmp_path: Path) -> None:
    async with scripted_acs() as acs:
        acs.plan(_spv(INTERVAL, "777", "before-reset"), rpc.FactoryReset(),
                 rpc.GetParameterValues([INTERVAL]))
        async with running_hnb(tmp_path, acs.url) as hnb:
            s0 = await acs.wait_done(0)
            rec = await asyncio.wait_for(hnb.wait_session(["0 BOOTSTRAP"], after=1), WAIT)
            s1 = acs.sessions[1]
            assert hnb.get(INTERVAL) == "3600"  # back to factory
            assert hnb.get(MS + "ParameterKey") == ""
            assert hnb.get(MS + "URL") == acs.url  # the factory setting, kept
            # the connection-request URL is published again after the reset
            assert hnb.get(MS + "ConnectionRequestURL") == hnb.connection_request_url
            saved = (tmp_path / "hnb" / "model.json").read_text()
    # within the session the reset had not happened yet
    assert isinstance(s0.received[2], rpc.FactoryResetResponse)
    assert s0.received[3].parameters[0].value == "777"
    assert s1.inform.event_codes() == ["0 BOOTSTRAP", "1 BOOT"]
    assert rec.ok
    assert '"before-reset"' not in saved  # the reset model was persisted


async def test_reboot_after_session_with_boot_and_m_reboot(tmp_path: Path) -> None:
    async with scripted_acs() as acs:
        acs.plan(_spv(INTERVAL, "778"), rpc.Reboot("rb-7"))
        async with running_hnb(tmp_path, acs.url) as hnb:
            await acs.wait_done(0)
            await asyncio.wait_for(hnb.wait_session(["M Reboot"]), WAIT)
            s1 = acs.sessions[1]
            assert hnb.get(INTERVAL) == "778"  # a reboot keeps the configuration
    assert s1.inform.event_codes() == ["1 BOOT", "M Reboot"]
    assert [e.command_key for e in s1.inform.events if e.code == "M Reboot"] == ["rb-7"]


async def test_new_url_next_session_to_serving_hms_with_bootstrap(tmp_path: Path) -> None:
    calls: list[tuple[str, str]] = []

    async def on_url_changed(old: str, new: str) -> None:
        calls.append((old, new))

    async with scripted_acs() as initial, scripted_acs() as serving:
        # 5.1: the initial HMS sets the serving HMS (and SeGW) and releases the session
        initial.plan(rpc.SetParameterValues([
            rpc.ParameterValue(MS + "URL", serving.url),
            rpc.ParameterValue("Device.Services.FAPService.1.FAPControl.UMTS.Gateway."
                               "SecGWServer1", "segw-serving.lab")], parameter_key="disc"))
        async with running_hnb(tmp_path, initial.url, on_url_changed=on_url_changed) as hnb:
            await initial.wait_done(0)
            s = await serving.wait_done(0)
            rec = await asyncio.wait_for(hnb.wait_session([], after=1), WAIT)
    assert calls == [(initial.url, serving.url)]
    assert s.inform.event_codes() == ["0 BOOTSTRAP"]
    assert rec.url == serving.url
    assert len(initial.sessions) == 1


async def test_state_survives_a_restart(tmp_path: Path) -> None:
    async with scripted_acs() as acs:
        acs.plan(_spv(INTERVAL, "779", "k9"))
        async with running_hnb(tmp_path, acs.url) as hnb:
            await asyncio.wait_for(hnb.wait_session(["0 BOOTSTRAP"]), WAIT)
            assert hnb.first_boot
        async with running_hnb(tmp_path, acs.url) as again:
            rec = await asyncio.wait_for(again.wait_session(["1 BOOT"]), WAIT)
            assert not again.first_boot
            assert again.get(INTERVAL) == "779" and again.get(MS + "ParameterKey") == "k9"
    assert rec.events == ["1 BOOT"]  # no BOOTSTRAP: this HMS already had it


async def test_undelivered_events_survive_a_restart(tmp_path: Path) -> None:
    # the HMS cannot be reached: BOOTSTRAP/BOOT stay queued across a power cycle
    async with running_hnb(tmp_path, "http://127.0.0.1:9/acs", time_scale=1.0) as hnb:
        await asyncio.wait_for(hnb.wait_session(ok=False), WAIT)
    async with scripted_acs() as acs:
        hnb2 = Hnb(EventLog("hnb"), tmp_path / "hnb", time_scale=0.001,
                   connreq_host="127.0.0.1")
        hnb2.model.set_internal(MS + "URL", acs.url)  # e.g. fixed by a local technician
        await hnb2.start()
        try:
            s = await acs.wait_done(0)
        finally:
            await hnb2.stop()
    assert s.inform.event_codes() == ["0 BOOTSTRAP", "1 BOOT"]


async def test_device_reboot_and_status(tmp_path: Path) -> None:
    async with scripted_acs() as acs, running_hnb(tmp_path, acs.url) as hnb:
        await asyncio.wait_for(hnb.wait_session(["0 BOOTSTRAP"]), WAIT)
        n = len(hnb.sessions)
        await hnb.reboot()
        rec = await asyncio.wait_for(hnb.wait_session(["1 BOOT"], after=n), WAIT)
        st = hnb.status()
    assert rec.events == ["1 BOOT"]
    assert st["serial"] == "HNB0001" and st["sessions"] == n + 1
    assert st["last_session"]["ok"] is True


async def test_inner_ipsec_address_change_is_reported_at_once(tmp_path: Path) -> None:
    """5.2.2: a new inner IPsec address goes to the HMS in an Inform "as soon as
    possible" (LocalAddress and ConnectionRequestURL are active-notify)."""
    sa = "Device.IPsec.IKEv2SA.1.LocalAddress"
    async with scripted_acs() as acs, running_hnb(tmp_path, acs.url) as hnb:
        await asyncio.wait_for(hnb.wait_session(["0 BOOTSTRAP"]), WAIT)
        n = len(hnb.sessions)
        hnb.set_internal(sa, "10.20.0.7")
        hnb.set_connection_request_host("10.20.0.7")
        rec = await asyncio.wait_for(hnb.wait_session(["4 VALUE CHANGE"], after=n), WAIT)
        # both changes may land in one session or two: collect what the HMS was told
        told = {p.name: p.value for s in acs.sessions[1:] for p in s.inform.parameters}
    assert rec.events == ["4 VALUE CHANGE"]
    assert told[sa] == "10.20.0.7"
    assert told[MS + "ConnectionRequestURL"].startswith("http://10.20.0.7:")
    assert rec.inform is not None and rec.inform.device_id.serial_number == "HNB0001"


def _tls_contexts(tmp_path: Path, **server_kw: object) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    pki = Pki.create(tmp_path / "pki", "unit")
    leaf = pki.issue_server("hms", ["localhost"], **server_kw)  # type: ignore[arg-type]
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(leaf.cert, leaf.key)
    client = ssl.create_default_context(cafile=str(pki.ca_path))  # the operator root CA
    return server, client


async def test_tls_to_hms_checks_certificate_and_name(tmp_path: Path) -> None:
    """5.1.2: HMS over TLS, validated against the operator root CA and the URL's host."""
    server, client = _tls_contexts(tmp_path)
    async with scripted_acs(server, host="localhost") as acs, \
            running_hnb(tmp_path, acs.url, ssl=client) as hnb:
        rec = await asyncio.wait_for(hnb.wait_session(["0 BOOTSTRAP"]), WAIT)
    assert rec.url.startswith("https://localhost:")


async def test_tls_wrong_name_fails_the_session(tmp_path: Path) -> None:
    server, client = _tls_contexts(tmp_path, wrong_name="other.example")
    async with scripted_acs(server, host="localhost") as acs, \
            running_hnb(tmp_path, acs.url, ssl=client) as hnb:
        rec = await asyncio.wait_for(hnb.wait_session(ok=False), WAIT)
        assert acs.sessions == []  # never got as far as an Inform
    assert "certificate" in rec.error.lower() or "hostname" in rec.error.lower()
