"""Tasks: what the operator (or the HMS's own plans) asks of a device, as the ACS request
it becomes and the result its response gives.

Task arguments (JSON; checked by `normalize`, which names the bad field):
  SPV           {"parameters": {path: value} | {path: {"value", "type"}} | [{name, value, type}],
                 "parameter_key": str}
  GPV, GPA      {"names": [path or partial path "X.", ...]}
  SPA           {"parameters": [{"name", "notification": 0|1|2, "access_list": [...]?}]}
  AddObject     {"object_name": "Device.X.Y.", "parameter_key": str}
  DeleteObject  {"object_name": "Device.X.Y.3.", "parameter_key": str}
  Download      {"url", "file_type"="3 Vendor Configuration File", "username", "password",
                 "file_size", "target_file_name", "delay_seconds"}  (the API also takes
                 {"cm_file": name} and fills in the URL of that CM file)
  Upload        {"url", "file_type"="2 Vendor Log File", "username", "password",
                 "delay_seconds"}  (the API fills in the PM upload URL when url is absent)
  Reboot, FactoryReset  {}
Download, Upload and Reboot carry CommandKey "hms-task-<id>", which TransferComplete echoes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lab.cwmp import rpc
from lab.nodes.hms import params as P
from lab.nodes.hms.store import TASK_KINDS, Task


class TaskError(ValueError):
    """Bad task arguments; `field` names the offending one."""

    def __init__(self, field_: str, message: str) -> None:
        super().__init__(f"{field_}: {message}")
        self.field = field_


_ALLOWED = {
    "SPV": {"parameters", "parameter_key"},
    "GPV": {"names"},
    "GPA": {"names"},
    "SPA": {"parameters"},
    "AddObject": {"object_name", "parameter_key"},
    "DeleteObject": {"object_name", "parameter_key"},
    "Download": {"url", "file_type", "username", "password", "file_size", "target_file_name",
                 "delay_seconds"},
    "Upload": {"url", "file_type", "username", "password", "delay_seconds"},
    "Reboot": set(),
    "FactoryReset": set(),
}

EXPECTED: dict[str, type] = {
    "SPV": rpc.SetParameterValuesResponse, "GPV": rpc.GetParameterValuesResponse,
    "SPA": rpc.SetParameterAttributesResponse, "GPA": rpc.GetParameterAttributesResponse,
    "AddObject": rpc.AddObjectResponse, "DeleteObject": rpc.DeleteObjectResponse,
    "Download": rpc.DownloadResponse, "Upload": rpc.UploadResponse,
    "Reboot": rpc.RebootResponse, "FactoryReset": rpc.FactoryResetResponse,
}


def _str(args: dict[str, Any], key: str, default: str = "", max_len: int = 256) -> str:
    v = args.get(key, default)
    if not isinstance(v, str):
        raise TaskError(f"args.{key}", f"expected a string, got {v!r}")
    if len(v) > max_len:
        raise TaskError(f"args.{key}", f"longer than {max_len} characters")
    return v


def _uint(args: dict[str, Any], key: str) -> int:
    v = args.get(key, 0)
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise TaskError(f"args.{key}", f"expected an integer >= 0, got {v!r}")
    return v


def _names(args: dict[str, Any]) -> list[str]:
    names = args.get("names")
    if (not isinstance(names, list) or not names
            or not all(isinstance(n, str) and n for n in names)):
        raise TaskError("args.names", "expected a non-empty list of parameter paths")
    return names


def normalize(kind: str, args: Any) -> dict[str, Any]:
    """Checked, canonical arguments for a task of `kind`; raises TaskError."""
    if kind not in TASK_KINDS:
        raise TaskError("kind", f"{kind!r} not one of {', '.join(TASK_KINDS)}")
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise TaskError("args", "expected an object")
    unknown = set(args) - _ALLOWED[kind]
    if unknown:
        raise TaskError(f"args.{sorted(unknown)[0]}",
                        f"not an argument of {kind} (allowed: "
                        f"{', '.join(sorted(_ALLOWED[kind])) or 'none'})")
    if kind == "SPV":
        if "parameters" not in args:
            raise TaskError("args.parameters", "required")
        try:
            pvs = P.parameter_list(args["parameters"], "args.parameters")
        except ValueError as exc:
            raise TaskError("args.parameters", str(exc)) from None
        if not pvs:
            raise TaskError("args.parameters", "at least one parameter")
        return {"parameters": [{"name": p.name, "value": p.value, "type": p.type} for p in pvs],
                "parameter_key": _str(args, "parameter_key", max_len=32)}
    if kind in ("GPV", "GPA"):
        return {"names": _names(args)}
    if kind == "SPA":
        items = args.get("parameters")
        if not isinstance(items, list) or not items:
            raise TaskError("args.parameters", "expected a non-empty list")
        out = []
        for i, e in enumerate(items):
            if not isinstance(e, dict) or not isinstance(e.get("name"), str):
                raise TaskError(f"args.parameters[{i}]", "expected {name, notification}")
            n = e.get("notification")
            if n not in (0, 1, 2):
                raise TaskError(f"args.parameters[{i}].notification", "expected 0, 1 or 2")
            acl = e.get("access_list")
            out.append({"name": e["name"], "notification": n,
                        "access_list": acl if isinstance(acl, list) else None})
        return {"parameters": out}
    if kind in ("AddObject", "DeleteObject"):
        name = _str(args, "object_name")
        pattern = r"[A-Za-z_][\w.-]*\." if kind == "AddObject" else r"[A-Za-z_][\w.-]*\.\d+\."
        if not re.fullmatch(pattern, name):
            raise TaskError("args.object_name",
                            "an object path ending in '.'" if kind == "AddObject"
                            else "an object instance path ending in '<n>.'")
        return {"object_name": name, "parameter_key": _str(args, "parameter_key", max_len=32)}
    if kind in ("Download", "Upload"):
        url = _str(args, "url")
        if not re.match(r"(?i)(https?|ftps?|sftp)://[^/]", url):
            raise TaskError("args.url", f"expected an http(s)/ftp(s)/sftp URL, got {url!r}")
        default_type = "3 Vendor Configuration File" if kind == "Download" else "2 Vendor Log File"
        out = {"url": url, "file_type": _str(args, "file_type", default_type, 64),
               "username": _str(args, "username"), "password": _str(args, "password"),
               "delay_seconds": _uint(args, "delay_seconds")}
        if kind == "Download":
            out["file_size"] = _uint(args, "file_size")
            out["target_file_name"] = _str(args, "target_file_name")
        return out
    return {}


def build_request(task: Task) -> Any:
    """The ACS request a task sends."""
    a, k = task.args, task.kind
    if k == "SPV":
        return rpc.SetParameterValues(
            parameters=[rpc.ParameterValue(p["name"], p["value"], p["type"])
                        for p in a["parameters"]],
            parameter_key=a.get("parameter_key") or task.command_key)
    if k == "GPV":
        return rpc.GetParameterValues(names=list(a["names"]))
    if k == "GPA":
        return rpc.GetParameterAttributes(names=list(a["names"]))
    if k == "SPA":
        return rpc.SetParameterAttributes(parameters=[
            rpc.SetParameterAttribute(name=p["name"], notification_change=True,
                                      notification=p["notification"],
                                      access_list_change=p.get("access_list") is not None,
                                      access_list=p.get("access_list") or [])
            for p in a["parameters"]])
    if k == "AddObject":
        return rpc.AddObject(a["object_name"], a.get("parameter_key") or task.command_key)
    if k == "DeleteObject":
        return rpc.DeleteObject(a["object_name"], a.get("parameter_key") or task.command_key)
    if k == "Download":
        return rpc.Download(command_key=task.command_key, file_type=a["file_type"], url=a["url"],
                            username=a.get("username", ""), password=a.get("password", ""),
                            file_size=a.get("file_size", 0),
                            target_file_name=a.get("target_file_name", ""),
                            delay_seconds=a.get("delay_seconds", 0))
    if k == "Upload":
        return rpc.Upload(command_key=task.command_key, file_type=a["file_type"], url=a["url"],
                          username=a.get("username", ""), password=a.get("password", ""),
                          delay_seconds=a.get("delay_seconds", 0))
    if k == "Reboot":
        return rpc.Reboot(command_key=task.command_key)
    if k == "FactoryReset":
        return rpc.FactoryReset()
    raise ValueError(f"task kind {k!r}")


@dataclass
class Outcome:
    ok: bool
    result: dict[str, Any]
    awaiting_transfer: bool = False  # a Download/Upload the CPE will report later
    snapshot: dict[str, str] = field(default_factory=dict)  # values now known on the device


def fault_result(f: rpc.Fault) -> dict[str, Any]:
    return {"fault": f.code, "fault_string": f.string,
            "spv_faults": [{"name": s.name, "code": s.code, "string": s.string}
                           for s in f.spv_faults]}


def interpret(task: Task, body: Any) -> Outcome:
    """What the CPE's answer (the expected response type or a Fault) means for the task."""
    if isinstance(body, rpc.Fault):
        return Outcome(False, fault_result(body))
    name = type(body).__name__
    if isinstance(body, rpc.SetParameterValuesResponse):
        snap = {p["name"]: p["value"] for p in task.args["parameters"]}
        return Outcome(True, {"response": name, "status": body.status}, snapshot=snap)
    if isinstance(body, rpc.GetParameterValuesResponse):
        values = {p.name: p.value for p in body.parameters}
        return Outcome(True, {"response": name, "parameters": values}, snapshot=values)
    if isinstance(body, rpc.GetParameterAttributesResponse):
        return Outcome(True, {"response": name, "attributes": {
            p.name: {"notification": p.notification, "access_list": p.access_list}
            for p in body.parameters}})
    if isinstance(body, rpc.AddObjectResponse):
        return Outcome(True, {"response": name, "instance_number": body.instance_number,
                              "status": body.status})
    if isinstance(body, rpc.DeleteObjectResponse):
        return Outcome(True, {"response": name, "status": body.status})
    if isinstance(body, rpc.DownloadResponse | rpc.UploadResponse):
        res = {"response": name, "status": body.status, "start_time": body.start_time,
               "complete_time": body.complete_time}
        return Outcome(True, res, awaiting_transfer=body.status == 1)
    return Outcome(True, {"response": name})


def transfer_outcome(tc: rpc.TransferComplete) -> Outcome:
    res = {"response": "TransferComplete", "fault": tc.fault_code,
           "fault_string": tc.fault_string, "start_time": tc.start_time,
           "complete_time": tc.complete_time}
    return Outcome(tc.fault_code == 0, res)
