"""The SeGW's inner pool halves (5.2.2): which half new leases come from survives into
the operator's control process, which builds its own Gateway."""

from __future__ import annotations

from pathlib import Path

from lab.evidence.events import EventLog
from lab.nodes.segw.gateway import Gateway


def _gw(state: Path) -> Gateway:
    state.parent.mkdir(parents=True, exist_ok=True)
    pki = {k: str(state.parent / f"{k}.pem") for k in ("ca", "cert", "key")}
    for p in pki.values():
        Path(p).write_bytes(b"-")
    return Gateway("segw", {"fqdn": "segw.example", "pool": "198.18.2.0/24"}, "192.0.2.1",
                   ["203.0.113.0/24"], "203.0.113.53", pki, EventLog("segw"),
                   state_file=state)


def test_pool_halves_and_the_active_one_is_shared(tmp_path: Path) -> None:
    state = tmp_path / "segw-state" / "active_pool"
    gw = _gw(state)
    assert gw.pools == {"a": "198.18.2.0/25", "b": "198.18.2.128/25"}
    assert gw.active_pool == "a" and gw.conn_config()["hnb"]["pools"] == ["pool-a"]
    gw.active_pool = "b"
    gw._save()
    other = _gw(state)  # what `segw.ctl readdress` builds in its own process
    assert other.active_pool == "b" and other.conn_config()["hnb"]["pools"] == ["pool-b"]


def test_a_garbled_state_file_falls_back_to_the_first_half(tmp_path: Path) -> None:
    state = tmp_path / "active_pool"
    state.write_text("c\n")
    assert _gw(state).active_pool == "a"
