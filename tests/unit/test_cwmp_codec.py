"""CWMP SOAP codec: round trips of every message in every namespace, each validated
against the Broadband Forum schemas, the real nano3G Inform, and liberal decoding."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from lab.cwmp import envelope, rpc
from lab.cwmp.envelope import NAMESPACES, NS_1_0, NS_1_1, NS_1_2, decode, encode

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
sys.path.insert(0, str(SHARED / "tools"))
import cwmp_xsd_check  # noqa: E402

CAPTURE = SHARED / "reference" / "captures" / "ipaccess_nano3g_inform.xml"
FAP = "Device.Services.FAPService.1."

SAMPLES: dict[str, object] = {
    "Inform": rpc.Inform(
        device_id=rpc.DeviceId("ip.access Ltd", "000295", "nano3G", "0000123456"),
        events=[rpc.EventStruct("0 BOOTSTRAP"), rpc.EventStruct("1 BOOT"),
                rpc.EventStruct("M Download", "cm-2024-01")],
        max_envelopes=1, current_time="2024-05-01T10:11:12Z", retry_count=0,
        parameters=[
            rpc.ParameterValue("Device.DeviceInfo.SoftwareVersion", "4.2.1"),
            rpc.ParameterValue("Device.ManagementServer.PeriodicInformInterval", "3600",
                               "xsd:unsignedInt"),
            rpc.ParameterValue("Device.ManagementServer.ConnectionRequestURL",
                               "http://10.0.0.20:7547/cr"),
            rpc.ParameterValue("Device.IPsec.Enable", "true", "xsd:boolean"),
            rpc.ParameterValue("Device.DeviceInfo.TemperatureStatus.TemperatureSensor.1.Value",
                               "-3", "xsd:int"),
            rpc.ParameterValue("Device.Time.CurrentLocalTime", "2024-05-01T10:11:12Z",
                               "xsd:dateTime"),
        ]),
    "InformResponse": rpc.InformResponse(max_envelopes=1),
    "TransferComplete": rpc.TransferComplete(
        "cm-2024-01", 9010, "Download failure: HTTP 404", "2024-05-01T10:11:12Z",
        "2024-05-01T10:11:14Z"),
    "TransferCompleteResponse": rpc.TransferCompleteResponse(),
    "GetRPCMethods": rpc.GetRPCMethods(),
    "GetRPCMethodsResponse": rpc.GetRPCMethodsResponse(list(rpc.CPE_METHODS)),
    "GetParameterNames": rpc.GetParameterNames(FAP + "CellConfig.", True),
    "GetParameterNamesResponse": rpc.GetParameterNamesResponse([
        rpc.ParameterInfo(FAP + "CellConfig.UMTS.", False),
        rpc.ParameterInfo(FAP + "CellConfig.UMTS.RAN.CellID", True)]),
    "GetParameterValues": rpc.GetParameterValues([
        "Device.DeviceInfo.SerialNumber", FAP + "CellConfig.UMTS.CN.PLMNID"]),
    "GetParameterValuesResponse": rpc.GetParameterValuesResponse([
        rpc.ParameterValue("Device.DeviceInfo.SerialNumber", "0000123456"),
        rpc.ParameterValue(FAP + "CellConfig.UMTS.CN.PLMNID", "00101"),
        rpc.ParameterValue(FAP + "CellConfig.UMTS.RAN.CellID", "268435455", "xsd:unsignedInt")]),
    "SetParameterValues": rpc.SetParameterValues([
        rpc.ParameterValue(FAP + "CellConfig.UMTS.CN.PLMNID", "00101"),
        rpc.ParameterValue(FAP + "CellConfig.UMTS.CN.LACRAC", "1234:56"),
        rpc.ParameterValue(FAP + "CellConfig.UMTS.RAN.CellID", "4097", "xsd:unsignedInt")],
        parameter_key="cfg-7"),
    "SetParameterValuesResponse": rpc.SetParameterValuesResponse(status=1),
    "GetParameterAttributes": rpc.GetParameterAttributes(["Device.FaultMgmt.ExpeditedEvent."]),
    "GetParameterAttributesResponse": rpc.GetParameterAttributesResponse([
        rpc.ParameterAttribute("Device.IPsec.IKEv2SA.1.LocalAddress", 2),
        rpc.ParameterAttribute("Device.DeviceInfo.SoftwareVersion", 1, ["Subscriber"])]),
    "SetParameterAttributes": rpc.SetParameterAttributes([
        rpc.SetParameterAttribute("Device.IPsec.IKEv2SA.1.LocalAddress", True, 2),
        rpc.SetParameterAttribute("Device.DeviceInfo.", False, 0, True, ["Subscriber"])]),
    "SetParameterAttributesResponse": rpc.SetParameterAttributesResponse(),
    "AddObject": rpc.AddObject("Device.FAP.PerfMgmt.Config.", "pm-1"),
    "AddObjectResponse": rpc.AddObjectResponse(instance_number=3, status=0),
    "DeleteObject": rpc.DeleteObject("Device.FAP.PerfMgmt.Config.3.", "pm-2"),
    "DeleteObjectResponse": rpc.DeleteObjectResponse(status=0),
    "Download": rpc.Download(
        "cm-2024-01", "3 Vendor Configuration File", "https://hms.operator.test/cm/hnb1.xml",
        "hnb", "s3cret", 2048, "cm.xml", 5, "", ""),
    "DownloadResponse": rpc.DownloadResponse(1),
    "Upload": rpc.Upload("log-1", "2 Vendor Log File", "https://hms.operator.test/upload/",
                         "hnb", "s3cret", 0),
    "UploadResponse": rpc.UploadResponse(0, "2024-05-01T10:11:12Z", "2024-05-01T10:11:13Z"),
    "Reboot": rpc.Reboot("reboot-after-cm"),
    "RebootResponse": rpc.RebootResponse(),
    "FactoryReset": rpc.FactoryReset(),
    "FactoryResetResponse": rpc.FactoryResetResponse(),
    "ScheduleInform": rpc.ScheduleInform(30, "si-1"),
    "ScheduleInformResponse": rpc.ScheduleInformResponse(),
    "Fault": rpc.Fault(9003, "Invalid arguments", [
        rpc.SetParameterValuesFault(FAP + "CellConfig.UMTS.RAN.CellID", 9007,
                                    "Invalid parameter value"),
        rpc.SetParameterValuesFault(FAP + "CellConfig.UMTS.RAN.X_Unknown", 9005,
                                    "Invalid parameter name")]),
}


def valid(data: bytes) -> bytes:
    problems = cwmp_xsd_check.check(data)
    assert problems == [], problems
    return data


def test_samples_cover_every_message_type() -> None:
    assert set(SAMPLES) == set(rpc.MESSAGE_TYPES) | {"Fault"}


@pytest.mark.parametrize("ns", NAMESPACES)
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_round_trip_validates(name: str, ns: str) -> None:
    msg = SAMPLES[name]
    data = valid(encode(msg, ns=ns, id=f"req-{name}"))
    env = decode(data)
    assert env.body == msg
    assert env.ns == ns
    assert env.id == f"req-{name}"
    assert env.hold_requests is None
    assert envelope.msg_name(env.body) == name


@pytest.mark.parametrize("hold", [True, False])
def test_id_and_hold_requests_echo(hold: bool) -> None:
    data = valid(encode(rpc.InformResponse(), ns=NS_1_2, id="abc 17", hold_requests=hold))
    env = decode(data)
    assert (env.id, env.hold_requests, env.ns) == ("abc 17", hold, NS_1_2)
    assert b'mustUnderstand="1"' in data


def test_no_header_without_id() -> None:
    data = valid(encode(rpc.GetRPCMethods()))
    assert b"Header" not in data
    env = decode(data)
    assert env.id is None and env.ns == envelope.DEFAULT_NS == NS_1_1


def test_empty_body_round_trip() -> None:
    env = decode(valid(encode(None, ns=NS_1_0, id="9")))
    assert env.body is None and env.ns == NS_1_0 and env.id == "9"


# ---- the real nano3G capture --------------------------------------------------------------


@pytest.fixture(scope="module")
def nano3g() -> envelope.Envelope:
    return decode(CAPTURE.read_bytes())


def test_nano3g_capture_decodes(nano3g: envelope.Envelope) -> None:
    inform = nano3g.body
    assert isinstance(inform, rpc.Inform)
    assert nano3g.ns == NS_1_0 and nano3g.id == "2"
    assert inform.device_id == rpc.DeviceId("ip.access Ltd", "000295", "", "0000123456")
    assert inform.event_codes() == ["4 VALUE CHANGE", "0 BOOTSTRAP"]
    assert (inform.max_envelopes, inform.retry_count) == (1, 2)
    assert inform.current_time == "2021-09-22T23:46:49Z"
    assert len(inform.parameters) == 422
    assert inform.param("Device.ManagementServer.ParameterKey") == "0"
    assert inform.param("Device.FaultMgmt.ExpeditedEvent.1.NotificationType") == "NewAlarm"
    assert inform.param("Device.FaultMgmt.SupportedAlarmNumberOfEntries") == "47"
    assert "xsd:signedInt" in {p.type for p in inform.parameters}  # kept as received
    assert envelope.summary(inform) == "Inform 4 VALUE CHANGE,0 BOOTSTRAP"


@pytest.mark.parametrize("ns", NAMESPACES)
def test_nano3g_inform_re_encodes_validly(nano3g: envelope.Envelope, ns: str) -> None:
    data = valid(encode(nano3g.body, ns=ns, id=nano3g.id))
    assert b"xsd:signedInt" not in data
    back = decode(data).body
    assert isinstance(back, rpc.Inform) and isinstance(nano3g.body, rpc.Inform)
    assert len(back.parameters) == 422
    for sent, got in zip(nano3g.body.parameters, back.parameters, strict=True):
        assert (got.name, got.value) == (sent.name, sent.value)
        assert got.type == envelope.wire_type(sent.type)


# ---- what only newer namespaces know -------------------------------------------------------


def test_newer_event_codes_left_out_in_older_namespace() -> None:
    inform = SAMPLES["Inform"]
    assert isinstance(inform, rpc.Inform)
    events = [rpc.EventStruct("10 AUTONOMOUS TRANSFER COMPLETE"), rpc.EventStruct("1 BOOT"),
              rpc.EventStruct("M GetRPCMethods")]
    msg = rpc.Inform(inform.device_id, events)
    old = decode(valid(encode(msg, ns=NS_1_0))).body
    assert isinstance(old, rpc.Inform) and old.event_codes() == ["1 BOOT"]
    new = decode(valid(encode(msg, ns=NS_1_1))).body
    assert isinstance(new, rpc.Inform) and new.event_codes() == [e.code for e in events]


@pytest.mark.parametrize(("ns", "expected"), [(NS_1_0, 9010), (NS_1_1, 9015), (NS_1_2, 9015)])
def test_fault_codes_fall_back_in_older_namespace(ns: str, expected: int) -> None:
    fault = rpc.Fault(9015, "Download failure: unable to contact file server")
    got = decode(valid(encode(fault, ns=ns))).body
    assert got == rpc.Fault(expected, fault.string)
    tc = rpc.TransferComplete("cm-1", 9015, "no route to file server")
    got_tc = decode(valid(encode(tc, ns=ns))).body
    assert isinstance(got_tc, rpc.TransferComplete) and got_tc.fault_code == expected


def test_transfer_complete_9020_is_a_download_failure_before_1_2() -> None:
    tc = rpc.TransferComplete("cm-1", 9020, "time window missed")
    for ns, expected in ((NS_1_0, 9010), (NS_1_1, 9020), (NS_1_2, 9020)):
        got = decode(valid(encode(tc, ns=ns))).body
        assert isinstance(got, rpc.TransferComplete) and got.fault_code == expected


def test_file_types_and_notifications_of_newer_namespaces() -> None:
    tone = rpc.Download("k", "4 Tone File", "http://fs/tone.bin")
    valid(encode(tone, ns=NS_1_2))
    with pytest.raises(ValueError, match="Download/FileType"):
        encode(tone, ns=NS_1_1)
    lightweight = rpc.SetParameterAttributes([rpc.SetParameterAttribute("Device.X.", True, 4)])
    valid(encode(lightweight, ns=NS_1_2))
    with pytest.raises(ValueError, match="Notification"):
        encode(lightweight, ns=NS_1_0)


# ---- strict output: what no namespace accepts ------------------------------------------------


@pytest.mark.parametrize(("msg", "where"), [
    (rpc.Inform(rpc.DeviceId("m", "00029g", "p", "s"), []), "DeviceId/OUI"),
    (rpc.Inform(rpc.DeviceId("m", "000295", "p", "s"), [rpc.EventStruct("BOOT")]),
     r"EventStruct\[1\]/EventCode"),
    (rpc.Reboot("k" * 33), "Reboot/CommandKey"),
    (rpc.GetParameterValuesResponse([rpc.ParameterValue("A.b", "abc", "xsd:int")]),
     r"ParameterValueStruct\[1\]/Value.*A\.b"),
    (rpc.GetParameterValuesResponse([rpc.ParameterValue("A.b", "-1", "xsd:unsignedInt")]),
     "Value"),
    (rpc.GetParameterValues([]), "ParameterNames"),
    (rpc.AddObject("Device.FAP.PerfMgmt.Config"), "AddObject/ObjectName"),
    (rpc.AddObjectResponse(0), "InstanceNumber"),
    (rpc.TransferComplete("k", 9013), "FaultStruct/FaultCode"),
    (rpc.TransferComplete("k", 0, "", start_time="yesterday"), "StartTime"),
    (rpc.Fault(1234, "nonsense"), "FaultCode"),
    (rpc.Fault(9003, "x", [rpc.SetParameterValuesFault("A.", 8003, "x")]),
     "SetParameterValuesFault"),
    (rpc.SetParameterValues([rpc.ParameterValue("A.b", "bell\x07")]), "Value"),
    (rpc.GetParameterValues("Device."), "expected a list"),  # type: ignore[arg-type]
    (rpc.SetParameterValues([("A.b", "1")]), "expected ParameterValue"),  # type: ignore[list-item]
    (rpc.GetParameterValuesResponse([rpc.ParameterValue("A.b", "True", "xsd:boolean")]),
     "boolean"),
])
def test_encode_refuses_invalid_content(msg: rpc.Rpc, where: str) -> None:
    with pytest.raises(ValueError, match=where):
        encode(msg, ns=NS_1_2)


def test_encode_refuses_unknown_namespace() -> None:
    with pytest.raises(ValueError, match="cwmp-1-9"):
        encode(rpc.GetRPCMethods(), ns="urn:dslforum-org:cwmp-1-9")


def test_value_types_are_normalised() -> None:
    msg = rpc.GetParameterValuesResponse([
        rpc.ParameterValue("A.signed", "-5", "xsd:signedInt"),
        rpc.ParameterValue("A.blob", "aGVsbG8=", "xsd:base64"),
        rpc.ParameterValue("A.odd", "whatever", "xsd:vendorThing"),
        rpc.ParameterValue("A.bare", "7", "unsignedInt"),
    ])
    data = valid(encode(msg))
    back = decode(data).body
    assert isinstance(back, rpc.GetParameterValuesResponse)
    assert [p.type for p in back.parameters] == [
        "xsd:int", "xsd:base64Binary", "xsd:string", "xsd:unsignedInt"]


# ---- liberal input ---------------------------------------------------------------------------

SLOPPY_SPV = b"""<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"
    xmlns:xs="http://www.w3.org/2001/XMLSchema"
    xmlns:i="http://www.w3.org/2001/XMLSchema-instance">
  <soap:Header>
    <ID xmlns="urn:dslforum-org:cwmp-1-2" soap:mustUnderstand="1">  77  </ID>
    <c:HoldRequests xmlns:c="urn:dslforum-org:cwmp-1-2">1</c:HoldRequests>
  </soap:Header>
  <soap:Body>
    <!-- a comment a sloppy ACS left -->
    <SetParameterValues xmlns="urn:dslforum-org:cwmp-1-2">
      <ParameterList>
        <ParameterValueStruct>
          <Name>  Device.ManagementServer.PeriodicInformEnable </Name>
          <Value i:type="xs:boolean">1</Value>
        </ParameterValueStruct>
        <ParameterValueStruct>
          <Name>Device.ManagementServer.PeriodicInformInterval</Name>
          <Value i:type="xs:unsignedInt">60</Value>
        </ParameterValueStruct>
        <ParameterValueStruct>
          <Name>Device.DeviceInfo.X_Note</Name>
          <Value> two  spaces </Value>
        </ParameterValueStruct>
        <ParameterValueStruct>
          <Name>Device.DeviceInfo.UpTime</Name>
          <Value i:type="unsignedInt">5</Value>
        </ParameterValueStruct>
      </ParameterList>
    </SetParameterValues>
  </soap:Body>
