"""CWMP RPC messages as plain dataclasses (TR-069 Amendment 2+, Annex A).

This module holds the shapes only; `lab.cwmp.envelope` turns them into SOAP and back.
Names follow the RPC element names; fields are snake_case of the XML children.
Values on the wire are strings; `ParameterValue.type` is the xsi:type we send/received
("xsd:string", "xsd:unsignedInt", "xsd:boolean", "xsd:dateTime", "xsd:int", ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Sentinel dateTime TR-069 uses for "unknown time".
UNKNOWN_TIME = "0001-01-01T00:00:00Z"


@dataclass
class ParameterValue:
    name: str
    value: str
    type: str = "xsd:string"


@dataclass
class ParameterInfo:
    name: str
    writable: bool


@dataclass
class ParameterAttribute:
    name: str
    notification: int  # 0 off, 1 passive, 2 active
    access_list: list[str] = field(default_factory=list)


@dataclass
class SetParameterAttribute:
    name: str
    notification_change: bool
    notification: int
    access_list_change: bool = False
    access_list: list[str] = field(default_factory=list)


@dataclass
class DeviceId:
    manufacturer: str
    oui: str
    product_class: str
    serial_number: str


@dataclass
class EventStruct:
    code: str  # "0 BOOTSTRAP", "4 VALUE CHANGE", "M Download", ...
    command_key: str = ""


# ---- CPE -> ACS requests and ACS -> CPE responses ------------------------------------


@dataclass
class Inform:
    device_id: DeviceId
    events: list[EventStruct]
    max_envelopes: int = 1
    current_time: str = UNKNOWN_TIME
    retry_count: int = 0
    parameters: list[ParameterValue] = field(default_factory=list)

    def event_codes(self) -> list[str]:
        return [e.code for e in self.events]

    def param(self, name: str) -> str | None:
        for p in self.parameters:
            if p.name == name:
                return p.value
        return None


@dataclass
class InformResponse:
    max_envelopes: int = 1


@dataclass
class TransferComplete:
    command_key: str
    fault_code: int = 0
    fault_string: str = ""
    start_time: str = UNKNOWN_TIME
    complete_time: str = UNKNOWN_TIME


@dataclass
class TransferCompleteResponse:
    pass


@dataclass
class GetRPCMethods:
    pass


@dataclass
class GetRPCMethodsResponse:
    methods: list[str]


# ---- ACS -> CPE requests and CPE -> ACS responses ------------------------------------


@dataclass
class GetParameterNames:
    parameter_path: str
    next_level: bool


@dataclass
class GetParameterNamesResponse:
    parameters: list[ParameterInfo]


@dataclass
class GetParameterValues:
    names: list[str]


@dataclass
class GetParameterValuesResponse:
    parameters: list[ParameterValue]


@dataclass
class SetParameterValues:
    parameters: list[ParameterValue]
    parameter_key: str = ""


@dataclass
class SetParameterValuesResponse:
    status: int = 0  # 0 applied, 1 applied but not yet effective


@dataclass
class GetParameterAttributes:
    names: list[str]


@dataclass
class GetParameterAttributesResponse:
    parameters: list[ParameterAttribute]


@dataclass
class SetParameterAttributes:
    parameters: list[SetParameterAttribute]


@dataclass
class SetParameterAttributesResponse:
    pass


@dataclass
class AddObject:
    object_name: str  # ends with "."
    parameter_key: str = ""


@dataclass
class AddObjectResponse:
    instance_number: int
    status: int = 0


@dataclass
class DeleteObject:
    object_name: str  # ends with "{i}."
    parameter_key: str = ""


@dataclass
class DeleteObjectResponse:
    status: int = 0


@dataclass
class Download:
    command_key: str
    file_type: str  # "3 Vendor Configuration File" for a CM file
    url: str
    username: str = ""
    password: str = ""
    file_size: int = 0
    target_file_name: str = ""
    delay_seconds: int = 0
    success_url: str = ""
    failure_url: str = ""


@dataclass
class DownloadResponse:
    status: int = 1  # 1: not yet completed, result follows in TransferComplete
    start_time: str = UNKNOWN_TIME
    complete_time: str = UNKNOWN_TIME


@dataclass
class Upload:
    command_key: str
    file_type: str  # "1 Vendor Configuration File", "2 Vendor Log File"
    url: str
    username: str = ""
    password: str = ""
    delay_seconds: int = 0


@dataclass
class UploadResponse:
    status: int = 1
    start_time: str = UNKNOWN_TIME
    complete_time: str = UNKNOWN_TIME


@dataclass
class Reboot:
    command_key: str = ""


@dataclass
class RebootResponse:
    pass


@dataclass
class FactoryReset:
    pass


@dataclass
class FactoryResetResponse:
    pass


@dataclass
class ScheduleInform:
    delay_seconds: int
    command_key: str = ""


@dataclass
class ScheduleInformResponse:
    pass


# ---- Faults ----------------------------------------------------------------------------


@dataclass
class SetParameterValuesFault:
    name: str
    code: int
    string: str


@dataclass
class Fault:
    """A SOAP Fault carrying a CWMP fault (detail/cwmp:Fault)."""

    code: int
    string: str
    spv_faults: list[SetParameterValuesFault] = field(default_factory=list)

    @property
    def faultcode(self) -> str:
        # SOAP faultcode: 8xxx/9003+ that blame the sender are "Client", the rest "Server".
        return "Client" if self.code in CLIENT_FAULTS else "Server"


CLIENT_FAULTS = {8003, 8005, 9001, 9003, 9005, 9006, 9007, 9008, 9011, 9012, 9013}

# Every message type, by element name: the codec's registry.
Rpc = (
    Inform | InformResponse | TransferComplete | TransferCompleteResponse | GetRPCMethods
    | GetRPCMethodsResponse | GetParameterNames | GetParameterNamesResponse
    | GetParameterValues | GetParameterValuesResponse | SetParameterValues
    | SetParameterValuesResponse | GetParameterAttributes | GetParameterAttributesResponse
    | SetParameterAttributes | SetParameterAttributesResponse | AddObject | AddObjectResponse
    | DeleteObject | DeleteObjectResponse | Download | DownloadResponse | Upload
    | UploadResponse | Reboot | RebootResponse | FactoryReset | FactoryResetResponse
    | ScheduleInform | ScheduleInformResponse | Fault
)

MESSAGE_TYPES: dict[str, type] = {
    t.__name__: t
    for t in (
        Inform, InformResponse, TransferComplete, TransferCompleteResponse, GetRPCMethods,
        GetRPCMethodsResponse, GetParameterNames, GetParameterNamesResponse,
        GetParameterValues, GetParameterValuesResponse, SetParameterValues,
        SetParameterValuesResponse, GetParameterAttributes, GetParameterAttributesResponse,
        SetParameterAttributes, SetParameterAttributesResponse, AddObject, AddObjectResponse,
        DeleteObject, DeleteObjectResponse, Download, DownloadResponse, Upload,
        UploadResponse, Reboot, RebootResponse, FactoryReset, FactoryResetResponse,
        ScheduleInform, ScheduleInformResponse,
    )
}

# RPCs a CPE supports (answer to GetRPCMethods from the ACS) and an ACS supports.
CPE_METHODS = [
    "GetRPCMethods", "SetParameterValues", "GetParameterValues", "GetParameterNames",
    "SetParameterAttributes", "GetParameterAttributes", "AddObject", "DeleteObject",
    "Reboot", "Download", "Upload", "FactoryReset", "ScheduleInform",
]
ACS_METHODS = ["Inform", "GetRPCMethods", "TransferComplete"]

# Inform event codes (TR-069 3.7.1.5) that the HNB sends and the flows look for
BOOTSTRAP = "0 BOOTSTRAP"
BOOT = "1 BOOT"
PERIODIC = "2 PERIODIC"
SCHEDULED = "3 SCHEDULED"
VALUE_CHANGE = "4 VALUE CHANGE"
CONNECTION_REQUEST = "6 CONNECTION REQUEST"
TRANSFER_COMPLETE = "7 TRANSFER COMPLETE"
M_REBOOT = "M Reboot"
M_DOWNLOAD = "M Download"
M_UPLOAD = "M Upload"
M_SCHEDULE_INFORM = "M ScheduleInform"


def name_of(msg: object) -> str:
    return type(msg).__name__


def outcome_fields(body: object) -> dict[str, Any]:
    """What a Fault or TransferComplete says, as event fields (both ends record them):
    `fault_code` (0: the transfer succeeded), `command_key`, and for a SetParameterValues
    fault the per-parameter `spv_faults` [{name, code}] (5.3.2: which were refused)."""
    if isinstance(body, Fault):
        out: dict[str, Any] = {"fault_code": body.code}
        if body.spv_faults:
            out["spv_faults"] = [{"name": f.name, "code": f.code} for f in body.spv_faults]
        return out
    if isinstance(body, TransferComplete):
        return {"fault_code": body.fault_code, "command_key": body.command_key}
    return {}
