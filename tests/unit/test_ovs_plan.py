"""The OVS backend's pure parts: specs, flows, the planner per datapath, OpenFlow encoding.

The kernel (`system`) datapath is not available on this project's machines (no openvswitch
module); its mechanisms (ingress policing, uplink queue guarantees) are checked here at the
plan level, the netdev ones also end to end in tests/dataplane/test_ovs_*.py.
"""
from __future__ import annotations

import struct

from netqos.wire import PortQos
from netqos.agent.ovs import flows as fl
from netqos.agent.ovs.openflow import MeterOp, parse_flow_cookies, parse_meter_configs
from netqos.agent.ovs.plan import Mechanisms, Planner
from netqos.agent.ovs.spec import METER_MIN_BURST_KBIT, kbps_meter, port_spec
from netqos.wire import rule_of
from netqos.agent.ovs.state import Iface, Meter, OvsState, QosRow, QueueRow

PID = "11111111-2222-4333-8444-555555555555"
MAC = "02:00:00:00:00:01"
NETDEV = Mechanisms("netdev", True, True)
SYSTEM = Mechanisms("system", True, True)


def bw(kbps, direction, burst=0):
    return {"type": "bandwidth_limit", "max_kbps": kbps, "max_burst_kbps": burst,
            "direction": direction}


def state(**kw) -> OvsState:
    s = OvsState(bridge_exists=True, datapath_type="netdev")
    s.ifaces[PID] = Iface("tap11111111-22", PID, 5, MAC, "tap11111111-22")
    for k, v in kw.items():
        setattr(s, k, v)
    return s


def plan(rules, st=None, mech=NETDEV, memo=None, uplink=None):
    spec = port_spec(PortQos(PID, 1, MAC, rules=tuple(rules)))
    return Planner([spec], st or state(), memo or {}, mech, uplink).plan()


def test_meter_burst_defaults_and_floor():
    assert kbps_meter(rule_of(bw(10_000, "egress"))).burst == 4000
    assert kbps_meter(rule_of(bw(10_000, "egress", 50))).burst == METER_MIN_BURST_KBIT
    assert kbps_meter(rule_of(bw(100_000, "egress", 20_000))).burst == 20_000


def test_netdev_egress_limit_is_a_meter_and_its_flows():
    changes = plan([bw(10_000, "egress")])
    meter = next(c for c in changes if "meter" in c.what)
    assert meter.payload.meters[0].unit == "kbps" and meter.payload.meters[0].meter_id == 1
    assert meter.payload.db[0].kind == "register"
    flows = next(c for c in changes if c.port_id == PID and c.what.startswith("flows"))
    assert any("in_port=5,actions=meter:1,goto_table:1" in ln for ln in flows.payload.flows)
    assert not any(op.kind == "policing" for c in changes for op in c.payload.db)


def test_kernel_egress_limit_is_policing_without_a_meter():
    changes = plan([bw(10_000, "egress")], mech=SYSTEM)
    ops = [op for c in changes for op in c.payload.db]
    assert [op.args for op in ops if op.kind == "policing"] == [("tap11111111-22", 10_000,
                                                                 4000)]
    assert not any(c.payload.meters for c in changes)


def test_minimum_bandwidth_refused_on_netdev_and_queued_on_the_uplink_in_kernel():
    rule = {"type": "minimum_bandwidth", "min_kbps": 5000, "direction": "egress"}
    skip = plan([rule])
    assert skip[0].action == "skip" and "unsupported" in skip[0].what
    changes = plan([rule], mech=SYSTEM, uplink=("eth1", 1_000_000))
    uplink = next(c for c in changes if "uplink" in c.what)
    (op,) = uplink.payload.db
    name, _, capacity, queues, is_uplink, _ = op.args
    assert (name, capacity, is_uplink) == ("eth1", 1_000_000_000, True)
    assert queues[1] == (1_000_000_000, 5_000_000, None, PID)
    flows = next(c for c in changes if c.port_id == PID and c.what.startswith("flows"))
    assert any("set_queue:1" in ln for ln in flows.payload.flows)


def test_meters_avoid_foreign_ids_and_update_in_place():
    foreign = {1: Meter(1, "kbps", 5, 5)}
    changes = plan([bw(10_000, "egress")], state(meters=foreign))
    assert next(c for c in changes if "meter" in c.what).payload.meters[0].meter_id == 2
    mine = state(registry={7: (PID, "egress-kbps")}, meters={7: Meter(7, "kbps", 5000, 2000)})
    (change,) = [c for c in plan([bw(10_000, "egress")], mine) if "meter" in c.what]
    assert change.action == "update" and change.payload.meters[0].command == "mod"
    assert change.payload.db == ()   # already recorded


def test_stale_meter_goes_after_the_flows_and_its_record_last():
    st = state(registry={3: ("gone-port", "ingress-pktps")},
               meters={3: Meter(3, "pktps", 1000, 10)})
    (change,) = [c for c in plan([], st) if c.port_id == "gone-port"]
    assert change.payload.meters_late[0].command == "del" and not change.payload.meters
    assert change.payload.db_late[0].args == (3, None)


