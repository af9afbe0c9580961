"""CWMP fault codes (TR-069 Amendment 2, fault code tables) and the exception carrying one.

ACS faults are 8000-8005 (the ACS answers a CPE request with them), CPE faults are
9000-9019 (the CPE answers an ACS request with them). The strings are the ones in the
cwmp-1-1 schema, i.e. the wording of the 3GPP HNB baseline (CWMP 1.1).
"""

from __future__ import annotations

from lab.cwmp import rpc

FAULT_STRINGS: dict[int, str] = {
    8000: "Method not supported",
    8001: "Request denied (no reason specified)",
    8002: "Internal error",
    8003: "Invalid arguments",
    8004: "Resources exceeded",
    8005: "Retry request",
    9000: "Method not supported",
    9001: "Request denied (no reason specified)",
    9002: "Internal error",
    9003: "Invalid arguments",
    9004: "Resources exceeded",
    9005: "Invalid parameter name",
    9006: "Invalid parameter type",
    9007: "Invalid parameter value",
    9008: "Attempt to set a non-writable parameter",
    9009: "Notification request rejected",
    9010: "Download failure",
    9011: "Upload failure",
    9012: "File transfer server authentication failure",
    9013: "Unsupported protocol for file transfer",
    9014: "Download failure: unable to join multicast group",
    9015: "Download failure: unable to contact file server",
    9016: "Download failure: unable to access file",
    9017: "Download failure: unable to complete download",
    9018: "Download failure: file corrupted",
    9019: "Download failure: file authentication failure",
}

# Offsets from a fault base (8000 on the ACS side, 9000 on the CPE side): the codes both
# tables share, so a codec error maps to the right code for whichever side we are.
METHOD_NOT_SUPPORTED = 0
REQUEST_DENIED = 1
INTERNAL_ERROR = 2
INVALID_ARGUMENTS = 3
RESOURCES_EXCEEDED = 4

ACS_FAULT_BASE = 8000
CPE_FAULT_BASE = 9000


def fault_string(code: int) -> str:
    """The standard wording of a fault code ("Fault <code>" for codes outside the table)."""
    return FAULT_STRINGS.get(code, f"Fault {code}")


class CwmpError(Exception):
    """A CWMP-level failure that the peer should get back as a SOAP Fault.

    `message` says what was wrong and where; it becomes the FaultString. `id` and `ns`
    are filled in by the codec when it got far enough to read them, so the fault answer
    can echo the request's cwmp:ID in the request's namespace.
    """

    def __init__(
        self,
        code: int,
        message: str | None = None,
        spv_faults: list[rpc.SetParameterValuesFault] | None = None,
        *,
        id: str | None = None,
        ns: str | None = None,
    ) -> None:
        self.code = code
        self.message = message if message is not None else fault_string(code)
        self.spv_faults: list[rpc.SetParameterValuesFault] = list(spv_faults or [])
        self.id = id
        self.ns = ns
        super().__init__(f"{code} {self.message}")

    def to_fault(self) -> rpc.Fault:
        return rpc.Fault(code=self.code, string=self.message, spv_faults=list(self.spv_faults))
