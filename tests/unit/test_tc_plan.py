"""The tc backend's planner on synthetic kernel state: pure, no root needed."""
from netqos.wire import PortQos
from netqos.agent.tc import maths
from netqos.agent.tc.plan import Planner
from netqos.agent.tc.spec import Shaper, port_spec
from netqos.agent.tc.state import IFB_NAME, HostState, HtbClass, HtbTree, MacFilter

CAPS = {"ifb": True, "police": False}
PORT = "11111111-2222-3333-4444-555555555555"
TAP = "tap" + PORT[:11]
MAC = "fa:16:3e:00:00:01"


def _port(*rules, mac=MAC, port_id=PORT) -> PortQos:
    return PortQos(port_id, 1, mac, rules=tuple(rules))


def _bw(kbps, direction):
    return {"type": "bandwidth_limit", "max_kbps": kbps, "max_burst_kbps": 0,
            "direction": direction}


def _plan(ports, state, memo=None, uplink=None):
    return Planner([port_spec(p) for p in ports], state, memo or {}, uplink, CAPS).plan()


def _lines(changes):
    return [c.line for ch in changes for c in ch.payload.commands]


def test_ingress_limit_becomes_a_tbf_root():
    state = HostState(links={TAP: 5})
    changes = _plan([_port(_bw(10_000, "ingress"))], state)
    assert [c.action for c in changes] == ["create"]
    assert _lines(changes) == [f"qdisc replace dev {TAP} root handle 4e51: tbf rate "
                               f"10000000bit burst 12500 limit 37500"]


def test_matching_state_plans_nothing_and_changed_rate_updates_in_place():
    want = port_spec(_port(_bw(10_000, "ingress"))).ingress
    state = HostState(links={TAP: 5}, root_tbf={TAP: want})
    assert _plan([_port(_bw(10_000, "ingress"))], state) == []
    changes = _plan([_port(_bw(20_000, "ingress"))], state)
    assert [c.action for c in changes] == ["update"] and not changes[0].drift
    assert "root handle 4e51: tbf rate 20000000bit" in _lines(changes)[0]


def test_hand_edit_is_drift_when_we_wrote_the_desired_value():
    want = port_spec(_port(_bw(10_000, "ingress"))).ingress
    state = HostState(links={TAP: 5}, root_tbf={TAP: Shaper(99, 99, 99)})
    changes = _plan([_port(_bw(10_000, "ingress"))], state, memo={(PORT, "ingress"): want})
    assert changes[0].drift and "(drift)" in str(changes[0])


def test_missing_device_is_skipped():
    changes = _plan([_port(_bw(10_000, "ingress"))], HostState())
    assert [(c.action, c.port_id) for c in changes] == [("skip", PORT)]


def test_egress_needs_ifb_class_redirect_classifier_and_map_entry_in_order():
    state = HostState(links={TAP: 5})
    changes = _plan([_port(_bw(10_000, "egress"))], state)
    cmds = sorted((c for ch in changes for c in ch.payload.commands), key=lambda c: c.phase)
    text = [c.line for c in cmds]
    assert text[:3] == [f"link add {IFB_NAME} type ifb", f"link set {IFB_NAME} up", "pin"]
    order = [next(i for i, t in enumerate(text) if key in t) for key in
             ("classid 4e51:10 htb", "bfifo limit", "ingress_block",
              "pref 1 handle 1 bpf da object-pinned", "pref 2 handle 800::800 u32")]
    assert order == sorted(order)   # the map entry goes in after the tc batch (backend)
    assert f"set 5 {0x4E510010}" in text
    assert not any("ether src" in t for t in text)


def test_two_ports_with_one_mac_each_get_a_class_keyed_by_their_tap():
    other = "99999999-2222-3333-4444-555555555555"
    state = HostState(links={TAP: 5, "tap" + other[:11]: 6})
    changes = _plan([_port(_bw(10_000, "egress")),
                     _port(_bw(20_000, "egress"), port_id=other)], state)
    assert not [c for c in changes if c.action == "skip"]
    text = _lines(changes)
    assert f"set 5 {0x4E510010}" in text and f"set 6 {0x4E510011}" in text


def test_classifier_entry_lost_is_drift_and_class_is_kept():
    want = port_spec(_port(_bw(10_000, "egress"))).egress
    ifb = HtbTree(IFB_NAME, present=True, default_minor=1,
                  classes={1: HtbClass(1, None, 125000, 125000, 3028),
                           0x12: HtbClass(0x12, None, want.rate_bytes_per_s,
                                          want.rate_bytes_per_s, want.burst_bytes,
                                          want.queue_bytes - want.burst_bytes)})
    state = HostState(links={TAP: 5, IFB_NAME: 9}, ifb=ifb, redirected={TAP},
                      block_filter_to=IFB_NAME, classifier_prog=7,
                      block_prefs={1: "bpf", 2: "u32"}, port_classes={5: 0x12, 8: 0x13})
    changes = _plan([_port(_bw(10_000, "egress"))], state,
                    memo={(PORT, "classify"): (TAP, 0x12)})
    assert _lines(changes) == ["del 8"] or "del 8" in _lines(changes)
    state.port_classes = {}
    changes = _plan([_port(_bw(10_000, "egress"))], state,
                    memo={(PORT, "classify"): (TAP, 0x12)})
    entry = [c for c in changes if c.what.startswith("classifier entry")]
    assert len(entry) == 1 and entry[0].drift