def test_into_vm_shaper_in_place_and_drift():
    want = bw(20_000, "ingress")
    queue = QueueRow("q", 10_000_000, None, None, PID)
    row = QosRow("u1", "linux-htb", PID, False, 10_000_000, {0: queue}, ["tap11111111-22"])
    (change,) = [c for c in plan([want], state(qos={"u1": row})) if "shaper" in c.what]
    assert change.action == "update" and change.payload.db[0].args[-1] == "u1"
    # someone deleted the row we wrote: a create, flagged as drift
    spec = port_spec(PortQos(PID, 1, MAC, rules=(want,)))
    changes = plan([want], memo={(PID, "qos"): spec.ingress_bw})
    assert next(c for c in changes if "shaper" in c.what).drift


def test_second_plan_against_applied_state_is_empty():
    rules = [bw(10_000, "egress"), bw(10_000, "ingress"),
             {"type": "dscp_marking", "dscp_mark": 46}]
    first = plan(rules)
    cookies = {int(ln.split("cookie=")[1].split(",")[0], 16)
               for c in first for ln in c.payload.flows if ln.startswith("add")}
    op = next(m for c in first for m in c.payload.meters)
    queue = QueueRow("q", 10_000_000, None, None, PID)
    st = state(cookies=cookies, registry={op.meter_id: (PID, "egress-kbps")},
               meters={op.meter_id: Meter(op.meter_id, op.unit, op.rate, op.burst)},
               qos={"u": QosRow("u", "linux-htb", PID, False, 10_000_000, {0: queue},
                                ["tap11111111-22"])})
    assert plan(rules, st) == []


def test_flow_cookies_carry_the_tag_and_change_with_the_flow():
    a = fl.Flow(0, 100, "in_port=1", "goto_table:1")
    b = fl.Flow(0, 100, "in_port=1", "meter:2,goto_table:1")
    assert a.cookie >> 48 == fl.TAG and a.cookie != b.cookie
    assert a.cookie == fl.Flow(0, 100, "in_port=1", "goto_table:1").cookie


def test_openflow_encoding_round_trip():
    msg = MeterOp("add", 9, "pktps", 2000, 20).encode(7)
    version, kind, length, xid = struct.unpack_from("!BBHI", msg)
    assert (version, kind, length, xid) == (4, 29, len(msg), 7) and length == 32
    config = struct.pack("!HHI", 24, 2 | 4 | 8, 9) + msg[16:]
    assert parse_meter_configs(config) == {9: Meter(9, "pktps", 2000, 20)}
    entry = struct.pack("!HBxIIHHHH4xQQQ", 56, 0, 0, 0, 1, 0, 0, 0, 0x4E51000000000001, 0,
                        0) + struct.pack("!HH4x", 1, 4)   # + an empty OXM match
    assert parse_flow_cookies(entry) == {0x4E51000000000001}


def test_userspace_tso_scales_the_egress_meter_to_the_wire():
    tso = Mechanisms("netdev", True, True, userspace_tso=True)
    (change,) = [c for c in plan([bw(10_000, "egress")], mech=tso) if "meter" in c.what]
    assert change.payload.meters[0].rate == 9564 and "TSO" in change.detail
    kernel = Mechanisms("system", True, True, userspace_tso=True)
    assert not any(c.payload.meters for c in plan([bw(10_000, "egress")], mech=kernel))


def test_into_vm_limits_are_refused_for_a_mac_two_ports_share():
    """Into-VM flows match dl_dst: with two ports on the bridge having one MAC, a limit
    would take the other port's traffic too, so neither gets a dl_dst flow; both keep
    their from-VM limits."""
    other = "99999999-2222-4333-8444-555555555555"
    st = state()
    st.ifaces[other] = Iface("tap99999999-22", other, 6, MAC, "tap99999999-22")
    rules = (bw(10_000, "ingress"), bw(5_000, "egress"))
    specs = [port_spec(PortQos(PID, 1, MAC, rules=rules)),
             port_spec(PortQos(other, 1, MAC, rules=rules))]
    changes = Planner(specs, st, {}, NETDEV).plan()
    skips = {c.port_id: c.what for c in changes if c.action == "skip"}
    assert set(skips) == {PID, other} and "another port" in skips[PID]
    flows = [ln for c in changes for ln in getattr(c.payload, "flows", ()) or ()]
    assert not any(f"dl_dst={MAC}" in ln for ln in flows)
    assert not any("set_queue:0" in ln for ln in flows)
    assert any("in_port=5,actions=meter:" in ln for ln in flows)     # from-VM limits stay
    assert any("in_port=6,actions=meter:" in ln for ln in flows)
    # one MAC each: both get their flow
    st.ifaces[other] = Iface("tap99999999-22", other, 6, "02:00:00:00:00:02", "x")
    specs[1] = port_spec(PortQos(other, 1, "02:00:00:00:00:02", rules=(bw(10_000, "ingress"),)))
    assert not [c for c in Planner(specs, st, {}, NETDEV).plan() if c.action == "skip"]


def test_a_flow_with_a_control_character_is_never_sent_and_names_its_cookie():
    from netqos.agent.ovs.openflow import Switch, failed_cookies

    switch = Switch("br-x", "/nonexistent")       # nothing may be run: no ovs-ofctl here
    switch._ofctl = lambda *a: (_ for _ in ()).throw(AssertionError("sent"))
    err = switch.flow_bundle(["add cookie=0x4e51000000000001,table=0,in_port=1,actions=NORMAL",
                              "add cookie=0x4e51000000000002,dl_dst=02:00:00:00:00:01\n"
                              "table=0,actions=drop"])
    assert failed_cookies(err) == {0x4e51000000000002}
