"""The HNB's management plane as one device: data model + CWMP client + connection-request
server + PM uploader + alarms, with its state kept in a directory so it survives a reboot.

State directory:
  model.json        the data model (saved after every session, transfer and reboot)
  cwmp_state.json   undelivered events, TransferComplete results, where BOOTSTRAP went
  pm_backlog/       PM files not yet uploaded
A first start (no model.json) builds the factory model from `factory` (serial number,
initial ManagementServer.URL, ...): BOOTSTRAP follows because no URL was bootstrapped yet.

The network side (another module) passes an ssl context for the HMS, an aiohttp resolver
if names go through its own DNS, the address to advertise for connection requests, and
an `on_url_changed(old, new)` hook to bring up what the new HMS needs before the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl as ssl_mod
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import aiohttp.abc

from lab.cwmp import envelope
from lab.datamodel import DataModel
from lab.evidence.events import EventLog
from lab.nodes.hnb import transfers
from lab.nodes.hnb.alarms import AlarmManager, AlarmReport
from lab.nodes.hnb.connreq import ConnReqServer
from lab.nodes.hnb.cwmp_client import BOOT, CwmpClient, Hook, SessionRecord, call_hook
from lab.nodes.hnb.pm import PmUploader

MODEL_FILE = "model.json"


class Hnb:
    def __init__(
        self,
        events: EventLog,
        state_dir: Path | str,
        *,
        factory: Mapping[str, str] | None = None,
        ssl: ssl_mod.SSLContext | None = None,
        ns: str = envelope.NS_1_1,
        time_scale: float = 1.0,
        http_timeout: float = 30.0,
        connreq_host: str = "0.0.0.0",
        connreq_port: int = 0,
        connreq_path: str | None = None,
        advertise_host: str | None = None,
        transfer_options: transfers.TransferOptions | None = None,
        resolver: aiohttp.abc.AbstractResolver | None = None,
        on_url_changed: Hook | None = None,
        on_reboot: Hook | None = None,
    ) -> None:
        self.events = events
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.model_path = self.state_dir / MODEL_FILE
        if self.model_path.exists():
            self.model = DataModel.load(self.model_path)
            self.first_boot = False
        else:
            self.model = DataModel.factory(dict(factory or {}))
            self.model.save(self.model_path)
            self.first_boot = True
        self._booted_at = time.monotonic()
        self.model.bind("Device.DeviceInfo.UpTime",
                        lambda: str(int(time.monotonic() - self._booted_at)))
        opts = transfer_options or transfers.TransferOptions(ssl=ssl, resolver=resolver)
        self._on_reboot_hook = on_reboot
        self.client = CwmpClient(
            self.model, events, state_dir=self.state_dir, ssl=ssl, ns=ns,
            time_scale=time_scale, http_timeout=http_timeout, transfer_options=opts,
            on_url_changed=on_url_changed, on_reboot=self._on_reboot,
            on_session_done=self._on_session_done, log_file=events.path, resolver=resolver)
        self.connreq = ConnReqServer(self.model, self._on_connection_request, events,
                                     host=connreq_host, port=connreq_port, path=connreq_path,
                                     advertise_host=advertise_host)
        did = self.model.device_id()
        self.pm = PmUploader(
            self.model,
            lambda url, data, user, pw: transfers.upload(url, data, user, pw, options=opts),
            self.state_dir / "pm_backlog", events, sender=f"HNB-{did.oui}-{did.serial_number}",
            vendor=did.manufacturer or "hnblab", time_scale=time_scale)
        self.alarms = AlarmManager(self.model, events)
        self._run_task: asyncio.Task[None] | None = None

    # ---- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        await self.connreq.start()
        self._booting_done()
        self.pm.start()
        self.client.boot()
        self._run_task = asyncio.create_task(self.client.run(), name="cwmp-client")
        self.events.emit("hnb.start", f"HNB {self.serial} started "
                         f"({'first boot' if self.first_boot else 'boot'}), HMS {self.url}",
                         first_boot=self.first_boot, url=self.url)

    async def stop(self) -> None:
        await self.client.stop()
        if self._run_task:
            with contextlib.suppress(asyncio.CancelledError):
                await self._run_task
            self._run_task = None
        await self.pm.stop()
        await self.connreq.stop()
        self.model.save(self.model_path)

    async def reboot(self) -> None:
        """A reboot the device decides itself (not an RPC): the session in progress is
        dropped, the state saved, and the HNB comes back with "1 BOOT"."""
        self.events.emit("hnb.reboot", "device reboot")
        await self.client.stop()
        if self._run_task:
            with contextlib.suppress(asyncio.CancelledError):
                await self._run_task
        self.model.save(self.model_path)
        await self._on_reboot()
        self.client.queue.add(BOOT)
        self._run_task = asyncio.create_task(self.client.run(), name="cwmp-client")
        self.client.request_session()

    async def _on_reboot(self) -> None:
        # after a FactoryReset the model lost ConnectionRequestURL: publish it again
        self._booted_at = time.monotonic()
        self.connreq.set_advertised_host(self.connreq.advertise_host or self.connreq.host)
        self._booting_done()
        self.pm.reconfigure()
        await call_hook(self._on_reboot_hook)

    def _booting_done(self) -> None:
        # The address found while booting is not a "value change": ConnectionRequestURL is
        # forced-inform, so the BOOT/BOOTSTRAP Inform reports it anyway. Later changes
        # (a new inner IPsec address) notify as usual.
        self.model.clear_notifications(["Device.ManagementServer.ConnectionRequestURL"])

    def _on_connection_request(self) -> None:
        self.client.request_session("6 CONNECTION REQUEST")

    def _on_session_done(self, _rec: SessionRecord) -> None:
        self.pm.reconfigure()  # the HMS may have changed PerfMgmt.Config

    # ---- alarms ------------------------------------------------------------------------------

    def raise_alarm(self, event_type: str, probable_cause: str, specific_problem: str,
                    severity: str, managed_object_instance: str = "",
                    **extra: str) -> AlarmReport:
        return self.alarms.raise_alarm(event_type, probable_cause, specific_problem, severity,
                                       managed_object_instance, **extra)

    def clear_alarm(self, event_type: str, probable_cause: str, specific_problem: str,
                    managed_object_instance: str = "", **extra: str) -> AlarmReport | None:
        return self.alarms.clear_alarm(event_type, probable_cause, specific_problem,
                                       managed_object_instance, **extra)

    # ---- what tests and the node read --------------------------------------------------------

    @property
    def url(self) -> str:
        return self.model.get("Device.ManagementServer.URL")

    @property
    def serial(self) -> str:
        return self.model.get("Device.DeviceInfo.SerialNumber")

    @property
    def connection_request_url(self) -> str:
        return self.connreq.url

    @property
    def sessions(self) -> list[SessionRecord]:
        return self.client.sessions

    def get(self, name: str) -> str:
        return self.model.get(name)

    def set_connection_request_host(self, host: str) -> None:
        """The address the HMS reaches us on changed (e.g. a new inner IPsec address):
        ConnectionRequestURL follows, and its active notification opens a session."""
        self.connreq.set_advertised_host(host)

    def set_internal(self, name: str, value: str) -> bool:
        """A device-made change (e.g. the new inner IPsec address, TS 32.583 5.2.2)."""
        return self.model.set_internal(name, value)

    async def wait_session(self, events: Iterable[str] = (), *, after: int = 0,
                           ok: bool | None = True) -> SessionRecord:
        return await self.client.wait_session(events, after=after, ok=ok)

    def status(self) -> dict[str, Any]:
        return {"serial": self.serial, "url": self.url,
                "connection_request_url": self.connection_request_url,
                "sessions": len(self.sessions),
                "last_session": (None if not self.sessions else
                                 {"events": self.sessions[-1].events,
                                  "ok": self.sessions[-1].ok,
                                  "error": self.sessions[-1].error}),
                "pm_backlog": [p.name for p in self.pm.backlog()],
                "alarms": self.alarms.current()}
