"""CWMP codec under hostile or broken input: every case is a CwmpError with the expected
code and a message naming what was wrong and where; nothing is expanded or read."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.cwmp import envelope, rpc, xmlsafe
from lab.cwmp.envelope import NS_1_1, decode, encode
from lab.cwmp.faults import FAULT_STRINGS, CwmpError

ENV_OPEN = (b'<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" '
            b'xmlns:cwmp="urn:dslforum-org:cwmp-1-1"><SOAP-ENV:Header><cwmp:ID '
            b'SOAP-ENV:mustUnderstand="1">42</cwmp:ID></SOAP-ENV:Header><SOAP-ENV:Body>')
ENV_CLOSE = b"</SOAP-ENV:Body></SOAP-ENV:Envelope>"


def soap(body: bytes) -> bytes:
    return ENV_OPEN + body + ENV_CLOSE


def fails(data: bytes, code: int, *words: str, **kw: int) -> CwmpError:
    with pytest.raises(CwmpError) as info:
        decode(data, **kw)
    err = info.value
    assert err.code == code, err
    for w in words:
        assert w in err.message, (w, err.message)
    return err


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:cwmp="urn:dslforum-org:cwmp-1-1"><SOAP-ENV:Body><cwmp:Reboot>
 <CommandKey>&lol9;</CommandKey></cwmp:Reboot></SOAP-ENV:Body></SOAP-ENV:Envelope>"""


def xxe(path: Path) -> str:
    return (f'<?xml version="1.0"?>\n<!DOCTYPE e [<!ENTITY xxe SYSTEM "file://{path}">]>\n'
            '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:cwmp="urn:dslforum-org:cwmp-1-1"><SOAP-ENV:Body><cwmp:Reboot>'
            '<CommandKey>&xxe;</CommandKey></cwmp:Reboot></SOAP-ENV:Body></SOAP-ENV:Envelope>')


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text("TOP-SECRET-42")
    return path  # tmp_path is removed by pytest


# ---- not XML, or XML we refuse to parse ------------------------------------------------------


def test_empty_input() -> None:
    fails(b"", 8003, "empty")
    fails(b"  \n\t ", 9003, "empty", fault_base=9000)


def test_not_bytes() -> None:
    fails("<a/>", 8003, "bytes")  # type: ignore[arg-type]


def test_malformed_xml_names_the_line() -> None:
    err = fails(soap(b"<cwmp:Reboot><CommandKey>x</cwmp:Reboot>"), 8003, "not well-formed",
                "line 1")
    assert err.id is None  # nothing could be read


def test_billion_laughs_is_refused_not_expanded() -> None:
    fails(BILLION_LAUGHS, 8003, "DOCTYPE", "line 2")
    fails(BILLION_LAUGHS, 9003, "DOCTYPE", fault_base=9000)


def test_billion_laughs_in_utf16_is_refused_too() -> None:
    # The byte scan cannot read UTF-16; the parser's own limits and the tree check must hold.
    data = BILLION_LAUGHS.replace(b'<?xml version="1.0"?>',
                                  b'<?xml version="1.0" encoding="UTF-16"?>')
    fails(data.decode().encode("utf-16"), 8003)


def test_xxe_file_read_is_refused(secret_file: Path) -> None:
    err = fails(xxe(secret_file).encode(), 8003, "DOCTYPE")
    assert "TOP-SECRET" not in str(err)


def test_xxe_in_utf16_is_refused_after_parse_without_reading(secret_file: Path) -> None:
    data = xxe(secret_file).replace('<?xml version="1.0"?>',
                                    '<?xml version="1.0" encoding="UTF-16"?>').encode("utf-16")
    with pytest.raises(xmlsafe.XmlError, match="DOCTYPE") as info:
        xmlsafe.parse(data)
    assert "TOP-SECRET" not in str(info.value)
    err = fails(data, 8003, "DOCTYPE")
    assert "TOP-SECRET" not in str(err)


def test_entity_declaration_without_doctype_keyword_is_refused() -> None:
    with pytest.raises(xmlsafe.XmlError, match="ENTITY"):
        xmlsafe.parse(b'<a><!ENTITY x "y"></a>')


def test_oversized_body() -> None:
    big = soap(b"<cwmp:Reboot><CommandKey>" + b"x" * (1 << 20) + b"</CommandKey></cwmp:Reboot>")
    fails(big, 8003, "exceeds", str(1 << 20))
    small = encode(rpc.Reboot("k"))
    decode(small, max_size=len(small))
    fails(small, 8003, "exceeds", max_size=len(small) - 1)


# ---- XML, but not a CWMP message we accept ---------------------------------------------------


def test_not_a_soap_envelope() -> None:
    fails(b"<Envelope><Body/></Envelope>", 8003, "root element is Envelope",
          "not a SOAP 1.1 Envelope")


def test_missing_body() -> None:
    data = (b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
            b"<s:Header/></s:Envelope>")
    fails(data, 8003, "Envelope", "missing mandatory element Body")


def test_unknown_namespace_is_named() -> None:
    data = soap(b'<x:Inform xmlns:x="urn:dslforum-org:cwmp-1-7"/>')
    err = fails(data, 8003, "urn:dslforum-org:cwmp-1-7", "Body/Inform", "unknown namespace")
    assert err.id == "42"


