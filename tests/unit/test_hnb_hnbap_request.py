"""HNB REGISTER REQUEST built from the HNB's data model: what the HMS provisions in the
tree is what the encoded HNBAP carries (decoded again here, as the HNB-GW would)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab import hnbap
from lab.cwmp.rpc import ParameterValue
from lab.datamodel import DataModel
from lab.nodes.common import NodeConfig
from lab.nodes.hnb import node as hnb_node
from lab.nodes.hnb.node import HnbNode, register_request

IDENTITY = "100D0B2-HNB0001@hnb.operator.example"


def _factory(tmp: Path, **settings: object) -> DataModel:
    """The factory tree of an HNB node with these topology settings."""
    cfg = NodeConfig.from_dict({
        "node": "hnb1", "role": "hnb", "run_dir": str(tmp), "identity": IDENTITY,
        "settings": {"serial": "HNB0001", "oui": "00D0B2", **settings}})
    node = HnbNode(cfg)
    try:
        return DataModel.factory(node.factory())
    finally:
        node.events.close()  # the node never started: only its events file is open


def _sent(model: DataModel) -> hnbap.RegisterRequest:
    """The request as the HNB-GW decodes it off the wire."""
    got = hnbap.decode(hnbap.encode(register_request(model.get, IDENTITY)))
    assert isinstance(got, hnbap.RegisterRequest)
    return got


def _provision(model: DataModel, **values: str) -> None:
    """SetParameterValues as the HMS sends it (all or nothing, checked by the tree)."""
    model.set_values([ParameterValue(getattr(hnb_node, k), v) for k, v in values.items()],
                     parameter_key="test")


def test_factory_cell_from_topology_settings(tmp_path: Path) -> None:
    req = _sent(_factory(tmp_path, plmn="26201", lac=300, cell_id=0xABCDE))
    assert (req.identity, req.plmn, req.cell_id, req.lac, req.rac, req.sac, req.csg_id) == (
        IDENTITY, "26201", 0xABCDE, 300, 1, 1, None)


def test_provisioned_values_are_what_hnbap_carries(tmp_path: Path) -> None:
    model = _factory(tmp_path)
    before = _sent(model)
    _provision(model, PLMNID="310410", LACRAC="4660..4670:12,5000:3", SAC="777",
               CELL_ID="268435455", HNBID_REALM="femto.mno.example")
    after = _sent(model)
    assert before.plmn == "00101" and after.plmn == "310410"
    assert (after.lac, after.rac) == (4660, 12)  # first item, start of a range
    assert after.sac == 777 and after.cell_id == 0xFFFFFFF
    assert after.identity == "100D0B2-HNB0001@femto.mno.example"


@pytest.mark.parametrize("mode, sent", [("Open Access", None), ("Closed Access", 4242),
                                        ("Hybrid Access", 4242)])
def test_csg_id_only_in_closed_and_hybrid_access(tmp_path: Path, mode: str,
                                                 sent: int | None) -> None:
    model = _factory(tmp_path)
    _provision(model, ACCESS_MODE=mode, CSGID="4242")
    assert _sent(model).csg_id == sent


def test_location_from_the_gps_lock(tmp_path: Path) -> None:
    loc = _sent(_factory(tmp_path, location={"lat": 48.8566, "lon": 2.3522})).location
    assert loc.latitude == pytest.approx(48.8566, abs=1e-4)
    assert loc.longitude == pytest.approx(2.3522, abs=1e-4)
    assert _sent(_factory(tmp_path)).location.latitude is None


def test_identity_override_is_kept_until_a_realm_is_provisioned(tmp_path: Path) -> None:
    model = _factory(tmp_path, identity_override=IDENTITY)
    assert model.get(hnb_node.HNBID_REALM) == ""
    assert register_request(model.get, "1000000-OTHER@x.example").identity == \
        "1000000-OTHER@x.example"


def test_an_empty_parameter_is_named(tmp_path: Path) -> None:
    model = _factory(tmp_path)
    _provision(model, PLMNID="")
    with pytest.raises(hnbap.HnbapError, match=r"CellConfig\.UMTS\.CN\.PLMNID is empty"):
        register_request(model.get, IDENTITY)


def test_ie_fields_show_what_was_carried(tmp_path: Path) -> None:
    fields = hnbap.ie_fields(_sent(_factory(tmp_path, plmn="26201", lac=300)))
    assert fields["plmn"] == "26201" and fields["lac"] == 300 and fields["csg_id"] is None
