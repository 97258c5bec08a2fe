"""The OVS backend's OVSDB writes (ovs/ovsdb.py: Ops -> ovsdbapp commands, one transaction
per change set) against a real ovsdb-server and ovs-vswitchd (tests/harness/ovs.py), read
back through ovs-vsctl, not through the code under test."""
from __future__ import annotations

import json

import pytest

from netqos.agent.ovs.ovsdb import Op, Ovsdb
from netqos.agent.ovs.state import METER_KEY_PREFIX
from tests.dataplane.ovs_fixtures import ovs_lab  # noqa: F401


@pytest.fixture
def db(ovs_lab):
    db = Ovsdb(ovs_lab.db, ovs_lab.bridge)
    yield db
    db.close()


def _column(lab, table: str, record: str, column: str) -> str:
    return lab.vsctl("--if-exists", "get", table, record, column).strip()


def _rows(lab, table: str) -> list[dict]:
    doc = json.loads(lab.vsctl("--format=json", "--data=json", "list", table))
    return [dict(zip(doc["headings"], row)) for row in doc["data"]]


def _map(value) -> dict:
    return dict(value[1]) if value and value[0] == "map" else {}


def test_qos_is_created_edited_in_place_and_removed_with_its_queues(ovs_lab, db):
    vm = ovs_lab.add_vm()
    q0 = (10_000_000, None, 80_000, vm.port_id)
    db.transact([Op("qos", (vm.device, vm.port_id, 10_000_000, {0: q0}, False, None))])
    row = db.snapshot().qos_of_port(vm.port_id)[0]
    assert row.attached == [vm.device] and row.max_rate_bps == 10_000_000
    assert _column(ovs_lab, "Port", vm.device, "qos") == row.uuid
    assert (row.queues[0].max_rate_bps, row.queues[0].burst_bits) == (10_000_000, 80_000)
    queue0 = row.queues[0].uuid

    # in place: the QoS row and queue 0 keep their uuids; burst goes, min-rate comes
    db.transact([Op("qos", (vm.device, vm.port_id, 20_000_000,
                            {0: (20_000_000, 5_000_000, None, vm.port_id),
                             1: (20_000_000, None, None, vm.port_id)}, False, row.uuid))])
    after = db.snapshot().qos_of_port(vm.port_id)[0]
    assert after.uuid == row.uuid and after.queues[0].uuid == queue0
    assert _map(next(r for r in _rows(ovs_lab, "Queue") if r["_uuid"][1] == queue0)
                ["other_config"]) == {"max-rate": "20000000", "min-rate": "5000000"}
    assert sorted(after.queues) == [0, 1] and after.max_rate_bps == 20_000_000

    # a queue dropped from the map is deleted, not left behind in the root table
    db.transact([Op("qos", (vm.device, vm.port_id, 20_000_000,
                            {1: (20_000_000, None, None, vm.port_id)}, False, row.uuid))])
    assert [r["_uuid"][1] for r in _rows(ovs_lab, "Queue")] == [after.queues[1].uuid]

    db.transact([Op("unqos", (row.uuid, vm.device))])
    assert _rows(ovs_lab, "QoS") == [] and _rows(ovs_lab, "Queue") == []
    assert _column(ovs_lab, "Port", vm.device, "qos") == "[]"
    db.transact([Op("unqos", (row.uuid, vm.device))])    # already gone: nothing to do


def test_meter_records_policing_and_a_missing_interface(ovs_lab, db):
    vm = ovs_lab.add_vm()
    db.transact([Op("register", (7, f"{vm.port_id}/egress")),
                 Op("register", (8, f"{vm.port_id}/pps-ingress")),
                 Op("policing", (vm.device, 10_000, 1_000)),
                 Op("policing", ("nq-no-such-iface", 10_000, 1_000))])   # if_exists
    assert db.snapshot().registry == {7: (vm.port_id, "egress"),
                                      8: (vm.port_id, "pps-ingress")}
    assert _column(ovs_lab, "Interface", vm.device, "ingress_policing_rate") == "10000"
    assert _column(ovs_lab, "Interface", vm.device, "ingress_policing_burst") == "1000"
    db.transact([Op("register", (7, None)), Op("register", (9, None))])
    ids = _map(_rows(ovs_lab, "Bridge")[0]["external_ids"])
    assert f"{METER_KEY_PREFIX}7" not in ids and ids[f"{METER_KEY_PREFIX}8"]


def test_bridge_is_created_standalone_once(ovs_lab):
    name = f"{ovs_lab.bridge}b"
    db = Ovsdb(ovs_lab.db, name)
    try:
        for _ in range(2):     # may_exist: a second create changes nothing
            db.transact([Op("bridge", (name, ovs_lab.server.datapath_type))])
        assert ovs_lab.vsctl("list-br").split().count(name) == 1
        assert _column(ovs_lab, "Bridge", name, "fail_mode") == "standalone"
        assert _column(ovs_lab, "Bridge", name, "datapath_type") == \
            ovs_lab.server.datapath_type
        assert _column(ovs_lab, "Interface", name, "type") == "internal"
        assert db.snapshot().bridge_exists
    finally:
        ovs_lab.vsctl("--if-exists", "del-br", name)
        db.close()
