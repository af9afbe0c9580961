"""CM file: write/read round trip, hardened parsing, all-or-nothing apply."""

from __future__ import annotations

import pytest
from lxml import etree

from lab.cwmp import rpc
from lab.cwmp.faults import CwmpError
from lab.datamodel.cmfile import (
    CmFileError,
    apply_cm_file,
    export_cm_file,
    parse_cm_file,
    read_cm_file,
    write_cm_file,
)
from lab.datamodel.tree import DataModel

FAP = "Device.Services.FAPService.1."
GW = FAP + "FAPControl.UMTS.Gateway."
PARAMS = {
    "Device.ManagementServer.PeriodicInformInterval": "300",
    GW + "SecGWServer1": "segw.operator.lab",
    GW + "FAPGWServer1": "hnbgw.operator.lab",
    "Device.ManagementServer.PeriodicInformEnable": "true",
    FAP + "CellConfig.UMTS.CN.PLMNID": "00101",
    FAP + "CellConfig.UMTS.RAN.HNBIDRealm": "operator.lab",
    "Device.FAP.PerfMgmt.Config.2.URL": "https://pm.operator.lab/upload",
    "Device.ManagementServer.Username": "",
    FAP + "AccessMgmt.UMTS.HNBName": "Caf\u00e9 <&> cell",
}


def test_round_trip_and_shape() -> None:
    data = write_cm_file(PARAMS, local_dn="HNB-00A0B1-0001", oui="00A0B1",
                         product_class="HNB", date_time="2026-12-03T12:00:00Z")
    cm = read_cm_file(data)
    # one subtree per element: order is by first appearance of each subtree
    assert [n for n, _ in cm.params] == [
        "Device.ManagementServer.PeriodicInformInterval",
        "Device.ManagementServer.PeriodicInformEnable",
        "Device.ManagementServer.Username",
        GW + "SecGWServer1", GW + "FAPGWServer1",
        FAP + "CellConfig.UMTS.CN.PLMNID", FAP + "CellConfig.UMTS.RAN.HNBIDRealm",
        FAP + "AccessMgmt.UMTS.HNBName",
        "Device.FAP.PerfMgmt.Config.2.URL",
    ]
    assert dict(cm.params) == PARAMS
    assert cm.header == {"fileFormatVersion": "32.584 V11.0", "vendorName": "hnblab"}
    assert cm.managed_element == {"localDn": "HNB-00A0B1-0001", "OUI": "00A0B1",
                                  "ProductClass": "HNB"}
    assert cm.footer == {"dateTime": "2026-12-03T12:00:00Z"}
    root = etree.fromstring(data)
    assert [c.tag for c in root] == ["fileHeader", "configData", "fileFooter"]
    fap = root.find("configData/managedElement/Device/Services/FAPService")
    assert fap is not None and fap.get("index") == "1"
    assert root.find("configData/managedElement/Device/FAP/PerfMgmt/Config").get("index") == "2"
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")


def test_namespaced_input_reads_the_same() -> None:
    data = write_cm_file(PARAMS)
    text = data.replace(b"<configDataFile>",
                        b'<configDataFile xmlns="urn:example:cm">')
    assert parse_cm_file(text) == parse_cm_file(data)


CORRUPT = {
    "not xml": (b"this is not xml", "not well-formed"),
    "truncated": (write_cm_file(PARAMS)[:-40], "not well-formed"),
    "entity": (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x "y">]><configDataFile/>',
               "DOCTYPE"),
    "wrong root": (b"<measCollecFile/>", "root element is <measCollecFile>"),
    "no configData": (b"<configDataFile><fileHeader/></configDataFile>", "no <configData>"),
    "two elements": (b"<configDataFile><configData><managedElement><Device/></managedElement>"
                     b"<managedElement><Device/></managedElement></configData></configDataFile>",
                     "more than one <managedElement>"),
    "not Device": (b"<configDataFile><configData><managedElement><InternetGatewayDevice>"
                   b"<A>1</A></InternetGatewayDevice></managedElement></configData>"
                   b"</configDataFile>", "exactly one <Device>"),
    "index on a leaf": (b"<configDataFile><configData><managedElement><Device>"
                        b"<X index=\"1\">v</X></Device></managedElement></configData>"
                        b"</configDataFile>", "Device.X: a parameter cannot carry an index"),
    "bad index": (b"<configDataFile><configData><managedElement><Device>"
                  b"<T index=\"0\"><X>v</X></T></Device></managedElement></configData>"
                  b"</configDataFile>", "Device.T.: index '0'"),
    "mixed text": (b"<configDataFile><configData><managedElement><Device>"
                   b"<T>junk<X>v</X></T></Device></managedElement></configData>"
                   b"</configDataFile>", "unexpected text 'junk' in object Device.T."),
    "duplicate": (b"<configDataFile><configData><managedElement><Device>"
                  b"<X>1</X><X>2</X></Device></managedElement></configData></configDataFile>",
                  "Device.X appears twice"),
    "indexed root": (b"<configDataFile><configData><managedElement><Device index=\"1\">"
                     b"<X>1</X></Device></managedElement></configData></configDataFile>",
                     "<Device> is not a multi-instance object"),
    "stray element": (b"<configDataFile><junk/><configData/></configDataFile>",
                      "unexpected <junk>"),
}


