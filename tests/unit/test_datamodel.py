"""DataModel behaviour: RPC semantics, atomicity, notifications, instances, persistence."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from lab.cwmp import rpc
from lab.cwmp.faults import CwmpError
from lab.datamodel.schema import SchemaError, load_schema
from lab.datamodel.tree import DataModel, DataModelError

FAP = "Device.Services.FAPService.1."
GW = FAP + "FAPControl.UMTS.Gateway."
MS = "Device.ManagementServer."
SA = "Device.IPsec.IKEv2SA.1."
FACTORY = {
    "Device.DeviceInfo.SerialNumber": "HNB0001",
    "Device.DeviceInfo.ManufacturerOUI": "00A0B1",
    MS + "URL": "https://hms-initial.operator.lab:7547/acs",
    GW + "SecGWServer1": "segw-initial.operator.lab",
}


@pytest.fixture
def model() -> DataModel:
    return DataModel.factory(FACTORY)


def pv(name: str, value: str, typ: str = "xsd:string") -> rpc.ParameterValue:
    return rpc.ParameterValue(name, value, typ)


def spv_faults(exc: pytest.ExceptionInfo[CwmpError]) -> dict[str, int]:
    return {f.name: f.code for f in exc.value.spv_faults}


# ---- factory ---------------------------------------------------------------------------


def test_factory_applies_overrides_and_defaults(model: DataModel) -> None:
    assert model.get("Device.DeviceInfo.SerialNumber") == "HNB0001"
    assert model.get(MS + "URL") == FACTORY[MS + "URL"]
    assert model.get(GW + "FAPGWPort") == "29169"
    assert model.get(MS + "ParameterKey") == ""
    assert model.instances("Device.FaultMgmt.SupportedAlarm.") == [1, 2, 3, 4, 5, 6]
    assert model.get("Device.FaultMgmt.SupportedAlarmNumberOfEntries") == "6"
    assert model.get("Device.IPsec.IKEv2SANumberOfEntries") == "1"
    assert model.get("Device.Services.FAPService.1.Alias") == "cpe-1"
    assert model.device_id() == rpc.DeviceId("hnblab", "00A0B1", "HNB", "HNB0001")


@pytest.mark.parametrize("overrides, match", [
    ({"Device.DeviceInfo.NoSuch": "x"}, "no such parameter"),
    ({"Device.DeviceInfo.ManufacturerOUI": "xyz"}, "ManufacturerOUI"),
    ({GW + "FAPGWPort": "70000"}, "FAPGWPort"),
])
def test_factory_rejects_bad_overrides(overrides: dict[str, str], match: str) -> None:
    with pytest.raises(DataModelError, match=match):
        DataModel.factory(overrides)


# ---- GetParameterValues ----------------------------------------------------------------


def test_gpv_full_names_are_typed(model: DataModel) -> None:
    got = model.get_values([MS + "PeriodicInformInterval", MS + "PeriodicInformEnable",
                            "Device.FAP.GPS.LockedLatitude", MS + "PeriodicInformTime"])
    assert [(p.value, p.type) for p in got] == [
        ("3600", "xsd:unsignedInt"), ("true", "xsd:boolean"), ("0", "xsd:int"),
        ("0001-01-01T00:00:00Z", "xsd:dateTime")]


def test_gpv_partial_path_expands_to_every_leaf_below(model: DataModel) -> None:
    names = [p.name for p in model.get_values([MS])]
    assert names[0] == MS + "EnableCWMP"
    assert {MS + "URL", MS + "ParameterKey", MS + "ConnectionRequestURL"} <= set(names)
    assert all(n.startswith(MS) and not n.endswith(".") for n in names)
    deep = [p.name for p in model.get_values(["Device.FaultMgmt.SupportedAlarm."])]
    assert len(deep) == 6 * 5
    assert deep[:2] == ["Device.FaultMgmt.SupportedAlarm.1.EventType",
                        "Device.FaultMgmt.SupportedAlarm.1.ProbableCause"]
    assert len(model.get_values([""])) == len(model.get_values(["Device."]))


def test_gpv_hides_passwords_but_the_device_reads_them(model: DataModel) -> None:
    model.set_values([pv(MS + "Password", "s3cret")], "k")
    assert model.get_values([MS + "Password"])[0].value == ""
    assert model.get(MS + "Password") == "s3cret"


@pytest.mark.parametrize("name", [
    "Device.DeviceInfo.Nope", "Device.Nope.", "Device.IPsec.IKEv2SA.7.",
    "Device.IPsec.IKEv2SA.7.Status", "Device.DeviceInfo"])
def test_gpv_unknown_name_is_9005_naming_it(model: DataModel, name: str) -> None:
    with pytest.raises(CwmpError) as exc:
        model.get_values([MS + "URL", name])
    assert exc.value.code == 9005
    assert name in exc.value.message


# ---- GetParameterNames -----------------------------------------------------------------


def test_gpn_next_level_lists_direct_children_only(model: DataModel) -> None:
    got = {i.name: i.writable for i in model.names("Device.IPsec.", True)}
    assert got == {"Device.IPsec.Enable": True, "Device.IPsec.Status": False,
                   "Device.IPsec.IKEv2SANumberOfEntries": False, "Device.IPsec.IKEv2SA.": False}
    top = [i.name for i in model.names("Device.", True)]
    assert "Device.DeviceInfo." in top and "Device.RootDataModelVersion" in top
    assert all(n.count(".") == 1 or (n.count(".") == 2 and n.endswith(".")) for n in top)
    assert [i.name for i in model.names("Device.IPsec.IKEv2SA.", True)] == [
        "Device.IPsec.IKEv2SA.1."]
    assert [i.name for i in model.names("", True)] == ["Device."]


def test_gpn_full_subtree_includes_the_object_and_everything_below(model: DataModel) -> None:
    got = [i.name for i in model.names("Device.IPsec.", False)]
    assert got[0] == "Device.IPsec."
    assert "Device.IPsec.IKEv2SA." in got and SA in got and SA + "LocalAddress" in got
    assert got.index(SA) < got.index(SA + "Status")
    everything = model.names("", False)
    assert everything[0].name == "Device."
    assert len(everything) > len(model.values())


def test_gpn_writability_of_tables_instances_and_params(model: DataModel) -> None:
    w = {i.name: i.writable for i in model.names("Device.", False)}
    assert w["Device.FAP.PerfMgmt.Config."] is True  # AddObject allowed
    assert w["Device.FaultMgmt.CurrentAlarm."] is False  # device-maintained
    assert w[MS + "URL"] is True and w[MS + "ParameterKey"] is False
    assert w["Device.DeviceInfo."] is False
    assert w["Device.FaultMgmt.SupportedAlarm.1.ReportingMechanism"] is True


def test_gpn_on_a_parameter(model: DataModel) -> None:
    assert model.names(MS + "URL", False) == [rpc.ParameterInfo(MS + "URL", True)]
    with pytest.raises(CwmpError) as exc:
        model.names(MS + "URL", True)
    assert exc.value.code == 9003
    with pytest.raises(CwmpError) as exc:
        model.names("Device.Nothing.", False)
    assert exc.value.code == 9005


# ---- SetParameterValues ----------------------------------------------------------------


def test_spv_applies_sets_parameter_key_and_reports_changes(model: DataModel) -> None:
    changed = model.set_values([
        pv(GW + "SecGWServer1", "segw.operator.lab"),
        pv(MS + "PeriodicInformInterval", "300", "xsd:unsignedInt"),
        pv(MS + "PeriodicInformEnable", "1", "xsd:boolean"),  # unchanged once canonical
        pv(FAP + "CellConfig.UMTS.CN.LACRAC", "100:1, 200..210:2..3"),
    ], "key-1")
    assert changed == [GW + "SecGWServer1", MS + "PeriodicInformInterval",
                       FAP + "CellConfig.UMTS.CN.LACRAC"]
    assert model.get(MS + "ParameterKey") == "key-1"
    assert model.get(MS + "PeriodicInformEnable") == "true"
    assert model.get(FAP + "CellConfig.UMTS.CN.LACRAC") == "100:1,200..210:2..3"


@pytest.mark.parametrize("param, code", [
    (pv("Device.DeviceInfo.NoSuch", "x"), 9005),
    (pv("Device.DeviceInfo.", "x"), 9005),
    (pv("Device.DeviceInfo.SerialNumber", "x"), 9008),
    (pv(MS + "ParameterKey", "x"), 9008),
    (pv(MS + "PeriodicInformInterval", "true", "xsd:boolean"), 9006),
    (pv(MS + "PeriodicInformInterval", "soon"), 9006),
    (pv(GW + "SecGWServer1", "7", "xsd:int"), 9006),
    (pv(MS + "PeriodicInformEnable", "2021-01-01T00:00:00Z", "xsd:dateTime"), 9006),
    (pv(MS + "PeriodicInformInterval", "soon", "xsd:unsignedInt"), 9007),
    (pv(MS + "PeriodicInformInterval", "0", "xsd:unsignedInt"), 9007),
    (pv(MS + "PeriodicInformInterval", "4294967296", "xsd:unsignedInt"), 9007),
    (pv(GW + "FAPGWPort", "65536", "xsd:unsignedInt"), 9007),
    (pv(FAP + "AccessMgmt.UMTS.AccessMode", "Half Open"), 9007),
    (pv(MS + "URL", "ftp://hms.lab/acs"), 9007),
    (pv(MS + "URL", "not a url"), 9007),
    (pv(GW + "SecGWServer1", "bad host!"), 9007),
    (pv(GW + "SecGWServer1", "x" * 65), 9007),
    (pv(FAP + "CellConfig.UMTS.CN.PLMNID", "0010"), 9007),
    (pv(FAP + "CellConfig.UMTS.CN.LACRAC", "100:300"), 9007),
    (pv(MS + "PeriodicInformTime", "2026-02-30T00:00:00Z", "xsd:dateTime"), 9007),
])
def test_spv_fault_codes_and_nothing_applied(model: DataModel, param: rpc.ParameterValue,
                                             code: int) -> None:
    before = model.values()
    good = pv(MS + "PeriodicInformInterval", "60", "xsd:unsignedInt")
    params = [good, param] if param.name != good.name else [param]
    with pytest.raises(CwmpError) as exc:
        model.set_values(params, "new-key")
    assert exc.value.code == 9003
    assert spv_faults(exc) == {param.name: code}
    assert param.name in exc.value.spv_faults[0].string
    assert model.values() == before  # ParameterKey and the good value untouched


def test_spv_reports_every_failing_parameter(model: DataModel) -> None:
    with pytest.raises(CwmpError) as exc:
        model.set_values([pv("Device.X.Y", "1"), pv(MS + "URL", "https://ok.lab/"),
                          pv("Device.DeviceInfo.UpTime", "5", "xsd:unsignedInt"),
                          pv(GW + "FAPGWPort", "-1", "xsd:unsignedInt")], "k")
    assert spv_faults(exc) == {"Device.X.Y": 9005, "Device.DeviceInfo.UpTime": 9008,
                               GW + "FAPGWPort": 9007}
    assert model.get(MS + "URL") == FACTORY[MS + "URL"]


def test_spv_duplicate_name_and_long_parameter_key_are_9003(model: DataModel) -> None:
    with pytest.raises(CwmpError) as exc:
        model.set_values([pv(MS + "Username", "a"), pv(MS + "Username", "b")], "k")
    assert exc.value.code == 9003 and MS + "Username" in exc.value.message
    with pytest.raises(CwmpError) as exc:
        model.set_values([pv(MS + "Username", "a")], "k" * 33)
    assert exc.value.code == 9003
    assert model.get(MS + "Username") == "" and model.get(MS + "ParameterKey") == ""


def test_spv_without_parameter_key_leaves_it(model: DataModel) -> None:
    model.set_values([pv(MS + "Username", "a")], "first")
    model.set_values([pv(MS + "Username", "b")], None)
    assert model.get(MS + "ParameterKey") == "first"


def test_write_once_alias(model: DataModel) -> None:
    n = model.add_object("Device.FAP.PerfMgmt.Config.")
    alias = f"Device.FAP.PerfMgmt.Config.{n}.Alias"
    assert model.get(alias) == f"cpe-{n}"
    assert model.names(alias, False)[0].writable is True
    model.set_values([pv(alias, "pm-main")], "k")
    assert model.names(alias, False)[0].writable is False
    with pytest.raises(CwmpError) as exc:
        model.set_values([pv(alias, "again")], "k2")
    assert spv_faults(exc) == {alias: 9008}


# ---- attributes ------------------------------------------------------------------------


def test_default_attributes(model: DataModel) -> None:
    model.add_instance("Device.FaultMgmt.QueuedEvent.")
    got = {a.name: a.notification for a in model.get_attributes([
        SA + "LocalAddress", "Device.DeviceInfo.SoftwareVersion", MS + "URL",
        MS + "ConnectionRequestURL", "Device.FaultMgmt.QueuedEvent.1.EventTime"])}
    assert got == {SA + "LocalAddress": 2, "Device.DeviceInfo.SoftwareVersion": 2,
                   MS + "URL": 0, MS + "ConnectionRequestURL": 2,
                   "Device.FaultMgmt.QueuedEvent.1.EventTime": 1}


def test_spa_sets_partial_paths_and_is_all_or_nothing(model: DataModel) -> None:
    model.set_attributes([rpc.SetParameterAttribute(MS, True, 1)])
    assert {a.notification for a in model.get_attributes([MS + "URL", MS + "Username"])} == {1}
    with pytest.raises(CwmpError) as exc:
        model.set_attributes([rpc.SetParameterAttribute(MS + "URL", True, 2),
                              rpc.SetParameterAttribute("Device.Nope", True, 2)])
    assert exc.value.code == 9005
    assert model.get_attributes([MS + "URL"])[0].notification == 1
    with pytest.raises(CwmpError) as exc:
        model.set_attributes([rpc.SetParameterAttribute(MS + "URL", True, 3)])
    assert exc.value.code == 9003


def test_spa_can_deny_and_force_enabled(model: DataModel) -> None:
    with pytest.raises(CwmpError) as exc:
        model.set_attributes([rpc.SetParameterAttribute("Device.DeviceInfo.UpTime", True, 2)])
    assert exc.value.code == 9009
    model.set_attributes([rpc.SetParameterAttribute("Device.DeviceInfo.", True, 2)])
    attrs = {a.name: a.notification for a in model.get_attributes(["Device.DeviceInfo."])}
    assert attrs["Device.DeviceInfo.UpTime"] == 0  # skipped inside the partial path
    assert attrs["Device.DeviceInfo.SerialNumber"] == 2
    model.set_attributes([rpc.SetParameterAttribute("Device.DeviceInfo.SoftwareVersion",
                                                    True, 0)])
    assert model.get_attributes(["Device.DeviceInfo.SoftwareVersion"])[0].notification == 2


def test_spa_access_list(model: DataModel) -> None:
    model.set_attributes([rpc.SetParameterAttribute(MS + "URL", False, 0, True, ["Subscriber"])])
    assert model.get_attributes([MS + "URL"])[0].access_list == ["Subscriber"]
    with pytest.raises(CwmpError) as exc:
        model.set_attributes([rpc.SetParameterAttribute(MS + "URL", False, 0, True, ["Bob"])])
    assert exc.value.code == 9003


# ---- AddObject / DeleteObject ----------------------------------------------------------


def test_add_and_delete_object_keep_number_of_entries(model: DataModel) -> None:
    table = "Device.FAP.PerfMgmt.Config."
    count = "Device.FAP.PerfMgmt.ConfigNumberOfEntries"
    assert model.add_object(table, "add-1") == 1
    assert model.add_object(table) == 2
    assert model.get(count) == "2" and model.get(MS + "ParameterKey") == "add-1"
    assert model.get(table + "2.PeriodicUploadInterval") == "900"
    model.delete_object(table + "1.", "del-1")
    assert model.get(count) == "1" and model.get(MS + "ParameterKey") == "del-1"
    assert not model.exists(table + "1.Enable")
    assert model.add_object(table) == 3  # instance numbers are not reused
    assert [i.name for i in model.names(table, True)] == [table + "2.", table + "3."]
    model.add_object(table)
    model.add_object(table)
    with pytest.raises(CwmpError) as exc:
        model.add_object(table)  # max_entries 4
    assert exc.value.code == 9004
    assert model.get(count) == "4"


@pytest.mark.parametrize("call, code", [
    (lambda m: m.add_object("Device.FaultMgmt.CurrentAlarm."), 9001),
    (lambda m: m.add_object("Device.FAP.PerfMgmt."), 9005),
    (lambda m: m.add_object("Device.Nope."), 9005),
    (lambda m: m.add_object("Device.IPsec.IKEv2SA.1."), 9005),
    (lambda m: m.delete_object("Device.FAP.PerfMgmt.Config.1."), 9005),
    (lambda m: m.delete_object("Device.FaultMgmt.SupportedAlarm.1."), 9001),
    (lambda m: m.delete_object("Device.FAP.PerfMgmt.Config."), 9005),
])
def test_add_delete_faults(model: DataModel, call: Callable[[DataModel], object],
                           code: int) -> None:
    before = model.values()
    with pytest.raises(CwmpError) as exc:
        call(model)
    assert exc.value.code == code
    assert model.values() == before


def test_device_instances_nested_in_an_instance(model: DataModel) -> None:
    cells = FAP + "REM.UMTS.WCDMA.Cell."
    n = model.add_instance(cells, {"BCCH.PLMNID": "00101", "BCCH.LAC": "300",
                                   "BCCH.CellID": "4660", "RF.UARFCNDL": "10700"})
    assert n == 1
    assert model.get(FAP + "REM.UMTS.WCDMA.CellNumberOfEntries") == "1"
    assert model.get(cells + "1.BCCH.LAC") == "300"
    with pytest.raises(DataModelError, match="no such parameter"):
        model.add_instance(cells, {"BCCH.Nope": "1"})
    model.delete_instance(cells + "1.")
    assert model.get(FAP + "REM.UMTS.WCDMA.CellNumberOfEntries") == "0"


# ---- notifications ---------------------------------------------------------------------


def test_active_passive_and_acs_changes(model: DataModel) -> None:
    calls: list[str] = []
    model.on_active_change = calls.append
    assert model.set_internal(SA + "LocalAddress", "10.20.0.7") is True
    assert calls == [SA + "LocalAddress"]
    assert model.set_internal(SA + "LocalAddress", "10.20.0.7") is False  # no change
    assert calls == [SA + "LocalAddress"]
    model.set_internal(SA + "Status", "Up")  # notification off: nothing
    model.set_attributes([rpc.SetParameterAttribute(MS + "PeriodicInformInterval", True, 1)])
    model.set_internal(MS + "PeriodicInformInterval", "120")
    assert model.pending_notifications() == ([SA + "LocalAddress"],
                                             [MS + "PeriodicInformInterval"])
    # the ACS's own changes never notify, whatever the attribute
    model.set_attributes([rpc.SetParameterAttribute(MS + "URL", True, 2)])
    model.set_values([pv(MS + "URL", "https://hms.operator.lab/acs")], "k")
    assert model.pending_notifications() == ([SA + "LocalAddress"],
                                             [MS + "PeriodicInformInterval"])
    assert calls == [SA + "LocalAddress"]
    model.clear_notifications([SA + "LocalAddress"])
    assert model.pending_notifications() == ([], [MS + "PeriodicInformInterval"])
    model.clear_notifications()
    assert model.pending_notifications() == ([], [])


def test_set_internal_checks_name_and_value(model: DataModel) -> None:
    with pytest.raises(DataModelError, match="no such parameter"):
        model.set_internal("Device.IPsec.IKEv2SA.9.LocalAddress", "10.0.0.1")
    with pytest.raises(DataModelError, match="LocalAddress"):
        model.set_internal(SA + "LocalAddress", "10.0.0.300")


def test_expedited_alarm_is_active_queued_is_passive(model: DataModel) -> None:
    calls: list[str] = []
    model.on_active_change = calls.append
    event = {"EventTime": "2026-12-03T12:00:00Z", "AlarmIdentifier": "A1",
             "NotificationType": "NewAlarm", "EventType": "Communications Alarm",
             "PerceivedSeverity": "Major"}
    model.add_instance("Device.FaultMgmt.ExpeditedEvent.", event)
    model.add_instance("Device.FaultMgmt.QueuedEvent.", event)
    active, passive = model.pending_notifications()
    assert {n.rsplit(".", 1)[1] for n in active} == set(event) - {"NotificationType"}
    assert all(n.startswith("Device.FaultMgmt.ExpeditedEvent.1.") for n in active)
    assert all(n.startswith("Device.FaultMgmt.QueuedEvent.1.") for n in passive)
    assert calls and set(calls) <= set(active)
    assert model.get("Device.FaultMgmt.ExpeditedEventNumberOfEntries") == "1"
    # the notification goes with the instance it was about
    model.delete_instance("Device.FaultMgmt.ExpeditedEvent.1.")
    assert model.pending_notifications()[0] == []


def test_inform_parameters(model: DataModel) -> None:
    names = [p.name for p in model.inform_parameters()]
    for n in ["Device.DeviceInfo.HardwareVersion", "Device.DeviceInfo.SoftwareVersion",
              "Device.DeviceInfo.ProvisioningCode", MS + "ParameterKey",
              MS + "ConnectionRequestURL", "Device.IP.Interface.1.IPv4Address.1.IPAddress",
              FAP + "FAPControl.UMTS.OpState"]:
        assert n in names
    assert "Device.FAP.GPS.LockedLatitude" not in names  # no fix yet
    model.set_internal("Device.FAP.GPS.LockedLatitude", "48856614")
    model.set_internal("Device.FAP.GPS.LockedLongitude", "2352222")
    model.add_instance(FAP + "REM.UMTS.WCDMA.Cell.", {"BCCH.PLMNID": "20801",
                                                       "BCCH.LAC": "4", "BCCH.CellID": "77"})
    model.set_internal(SA + "LocalAddress", "10.20.0.7")
    got = {p.name: (p.value, p.type) for p in model.inform_parameters()}
    assert got["Device.FAP.GPS.LockedLatitude"] == ("48856614", "xsd:int")
    assert got[FAP + "REM.UMTS.WCDMA.Cell.1.BCCH.PLMNID"] == ("20801", "xsd:string")
    assert got[FAP + "REM.UMTS.WCDMA.Cell.1.BCCH.CellID"] == ("77", "xsd:unsignedInt")
    assert got[SA + "LocalAddress"] == ("10.20.0.7", "xsd:string")  # pending, active
    assert SA + "LocalAddress" not in [p.name for p in model.inform_parameters(False)]
    assert len(got) == len(model.inform_parameters())  # no duplicates


def test_bound_getter(model: DataModel) -> None:
    model.bind("Device.DeviceInfo.UpTime", lambda: "42")
    assert model.get_values(["Device.DeviceInfo.UpTime"])[0].value == "42"


# ---- persistence and factory reset -------------------------------------------------------


def _touch(model: DataModel) -> None:
    model.set_values([pv(GW + "SecGWServer1", "segw.operator.lab"),
                      pv(MS + "Password", "pw")], "provisioned")
    model.set_attributes([rpc.SetParameterAttribute(MS + "URL", True, 1)])
    n = model.add_object("Device.FAP.PerfMgmt.Config.")
    model.set_values([pv(f"Device.FAP.PerfMgmt.Config.{n}.Alias", "pm")], "provisioned")
    model.add_instance("Device.FaultMgmt.CurrentAlarm.", {"AlarmIdentifier": "A7"})
    model.set_internal(SA + "LocalAddress", "10.20.0.7")


def test_save_load_round_trip_across_a_reboot(model: DataModel, tmp_path: Path) -> None:
    _touch(model)
    state = tmp_path / "dm.json"
    model.save(state)
    assert [p.name for p in tmp_path.iterdir()] == ["dm.json"]  # no temp file left
    again = DataModel.load(state)
    assert again.values() == model.values()
    assert again.get_attributes(["Device."]) == model.get_attributes(["Device."])
    assert again.pending_notifications() == model.pending_notifications()
    assert [i.name for i in again.names("", False)] == [i.name for i in model.names("", False)]
    assert again.names("Device.FAP.PerfMgmt.Config.1.Alias", False)[0].writable is False
    assert again.add_object("Device.FAP.PerfMgmt.Config.") == 2
    again.factory_reset()  # the overrides came back with the file
    assert again.get(GW + "SecGWServer1") == FACTORY[GW + "SecGWServer1"]


def test_load_is_liberal_about_table_changes_and_strict_about_garbage(
        model: DataModel, tmp_path: Path) -> None:
    state = model.to_state()
    state["values"]["Device.DeviceInfo.X_OLD_Param"] = "1"
    state["values"][GW + "FAPGWPort"] = "99999"  # now invalid: default kept
    del state["values"][MS + "Username"]
    path = tmp_path / "dm.json"
    path.write_text(json.dumps(state))
    again = DataModel.load(path)
    assert not again.exists("Device.DeviceInfo.X_OLD_Param")
    assert again.get(GW + "FAPGWPort") == "29169" and again.get(MS + "Username") == ""
    for bad in (b"{not json", b'{"format": "other"}', b'{"format": "hnblab-datamodel"}',
                b'{"format": "hnblab-datamodel", "version": 1, "tables": 5}'):
        path.write_bytes(bad)
        with pytest.raises(DataModelError, match=r"dm\.json"):
            DataModel.load(path)


def test_factory_reset_restores_factory_values(model: DataModel) -> None:
    _touch(model)
    model.set_values([pv(MS + "URL", "https://hms-serving.operator.lab/acs")], "k")
    model.factory_reset()
    fresh = DataModel.factory(FACTORY)
    assert model.values() == fresh.values()
    assert model.get(MS + "URL") == FACTORY[MS + "URL"]
    assert model.get(MS + "ParameterKey") == ""
    assert model.instances("Device.FAP.PerfMgmt.Config.") == []
    assert model.pending_notifications() == ([], [])
    assert model.get_attributes([MS + "URL"])[0].notification == 0


def test_broken_table_is_refused(tmp_path: Path) -> None:
    table = tmp_path / "t.yaml"
    table.write_text('objects:\n  "Device.":\n    params:\n'
                     '      X: {type: "unsignedInt", ranges: [[1, 5]], default: "9"}\n')
    with pytest.raises(SchemaError, match=r"Device\.X: default"):
        load_schema(table)
    table.write_text('objects:\n  "Device.":\n    params:\n      X: {type: "float"}\n')
    with pytest.raises(SchemaError, match="type"):
        load_schema(table)