def test_unknown_rpc_is_method_not_supported() -> None:
    err = fails(soap(b"<cwmp:GetQueuedTransfers/>"), 8000,
                "method not supported: GetQueuedTransfers")
    assert (err.id, err.ns) == ("42", NS_1_1)  # enough to answer with a fault that echoes
    fails(soap(b"<cwmp:X_VENDOR_Kick/>"), 9000, "X_VENDOR_Kick", fault_base=9000)


def test_two_rpcs_in_one_body() -> None:
    fails(soap(b"<cwmp:GetRPCMethods/><cwmp:Reboot><CommandKey/></cwmp:Reboot>"), 8003,
          "Body", "GetRPCMethods, Reboot")


@pytest.mark.parametrize(("body", "words"), [
    (b"<cwmp:Inform><Event/></cwmp:Inform>",
     ("Body/Inform", "missing mandatory element DeviceId")),
    (b"<cwmp:Inform><DeviceId><Manufacturer>m</Manufacturer><OUI>000295</OUI>"
     b"<ProductClass/></DeviceId><Event/></cwmp:Inform>",
     ("Body/Inform/DeviceId", "SerialNumber")),
    (b"<cwmp:SetParameterValues><ParameterList><ParameterValueStruct><Name>A.b</Name>"
     b"<Value>1</Value></ParameterValueStruct><ParameterValueStruct><Value>2</Value>"
     b"</ParameterValueStruct></ParameterList></cwmp:SetParameterValues>",
     ("Body/SetParameterValues/ParameterList/ParameterValueStruct[2]", "Name")),
    (b"<cwmp:SetParameterValues><ParameterList><ParameterValueStruct><Name>A.b</Name>"
     b"</ParameterValueStruct></ParameterList></cwmp:SetParameterValues>",
     ("ParameterValueStruct[1]", "Value", "A.b")),
    (b"<cwmp:GetParameterNames><ParameterPath>Device.</ParameterPath></cwmp:GetParameterNames>",
     ("Body/GetParameterNames", "NextLevel")),
    (b"<cwmp:AddObjectResponse><Status>0</Status></cwmp:AddObjectResponse>",
     ("Body/AddObjectResponse", "InstanceNumber")),
    # A TransferComplete without FaultCode must not read as success (code 0).
    (b"<cwmp:TransferComplete><CommandKey>k</CommandKey><FaultStruct><FaultString>x"
     b"</FaultString></FaultStruct></cwmp:TransferComplete>",
     ("Body/TransferComplete/FaultStruct", "FaultCode")),
])
def test_missing_mandatory_child_is_named(body: bytes, words: tuple[str, ...]) -> None:
    err = fails(soap(body), 8003, "missing mandatory element", *words)
    assert err.id == "42" and err.ns == NS_1_1


@pytest.mark.parametrize(("body", "words"), [
    (b"<cwmp:InformResponse><MaxEnvelopes>many</MaxEnvelopes></cwmp:InformResponse>",
     ("Body/InformResponse/MaxEnvelopes", "'many'", "not an integer")),
    (b"<cwmp:GetParameterNames><ParameterPath/><NextLevel>maybe</NextLevel>"
     b"</cwmp:GetParameterNames>", ("Body/GetParameterNames/NextLevel", "not a boolean")),
])
def test_bad_scalar_is_named(body: bytes, words: tuple[str, ...]) -> None:
    fails(soap(body), 8003, *words)


def test_bad_hold_requests_header() -> None:
    data = ENV_OPEN.replace(b"</SOAP-ENV:Header>",
                            b"<cwmp:HoldRequests>perhaps</cwmp:HoldRequests></SOAP-ENV:Header>")
    fails(data + b"<cwmp:GetRPCMethods/>" + ENV_CLOSE, 8003, "Header/HoldRequests")


def test_fault_without_fault_code() -> None:
    body = (b"<SOAP-ENV:Fault><faultcode>Client</faultcode><faultstring>CWMP fault"
            b"</faultstring><detail><cwmp:Fault><FaultString>x</FaultString></cwmp:Fault>"
            b"</detail></SOAP-ENV:Fault>")
    fails(soap(body), 8003, "Body/Fault/detail/Fault", "FaultCode")


# ---- the error turns into a fault we can send -------------------------------------------------


def test_error_becomes_a_valid_fault_answer() -> None:
    with pytest.raises(CwmpError) as info:
        decode(soap(b"<cwmp:GetQueuedTransfers/>"), fault_base=9000)
    err = info.value
    fault = err.to_fault()
    assert fault == rpc.Fault(9000, "method not supported: GetQueuedTransfers")
    answer = decode(encode(fault, ns=err.ns or envelope.DEFAULT_NS, id=err.id))
    assert answer.body == fault and answer.id == "42"


def test_cwmp_error_defaults_and_spv_faults() -> None:
    spv = [rpc.SetParameterValuesFault("Device.A", 9008, "Attempt to set a non-writable "
                                       "parameter")]
    err = CwmpError(9003, spv_faults=spv)
    assert err.message == "Invalid arguments" and str(err) == "9003 Invalid arguments"
    assert err.to_fault() == rpc.Fault(9003, "Invalid arguments", spv)
    assert err.to_fault().faultcode == "Client"
    assert CwmpError(9002).to_fault().faultcode == "Server"


def test_fault_strings_table() -> None:
    assert set(FAULT_STRINGS) == set(range(8000, 8006)) | set(range(9000, 9020))
    assert FAULT_STRINGS[9005] == "Invalid parameter name"
    assert FAULT_STRINGS[8005] == "Retry request"
