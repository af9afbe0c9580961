"""What the HMS decides to do with a device, as tasks on its queue (the procedures of
TS 32.583), and what a finished task changes in the device record.

Task purposes (the `purpose` column; the operator's own tasks are "operator"):
  assign         5.1 step 6: SPV of serving SeGW, serving HMS URL, optionally HNB-GW
  provision      5.2.1 step 5.3 (SPV) or 5.3-bis (Download of a CM file); done -> registered
  alarm-read     5.5.1 preparation: GPV of Device.FaultMgmt.SupportedAlarm. (when the
                 Informs did not carry the table)
  alarm-config   5.5.1: SPV of SupportedAlarm.{i}.ReportingMechanism
  pm-add         5.6.1 preparation: AddObject Device.FAP.PerfMgmt.Config. (when the device
                 has no instance the HMS knows of)
  pm-config      5.6.1: SPV of Device.FAP.PerfMgmt.Config.{i}.*
  deprovision    5.4: FactoryReset or SPV reset; done -> deprovisioned, refused until allowed
"""

from __future__ import annotations

import re
from typing import Any

from lab.cwmp import rpc
from lab.nodes.hms import alarms as A
from lab.nodes.hms import params as P
from lab.nodes.hms import tasks as T
from lab.nodes.hms.context import HmsContext
from lab.nodes.hms.fileserver import FileArea
from lab.nodes.hms.settings import PolicyRule
from lab.nodes.hms.store import Device, Task


def _spv_args(pvs: list[rpc.ParameterValue]) -> dict[str, Any]:
    return {"parameters": [{"name": p.name, "value": p.value, "type": p.type} for p in pvs],
            "parameter_key": ""}


def queue(ctx: HmsContext, dev: Device, kind: str, args: dict[str, Any],
          purpose: str) -> Task:
    task = ctx.store.add_task(dev.id, kind, T.normalize(kind, args), purpose)
    ctx.emit("hms.task.queued", f"task {task.id} {kind} ({purpose})", device=dev.id,
             task=task.id, task_kind=kind, purpose=purpose)
    return task


def assignment(ctx: HmsContext, dev: Device, rule: PolicyRule) -> Task | None:
    """5.1 step 6. Not when one is already waiting, nor when the device already holds
    these values (known from an earlier assignment; a BOOTSTRAP forgets them)."""
    if "assign" in ctx.store.pending_purposes(dev.id):
        return None
    pvs = [P.param_value(P.SECGW_SERVER1, rule.serving_segw),
           P.param_value(P.MGMT_URL, rule.serving_hms_url)]
    if rule.hnbgw:
        pvs.append(P.param_value(P.FAPGW_SERVER1, rule.hnbgw))
        if rule.hnbgw_port:
            pvs.append(P.param_value(P.FAPGW_PORT, rule.hnbgw_port))
    if all(dev.params.get(p.name) == p.value for p in pvs):
        return None
    return queue(ctx, dev, "SPV", _spv_args(pvs), "assign")


def provisioning_values(ctx: HmsContext) -> list[rpc.ParameterValue]:
    s = ctx.settings
    pvs = list(s.provisioning)
    if s.hnbgw:
        pvs.append(P.param_value(P.FAPGW_SERVER1, s.hnbgw))
        if s.hnbgw_port:
            pvs.append(P.param_value(P.FAPGW_PORT, s.hnbgw_port))
    if s.ipsec is not None:
        pvs.append(P.param_value(s.ipsec_param, s.ipsec))
    if s.cr_username:
        pvs.append(P.param_value(P.CR_USERNAME, s.cr_username))
        pvs.append(P.param_value(P.CR_PASSWORD, s.cr_password))
    # Later entries win: the operator's explicit params override the derived ones.
    return list({p.name: p for p in pvs}.values())


def registration(ctx: HmsContext, dev: Device, area: FileArea) -> list[Task]:
    """5.2.1 step 5.3 / 5.3-bis, then alarm reporting (5.5.1) and PM upload (5.6.1)
    configuration. Skips what is already waiting on the queue."""
    s, pending, out = ctx.settings, ctx.store.pending_purposes(dev.id), []
    if "provision" not in pending:
        pvs = provisioning_values(ctx)
        if not pvs:
            registered(ctx, dev, "no provisioning parameters configured")
        elif s.cm_mode == "spv":
            out.append(queue(ctx, dev, "SPV", _spv_args(pvs), "provision"))
        else:
            out.append(_cm_download(ctx, dev, area, pvs))
    if s.alarm_reporting and not pending & {"alarm-read", "alarm-config"}:
        plan = A.reporting_plan(s.alarm_reporting, A.supported_alarms(dev.params))
        if plan:
            out.append(queue(ctx, dev, "SPV", {"parameters": plan}, "alarm-config"))
        else:
            out.append(queue(ctx, dev, "GPV", {"names": [P.SUPPORTED_ALARM]}, "alarm-read"))
    if s.pm_upload is not None and not pending & {"pm-add", "pm-config"}:
        n = _pm_instance(dev.params)
        if n is not None:
            out.append(queue(ctx, dev, "SPV", {"parameters": pm_values(ctx, n)}, "pm-config"))
        else:
            out.append(queue(ctx, dev, "AddObject", {"object_name": P.PM_TABLE}, "pm-add"))
    return out


_PM_INSTANCE = re.compile(re.escape(P.PM_TABLE) + r"(\d+)\.")


def _pm_instance(snapshot: dict[str, str]) -> int | None:
    found = {int(m.group(1)) for k in snapshot if (m := _PM_INSTANCE.match(k))}
    return min(found) if found else None