@pytest.mark.parametrize("case", list(CORRUPT))
def test_corrupt_file_raises_cm_file_error(case: str) -> None:
    data, message = CORRUPT[case]
    with pytest.raises(CmFileError) as exc:
        parse_cm_file(data)
    assert message in str(exc.value)
    assert isinstance(exc.value, ValueError)


def test_error_names_the_line() -> None:
    data = (b"<configDataFile>\n<configData>\n<managedElement>\n<Device>\n"
            b"<X index=\"1\">v</X>\n</Device></managedElement></configData></configDataFile>")
    with pytest.raises(CmFileError, match="line 5"):
        parse_cm_file(data)


def test_size_limit() -> None:
    data = write_cm_file(PARAMS)
    with pytest.raises(CmFileError, match="exceeds the limit"):
        parse_cm_file(data, max_size=len(data) - 1)
    assert parse_cm_file(data, max_size=len(data))


@pytest.mark.parametrize("params, match", [
    ({"InternetGatewayDevice.X": "1"}, "under 'Device.'"),
    ({"Device.A.": "1"}, "under 'Device.'"),
    ({"Device.1.X": "1"}, "misplaced instance number"),
    ({"Device.A.0.X": "1"}, "misplaced instance number"),
    ({"Device.A.1": "1"}, "ends with an instance number"),
    ({"Device.A b": "1"}, "not a valid name segment"),
    ({"Device.A": "1", "Device.A.B": "2"}, "is a parameter, not an object"),
    ({"Device.A.B": "1", "Device.A": "2"}, "also used as an object"),
    ({"Device.A": "bell\x07"}, "not representable in XML"),
])
def test_writer_refuses_bad_input(params: dict[str, str], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        write_cm_file(params)


def test_apply_changes_the_model() -> None:
    model = DataModel.factory()
    model.add_object("Device.FAP.PerfMgmt.Config.")
    model.add_object("Device.FAP.PerfMgmt.Config.")
    changed = apply_cm_file(model, write_cm_file(PARAMS))
    assert model.get(GW + "SecGWServer1") == "segw.operator.lab"
    assert model.get(FAP + "AccessMgmt.UMTS.HNBName") == PARAMS[FAP + "AccessMgmt.UMTS.HNBName"]
    assert "Device.ManagementServer.PeriodicInformEnable" not in changed  # already true
    assert GW + "FAPGWServer1" in changed
    assert model.get("Device.ManagementServer.ParameterKey") == ""  # a Download, not an SPV


@pytest.mark.parametrize("bad, code", [
    ({GW + "FAPGWPort": "70000"}, 9007),
    ({"Device.DeviceInfo.SerialNumber": "X1"}, 9008),
    ({"Device.Services.FAPService.1.NoSuchThing": "1"}, 9005),
    ({"Device.FAP.PerfMgmt.Config.9.URL": "https://pm.lab/"}, 9005),
    ({"Device.ManagementServer.PeriodicInformEnable": "maybe"}, 9006),
])
def test_one_invalid_parameter_applies_nothing(bad: dict[str, str], code: int) -> None:
    model = DataModel.factory()
    model.add_object("Device.FAP.PerfMgmt.Config.")
    model.add_object("Device.FAP.PerfMgmt.Config.")
    before = model.values()
    with pytest.raises(CwmpError) as exc:
        apply_cm_file(model, write_cm_file({**PARAMS, **bad}))
    assert exc.value.code == 9003
    assert [(f.name, f.code) for f in exc.value.spv_faults] == [(next(iter(bad)), code)]
    assert model.values() == before


def test_exported_configuration_reapplies_to_a_fresh_device() -> None:
    source = DataModel.factory()
    n = source.add_object("Device.FAP.PerfMgmt.Config.")
    apply_cm_file(source, write_cm_file({k: v for k, v in PARAMS.items()
                                         if ".PerfMgmt.Config.2." not in k}))
    source.set_internal("Device.IPsec.IKEv2SA.1.LocalAddress", "10.20.0.7")  # not config
    exported = source.values(writable_only=True, include_hidden=False)
    assert "Device.ManagementServer.Password" not in exported
    assert "Device.IPsec.IKEv2SA.1.LocalAddress" not in exported
    target = DataModel.factory()
    assert target.add_object("Device.FAP.PerfMgmt.Config.") == n
    apply_cm_file(target, write_cm_file(exported))
    assert target.values(writable_only=True, include_hidden=False) == exported


def test_export_cm_file_identifies_the_device() -> None:
    model = DataModel.factory({"Device.DeviceInfo.SerialNumber": "SN9",
                               "Device.DeviceInfo.ManufacturerOUI": "00A0B1"})
    model.set_values([rpc.ParameterValue("Device.ManagementServer.Password", "pw")], "k")
    cm = read_cm_file(export_cm_file(model))
    assert cm.managed_element == {"localDn": "HNB-00A0B1-SN9", "OUI": "00A0B1",
                                  "ProductClass": "HNB"}
    names = dict(cm.params)
    assert names["Device.ManagementServer.PeriodicInformInterval"] == "3600"
    assert "Device.ManagementServer.Password" not in names
    assert "Device.DeviceInfo.SerialNumber" not in names  # read-only: not configuration
