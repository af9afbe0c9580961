"""CWMP (TR-069): message shapes (`rpc`), the SOAP codec (`envelope`), fault codes
(`faults`) and the hardened XML parser underneath (`xmlsafe`)."""

from lab.cwmp.envelope import (
    DEFAULT_NS,
    NAMESPACES,
    Envelope,
    decode,
    encode,
    msg_name,
    summary,
)
from lab.cwmp.faults import FAULT_STRINGS, CwmpError

__all__ = [
    "DEFAULT_NS",
    "FAULT_STRINGS",
    "NAMESPACES",
    "CwmpError",
    "Envelope",
    "decode",
    "encode",
    "msg_name",
    "summary",
]