def test_older_mac_keyed_layout_is_replaced():
    ifb = HtbTree(IFB_NAME, present=True, default_minor=1, hashed=True,
                  classes={1: HtbClass(1, None, 125000, 125000, 3028)},
                  filters=[MacFilter("2:1:10", MAC, 0x10)])
    state = HostState(links={TAP: 5, IFB_NAME: 9}, ifb=ifb, redirected={TAP},
                      block_filter_to=None, block_prefs={1: "u32"})
    text = _lines(_plan([_port(_bw(10_000, "egress"))], state))
    assert f"filter del dev {IFB_NAME} parent 4e51: prio 1" in text
    assert f"set 5 {0x4E510010}" in text   # the class its MAC filter fed is kept
    assert "filter del block 20049 protocol all pref 1" in text


def test_stale_objects_of_removed_ports_are_deleted():
    ifb = HtbTree(IFB_NAME, present=True, default_minor=1, hashed=True,
                  classes={1: HtbClass(1, None, 125000, 125000, 3028),
                           0x10: HtbClass(0x10, None, 1250000, 1250000, 12500, 25000)},
                  filters=[MacFilter("2:1:10", MAC, 0x10)])
    state = HostState(links={TAP: 5, IFB_NAME: 9}, ifb=ifb, redirected={TAP},
                      block_filter_to=IFB_NAME,
                      root_tbf={TAP: Shaper(1250000, 12500, 25000)})
    changes = _plan([_port()], state)
    text = _lines(changes)
    assert f"qdisc del dev {TAP} clsact" in text
    assert f"qdisc del dev {TAP} root handle 4e51:" in text
    assert f"link del {IFB_NAME}" in text
    assert all(c.action == "delete" for c in changes)


def test_minimum_bandwidth_without_uplink_is_skipped_and_with_one_builds_a_tree():
    rule = {"type": "minimum_bandwidth", "min_kbps": 150_000, "direction": "egress"}
    state = HostState(links={TAP: 5})
    assert [c.action for c in _plan([_port(rule)], state)] == ["skip"]
    state = HostState(links={TAP: 5, "eth1": 2}, uplink=HtbTree("eth1"))
    text = _lines(_plan([_port(rule)], state, uplink=("eth1", 200_000)))
    assert any("classid 4e51:1 htb rate 200000000bit" in t for t in text)
    assert any("classid 4e51:10 htb rate 150000000bit ceil 200000000bit" in t for t in text)
    assert any("classid 4e51:2 htb rate 50000000bit" in t for t in text)
    # classified by the device it came in on; routed: on its way to the uplink; bridged:
    # whatever it leaves by (a VXLAN device encapsulates it into the host's own UDP)
    assert 'add rule inet netqos uplink_hook oifname "eth1" meta priority set ' \
           'iifname map @uplink_class' in text
    assert 'add rule bridge netqos uplink_hook meta priority 4e51:0-4e51:ffff ' \
           'meta priority set 0' in text
    assert 'add rule bridge netqos uplink_hook meta priority set iifname map @uplink_class' \
        in text
    for family in ("inet", "bridge"):
        assert f'add element {family} netqos uplink_class {{ "{TAP}" : 4e51:10 }}' in text


def test_dscp_and_pps_go_to_per_port_chains_in_both_families():
    rules = ({"type": "dscp_marking", "dscp_mark": 46},
             {"type": "packet_rate_limit", "max_kpps": 1, "max_burst_kpps": 0,
              "direction": "ingress"})
    text = _lines(_plan([_port(*rules)], HostState(links={TAP: 5})))
    for family in ("inet", "bridge"):
        assert f"add rule {family} netqos p-{PORT}-out ip dscp set 46" in text
        assert f"add rule {family} netqos p-{PORT}-in limit rate over 1000/second burst 10 " \
               f"packets drop" in text
        assert f'add element {family} netqos to_vm {{ "{TAP}" : jump p-{PORT}-in }}' in text


def test_burst_from_rule_is_used():
    spec = port_spec(_port({"type": "bandwidth_limit", "max_kbps": 10_000,
                            "max_burst_kbps": 800, "direction": "ingress"}))
    assert spec.ingress.burst_bytes == maths.kbit_to_bytes(800)
