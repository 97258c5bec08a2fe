"""The L3 backend's pure parts: spec from the server's router, u32 address filters read
back from `tc filter show`, and the planner on synthetic namespace state."""
from __future__ import annotations

from netqos.agent.l3 import u32
from netqos.agent.l3.model import FipQos, RouterQos
from netqos.agent.l3.observe import RouterState, Tree
from netqos.agent.l3.plan import GATEWAY_MINOR, RouterPlanner
from netqos.agent.l3.spec import IFB_NAME, router_spec
from netqos.agent.tc.state import HtbClass
from netqos.qos import backends

GW = "5f18c14b-d006-45d6-8339-d0b9f673d8f4"
QG = "qg-5f18c14b-d0"


def bw(kbps: int, direction: str) -> dict:
    return {"type": "bandwidth_limit", "max_kbps": kbps, "max_burst_kbps": 0,
            "direction": direction}


def router(*fips: FipQos, gw_rules=()) -> RouterQos:
    return RouterQos("r1", 1, GW, QG, "qrouter-r1", ("198.18.200.2", "fd00:198:18:c8::2"),
                     "gwp", tuple(gw_rules), tuple(fips))


def empty_state() -> RouterState:
    return RouterState("qrouter-r1", QG, links={"lo", QG}, egress=Tree(QG, "src"),
                       ifb=Tree(IFB_NAME, "dst"))


def lines(changes) -> list[str]:
    return [cmd.line for c in changes for cmd in c.payload.commands]


def test_spec_directions_and_gateway():
    spec = router_spec(router(FipQos("f1", "198.18.200.10", rules=(bw(20000, "egress"),)),
                              FipQos("f2", "FD00:198:18:C8:0::10",
                                     rules=(bw(50000, "ingress"),)),
                              FipQos("f3", "198.18.200.12"),
                              gw_rules=(bw(30000, "egress"),)))
    assert [(f.key, f.addresses) for f in spec.egress] == [
        ("gateway", ("198.18.200.2", "fd00:198:18:c8::2")), ("f1", ("198.18.200.10",))]
    assert [(f.key, f.addresses) for f in spec.ingress] == [("f2", ("fd00:198:18:c8::10",))]
    assert spec.egress[1].shaper.rate_bytes_per_s == 20000 * 1000 // 8


def test_plan_from_nothing_builds_both_trees_and_the_redirect():
    spec = router_spec(router(FipQos("f1", "198.18.200.10",
                                     rules=(bw(20000, "egress"), bw(20000, "ingress"))),
                              gw_rules=(bw(30000, "egress"),)))
    changes = RouterPlanner(spec, empty_state(), {}, GW).plan()
    text = lines(changes)
    assert any(ln.startswith(f"qdisc replace dev {QG} root handle 4e51: htb default 0")
               for ln in text)
    assert f"link add {IFB_NAME} type ifb" in text
    assert any("match ip src 198.18.200.10/32 classid 4e51:10" in ln for ln in text)
    assert any("match ip dst 198.18.200.10/32 classid 4e51:10" in ln for ln in text)
    # the gateway's two addresses feed its one class, with distinct u32 nodes
    gw_filters = [ln for ln in text if f"classid 4e51:{GATEWAY_MINOR:x}" in ln
                  and ln.startswith("filter")]
    assert len(gw_filters) == 2 and "handle 1:2:800" in gw_filters[0] \
        and "handle 6:2:801" in gw_filters[1]
    assert any("action mirred egress redirect dev nq-l3-ifb" in ln for ln in text)
    assert all(c.port_id == GW for c in changes)


def test_adopts_existing_classes_and_changes_rates_in_place():
    spec = router_spec(router(FipQos("f1", "198.18.200.10", rules=(bw(50000, "egress"),))))
    state = empty_state()
    state.egress.present, state.egress.default_minor, state.egress.hashed = True, 0, True
    state.egress.classes[0x33] = HtbClass(0x33, None, 2_500_000, 2_500_000, 25000, 50000)
    state.egress.filters = [u32.AddrFilter("1:a:33", "198.18.200.10", 0x33)]
    changes = RouterPlanner(spec, state, {}, GW).plan()
    assert [c.action for c in changes] == ["update"]
    assert lines(changes)[0].startswith(f"class replace dev {QG} parent 4e51: classid 4e51:33")


def test_nothing_desired_removes_everything_ours_only():
    state = empty_state()
    state.links.add(IFB_NAME)
    state.egress.present, state.clsact, state.redirect_to = True, True, IFB_NAME
    text = lines(RouterPlanner(None, state, {}, GW).plan())
    assert text == [f"qdisc del dev {QG} root handle 4e51:", f"qdisc del dev {QG} clsact",
                    f"link del {IFB_NAME}"]
    foreign = empty_state()
    foreign.clsact, foreign.redirect_to = True, "someone-else"
    assert lines(RouterPlanner(None, foreign, {}, GW).plan()) == []


def test_absent_device_is_a_skip():
    spec = router_spec(router(FipQos("f1", "198.18.200.10", rules=(bw(1000, "egress"),))))
    state = RouterState("qrouter-r1", QG, links={"lo"})
    [change] = RouterPlanner(spec, state, {}, GW).plan()
    assert change.action == "skip" and QG in change.what


SHOW = """\
filter protocol all pref 1 u32 chain 0
filter protocol all pref 1 u32 chain 0 fh 6: ht divisor 256
filter protocol all pref 1 u32 chain 0 fh 6::800 order 2048 key ht 6 bkt 0 *flowid 4e51:2 not_in_hw
  match fd000198/ffffffff at 8
  match 001800c8/ffffffff at 12
  match 00000000/ffffffff at 16
  match 00000100/ffffffff at 20
filter protocol all pref 1 u32 chain 0 fh 1: ht divisor 256
filter protocol all pref 1 u32 chain 0 fh 1:a:10 order 16 key ht 1 bkt a *flowid 4e51:10 not_in_hw
  match c612c80a/ffffffff at 12
filter protocol all pref 1 u32 chain 0 fh 800: ht divisor 1
filter protocol all pref 1 u32 chain 0 fh 800::1 order 1 key ht 800 bkt 0 link 1: not_in_hw
  match 00000800/0000ffff at -4
    hash mask 000000ff at 12
filter protocol all pref 1 u32 chain 0 fh 800::2 order 2 key ht 800 bkt 0 link 6: not_in_hw
  match 000086dd/0000ffff at -4
    hash mask 000000ff at 20
"""


def test_u32_reader():
    hashed, filters = u32.parse_show(SHOW, "src")
    assert hashed
    assert [(f.handle, f.address, f.minor) for f in filters] == [
        ("6::800", "fd00:198:18:c8::100", 2), ("1:a:10", "198.18.200.10", 0x10)]
    # the same filters hash the source: as a destination tree they are not ours as built
    assert not u32.parse_show(SHOW, "dst")[0]
    assert u32.handle_of("fd00:198:18:c8::100", 0x800) == "6:0:800"


def test_l3_support_table_and_rule_type_details():
    rules = [bw(1000, "egress"), {"type": "dscp_marking", "dscp_mark": 10}]
    assert backends.l3_ignored_rule_types(rules) == ["dscp_marking"]
    assert backends.l3_driver_detail("bandwidth_limit")["enforced"] is True
    detail = backends.l3_driver_detail("minimum_bandwidth")
    assert detail["enforced"] is False and "ignored for floating IPs" in detail["note"]
    # it never becomes a port's backend
    assert backends.backend_for_port("normal", ["l3-fip"]) is not backends.L3_FIP