</soap:Envelope>"""


def test_liberal_prefixes_default_namespace_no_array_type_missing_optional() -> None:
    env = decode(SLOPPY_SPV)
    assert (env.ns, env.id, env.hold_requests) == (NS_1_2, "77", True)
    assert env.body == rpc.SetParameterValues([
        rpc.ParameterValue("Device.ManagementServer.PeriodicInformEnable", "1", "xsd:boolean"),
        rpc.ParameterValue("Device.ManagementServer.PeriodicInformInterval", "60",
                           "xsd:unsignedInt"),
        rpc.ParameterValue("Device.DeviceInfo.X_Note", " two  spaces ", "xsd:string"),
        rpc.ParameterValue("Device.DeviceInfo.UpTime", "5", "xsd:unsignedInt"),
    ], parameter_key="")
    assert envelope.summary(env.body) == "SetParameterValues 4 params"


def test_liberal_qualified_children_and_numeric_booleans() -> None:
    data = b"""<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"
        xmlns:c="urn:dslforum-org:cwmp-1-0"><e:Body>
        <c:GetParameterNames><c:ParameterPath>Device.</c:ParameterPath>
        <c:NextLevel> 1 </c:NextLevel></c:GetParameterNames></e:Body></e:Envelope>"""
    env = decode(data)
    assert env.body == rpc.GetParameterNames("Device.", True) and env.ns == NS_1_0


def test_soap_fault_decodes_with_spv_faults() -> None:
    data = b"""<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
      xmlns:cwmp="urn:dslforum-org:cwmp-1-1"><soapenv:Header><cwmp:ID
      soapenv:mustUnderstand="1">5</cwmp:ID></soapenv:Header><soapenv:Body><soapenv:Fault>
      <faultcode>Client</faultcode><faultstring>CWMP fault</faultstring><detail><cwmp:Fault>
      <FaultCode>9003</FaultCode><FaultString>Invalid arguments</FaultString>
      <SetParameterValuesFault><ParameterName>Device.X.A</ParameterName>
      <FaultCode>9008</FaultCode></SetParameterValuesFault>
      </cwmp:Fault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"""
    env = decode(data)
    assert env.id == "5" and env.ns == NS_1_1
    assert env.body == rpc.Fault(9003, "Invalid arguments", [
        rpc.SetParameterValuesFault("Device.X.A", 9008, "Attempt to set a non-writable parameter")])
    assert envelope.summary(env.body) == "Fault 9003 Invalid arguments (1 parameter fault)"


def test_soap_fault_without_cwmp_detail_is_a_peer_internal_error() -> None:
    data = b"""<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault>
      <faultcode>Server</faultcode><faultstring>stack overflow</faultstring></s:Fault>
      </s:Body></s:Envelope>"""
    assert decode(data).body == rpc.Fault(9002, "stack overflow")  # we are the ACS: CPE fault
    assert decode(data, fault_base=9000).body == rpc.Fault(8002, "stack overflow")


def test_fault_faultcode_client_or_server() -> None:
    assert b"<faultcode>Client</faultcode>" in encode(rpc.Fault(9005, "Invalid parameter name"))
    assert b"<faultcode>Server</faultcode>" in encode(rpc.Fault(9002, "Internal error"))


# ---- names and summaries -----------------------------------------------------------------------


def test_summaries() -> None:
    s = envelope.summary
    assert s(rpc.Inform(rpc.DeviceId("m", "000295", "p", "s"),
                        [rpc.EventStruct("0 BOOTSTRAP"), rpc.EventStruct("1 BOOT")])) == \
        "Inform 0 BOOTSTRAP,1 BOOT"
    assert s(SAMPLES["SetParameterValues"]) == "SetParameterValues 3 params"
    assert s(rpc.Fault(9005, "Invalid parameter name")) == "Fault 9005 Invalid parameter name"
    assert s(rpc.GetParameterValues(["Device.DeviceInfo."])) == \
        "GetParameterValues Device.DeviceInfo."
    assert s(SAMPLES["TransferComplete"]) == \
        "TransferComplete fault 9010 Download failure: HTTP 404 key=cm-2024-01"
    assert s(rpc.TransferComplete("cm-1")) == "TransferComplete ok key=cm-1"
    assert s(rpc.InformResponse()) == "InformResponse"
    assert s(None) == "empty" and envelope.msg_name(None) == "empty"
    for msg in SAMPLES.values():
        line = s(msg)  # every type has a one-line summary starting with its name
        assert line.startswith(envelope.msg_name(msg)) and "\n" not in line