def pm_values(ctx: HmsContext, n: int) -> dict[str, Any]:
    pm, files = ctx.settings.pm_upload or {}, ctx.settings.files
    c = f"{P.PM_TABLE}{n}"
    vals: dict[str, Any] = {
        f"{c}.Enable": pm.get("enable", True),
        f"{c}.URL": pm.get("url") or ctx.pm_url("http"),
        f"{c}.Username": pm.get("username", files.user),
        f"{c}.Password": pm.get("password", files.password),
        f"{c}.PeriodicUploadInterval": pm.get("interval", 900),
    }
    if pm.get("time"):
        vals[f"{c}.PeriodicUploadTime"] = pm["time"]
    return vals


def _cm_download(ctx: HmsContext, dev: Device, area: FileArea,
                 pvs: list[rpc.ParameterValue]) -> Task:
    from lab.datamodel.cmfile import write_cm_file  # the HNB's CM file format

    values = {p.name: p.value for p in pvs}
    data = write_cm_file(values, vendor_name="hnblab-hms", local_dn=f"HNB-{dev.id}",
                         oui=dev.oui, product_class=dev.product_class or None)
    n = len([f for f in ctx.store.list_files("cm") if f.device == dev.id]) + 1
    rec = area.add_cm(f"cm-{dev.id}-{n}.xml", data, transport="generated", device=dev.id)
    files = ctx.settings.files
    return queue(ctx, dev, "Download", {
        "url": ctx.cm_url(rec.name), "file_type": "3 Vendor Configuration File",
        "username": files.user, "password": files.password, "file_size": rec.size,
        "target_file_name": rec.name}, "provision")


def deprovisioning(ctx: HmsContext, dev: Device, method: str,
                   params: list[rpc.ParameterValue] | None = None) -> Task:
    """5.4: FactoryReset, or SPV of `params` (default: settings.deprovision.params)."""
    if method == "factory-reset":
        return queue(ctx, dev, "FactoryReset", {}, "deprovision")
    pvs = params or ctx.settings.deprovision_params
    if not pvs:
        raise T.TaskError("method", "spv de-provisioning needs settings.deprovision.params "
                                    "(the operator's parameter set to reset)")
    return queue(ctx, dev, "SPV", _spv_args(pvs), "deprovision")


def registered(ctx: HmsContext, dev: Device, why: str) -> None:
    ctx.store.update_device(dev.id, state="registered")
    ctx.emit("hms.registered", f"{dev.id} registered ({why})", device=dev.id, reason=why)


def after(ctx: HmsContext, task: Task, ok: bool, result: dict[str, Any]) -> None:
    """What a finished task changes (runs after the store recorded the result)."""
    dev = ctx.store.get_device(task.device)
    if dev is None:
        return
    p = task.purpose
    if p == "assign" and ok:
        values = {a["name"]: a["value"] for a in task.args["parameters"]}
        assigned = {"serving_segw": values.get(P.SECGW_SERVER1),
                    "serving_hms_url": values.get(P.MGMT_URL),
                    "hnbgw": values.get(P.FAPGW_SERVER1)}
        ctx.store.update_device(dev.id, assigned=assigned)
        ctx.emit("hms.assigned", f"{dev.id}: SeGW {assigned['serving_segw']}, HMS "
                 f"{assigned['serving_hms_url']}, HNB-GW {assigned['hnbgw'] or '(serving HMS)'}",
                 device=dev.id, **assigned)
    elif p == "provision":
        if ok:
            if task.kind == "SPV":
                _remember_cr(ctx, dev, task)
            registered(ctx, dev, f"provisioned by {task.kind}")
        else:
            ctx.emit("hms.provision_failed", f"{dev.id}: provisioning by {task.kind} failed: "
                     f"{result.get('fault')} {result.get('fault_string', '')}".rstrip(),
                     device=dev.id, task=task.id, **result)
    elif p == "alarm-read" and ok:
        supported = A.supported_alarms(result.get("parameters", {}))
        plan = A.reporting_plan(ctx.settings.alarm_reporting, supported)
        if plan:
            queue(ctx, dev, "SPV", {"parameters": plan}, "alarm-config")
        else:
            ctx.emit("hms.alarm_config", f"{dev.id}: no SupportedAlarm entry matches the "
                     "alarm_reporting rules; nothing to configure", device=dev.id)
    elif p == "alarm-config" and ok:
        ctx.emit("hms.alarm_config", f"{dev.id}: reporting mechanism set for "
                 f"{len(task.args['parameters'])} alarm(s)", device=dev.id,
                 parameters={a["name"]: a["value"] for a in task.args["parameters"]})
    elif p == "pm-add" and ok:
        queue(ctx, dev, "SPV", {"parameters": pm_values(ctx, int(result["instance_number"]))},
              "pm-config")
    elif p == "pm-config" and ok:
        ctx.emit("hms.pm_config", f"{dev.id}: PM upload configured", device=dev.id,
                 parameters={a["name"]: ("***" if a["name"].endswith("Password") else a["value"])
                             for a in task.args["parameters"]})
    elif p == "deprovision" and ok:
        ctx.store.update_device(dev.id, state="deprovisioned", allowed=False)
        ctx.emit("hms.deprovisioned", f"{dev.id} de-provisioned by {task.kind}; refused until "
                 "the operator allows it", device=dev.id, method=task.kind)
    if ok and task.kind == "SPV" and p != "provision":
        _remember_cr(ctx, dev, task)


def _remember_cr(ctx: HmsContext, dev: Device, task: Task) -> None:
    values = {a["name"]: a["value"] for a in task.args["parameters"]}
    if P.CR_USERNAME in values:
        ctx.store.update_device(dev.id, cr_username=values[P.CR_USERNAME],
                                cr_password=values.get(P.CR_PASSWORD, ""))
