"""The OVS L2 plan: desired - actual = changes, on a hand-built OVS state (no switch):
bridges and patch ports, VXLAN tunnels and br-tun flows (with and without l2population),
flat and VLAN translation on br-<physnet>, local VLAN allocation and its reuse after a
restart, the dead VLAN, drift, and what is refused. `converge()` plays a plan onto the
state the way OVSDB and the switch would, so "a second plan is empty" can be asserted."""
from __future__ import annotations

import dataclasses
import re

import pytest

from netqos.agent.l2.model import InvalidL2, L2Desired, LocalPort
from netqos.agent.l2.openvswitch import flows as fl
from netqos.agent.l2.openvswitch import names
from netqos.agent.l2.openvswitch.options import OvsL2Options
from netqos.agent.l2.openvswitch.plan import FLOWS, OVSDB, plan
from netqos.agent.l2.openvswitch.state import BridgeRow, OvsL2State, PortRow
from netqos.agent.l2.openvswitch.vlans import allocate

NET_A = "aaaaaaaa-1111-4000-8000-000000000001"
NET_B = "bbbbbbbb-2222-4000-8000-000000000002"
PORT_1 = "11111111-aaaa-4000-8000-000000000001"
PORT_2 = "22222222-bbbb-4000-8000-000000000002"
MAC_1, MAC_2, MAC_R = "fa:16:3e:00:00:01", "fa:16:3e:00:00:02", "fa:16:3e:00:00:99"
TAP_1, TAP_2 = "tap" + PORT_1[:11], "tap" + PORT_2[:11]
OPTS = OvsL2Options(bridge_mappings={"physnet1": "br-physnet1"}, local_ip="198.18.0.1",
                    tunnel_types=("vxlan",), l2_population=True)
REMOTE = [{"host": "h2", "local_ip": "198.18.0.2", "network_id": NET_A, "macs": [MAC_R]},
          {"host": "h3", "local_ip": "198.18.0.3", "network_id": NET_A, "macs": []}]


def net(kind="vxlan", net_id=NET_A, seg=1001, physnet=None) -> dict:
    return {"network_id": net_id, "network_type": kind, "segmentation_id": seg,
            "physical_network": physnet}


def desired(*networks: dict, ports=None, remote=()) -> L2Desired:
    if ports is None:
        ports = [{"port_id": PORT_1, "mac_address": MAC_1,
                  "network_id": networks[0]["network_id"]}]
    return L2Desired.from_wire({"l2": {"networks": list(networks), "ports": ports,
                                       "remote": list(remote)}})


def host(*vm_ports: PortRow, phys=True) -> OvsL2State:
    """A fresh host: br-physnet1 with its NIC (the operator's), VM ports on br-int."""
    s = OvsL2State()
    if phys:
        s.bridges["br-physnet1"] = BridgeRow("br-physnet1", "netdev", None, {
            "br-physnet1": PortRow("br-physnet1", "internal", 65534),
            "eth1": PortRow("eth1", "", 1)})
    s.bridges["br-int"] = BridgeRow("br-int", "netdev", "secure", {
        "br-int": PortRow("br-int", "internal", 65534),
        **{p.name: p for p in vm_ports}})
    return s


def vm(name=TAP_1, port_id=PORT_1, ofport=5, **kw) -> PortRow:
    return PortRow(name, "", ofport, iface_id=port_id, **kw)


def converge(state: OvsL2State, p) -> OvsL2State:
    """Play the plan onto the state: OVSDB edits and flow lines."""
    s = dataclasses.replace(state, bridges={k: dataclasses.replace(b, ports=dict(b.ports))
                                            for k, b in state.bridges.items()},
                            cookies={k: set(v) for k, v in state.cookies.items()})
    where = {n: b for b in s.bridges.values() for n in b.ports}
    next_ofport = 100
    for change in p.changes:
        op = change.payload
        if op.kind == OVSDB:
            verb, *args = op.edit
            if verb == "bridge":
                s.bridges[args[0]] = BridgeRow(args[0], args[1], args[2])
            elif verb == "fail_mode":
                s.bridges[args[0]].fail_mode = args[1]
            elif verb == "add_port":
                bridge, name, kind, options = args
                next_ofport += 1
                s.bridges[bridge].ports[name] = PortRow(name, kind, next_ofport,
                                                        tuple(sorted(options.items())))
                where[name] = s.bridges[bridge]
            elif verb == "iface":
                name, kind, options = args
                row = where[name].ports[name]
                where[name].ports[name] = dataclasses.replace(
                    row, iface_type=kind, options=tuple(sorted(options.items())))
            elif verb == "del_port":
                del s.bridges[args[0]].ports[args[1]]
            elif verb == "port":
                name, tag, config = args
                row = where[name].ports[name]
                where[name].ports[name] = dataclasses.replace(
                    row, tag=tag, other_config=tuple(sorted(config.items())))
        else:
            cookie = int(re.match(r"(?:add|delete) cookie=(0x[0-9a-f]+)", op.line).group(1),
                             16)
            bag = s.cookies.setdefault(op.bridge, set())
            bag.discard(cookie) if op.line.startswith("delete") else bag.add(cookie)
    return s


def settle(d: L2Desired, s: OvsL2State, opts=OPTS) -> OvsL2State:
    for _ in range(3):
        s = converge(s, plan(d, s, opts))
    assert plan(d, s, opts).changes == []
    return s


def flow_texts(p, bridge) -> list[str]:
    return [c.what.split(": ", 1)[1] for c in p.changes
            if c.payload.kind == FLOWS and c.payload.bridge == bridge
            and c.action == "create"]


def edits(p, verb) -> list[tuple]:
    return [c.payload.edit for c in p.changes
            if c.payload.kind == OVSDB and c.payload.edit[0] == verb]


# --- bridges, patches, tunnels ------------------------------------------------------
def test_fresh_host_creates_br_tun_patches_secure_bridges_and_tunnels():
    p = plan(desired(net(), remote=REMOTE), host(vm()), OPTS)
    assert edits(p, "bridge") == [("bridge", "br-tun", "netdev", "secure")]
    assert edits(p, "fail_mode") == [("fail_mode", "br-physnet1", "secure")]
    added = {e[2]: (e[1], e[3], e[4]) for e in edits(p, "add_port")}
    assert added["patch-tun"] == ("br-int", "patch", {"peer": "patch-int"})
    assert added["patch-int"] == ("br-tun", "patch", {"peer": "patch-tun"})
    assert added["int-br-physnet1"] == ("br-int", "patch", {"peer": "phy-br-physnet1"})
    assert added["phy-br-physnet1"] == ("br-physnet1", "patch", {"peer": "int-br-physnet1"})
    assert added["vxlan-c6120002"] == ("br-tun", "vxlan", {
        "remote_ip": "198.18.0.2", "local_ip": "198.18.0.1", "in_key": "flow",
        "out_key": "flow", "df_default": "true"})
    assert "vxlan-c6120003" in added
    assert edits(p, "port") == [("port", TAP_1, 1, {
        "net_uuid": NET_A, "local_vlan": "1", "network_type": "vxlan",
        "segmentation_id": "1001"})]


def test_vxlan_flows_unicast_by_mac_flood_to_all_and_in_by_vni():
    s = settle(desired(net(), remote=REMOTE), host(vm()))
    tun = s.ports("br-tun")
    patch, t2, t3 = (tun[n].ofport for n in ("patch-int", "vxlan-c6120002",
                                             "vxlan-c6120003"))
    p = plan(desired(net(), remote=REMOTE), dataclasses.replace(s, cookies={}), OPTS)
    texts = flow_texts(p, "br-tun")
    assert f"table=4,priority=1,tun_id=0x3e9,actions=mod_vlan_vid:1,output:{patch}" in texts
    assert (f"table=22,priority=1,dl_vlan=1,actions=strip_vlan,set_tunnel:0x3e9,"
            f"output:{t2},output:{t3}") in texts
    assert (f"table=20,priority=2,dl_vlan=1,dl_dst={MAC_R},actions=strip_vlan,"
            f"set_tunnel:0x3e9,output:{t2}") in texts
    assert f"table=0,priority=1,in_port={patch},actions=goto_table:2" in texts
    assert f"table=0,priority=1,in_port={t3},actions=goto_table:4" in texts
    assert "table=0,priority=0,actions=drop" in texts and "table=22,priority=0,actions=drop" \
        in texts
    assert flow_texts(p, "br-int") == ["table=0,priority=0,actions=NORMAL"]
    assert all(c.payload.line.startswith("add cookie=0x4e52") for c in p.changes)


def test_without_l2population_no_unicast_flows_everything_floods():
    opts = dataclasses.replace(OPTS, l2_population=False)
    s = settle(desired(net(), remote=REMOTE), host(vm()), opts)
    p = plan(desired(net(), remote=REMOTE), dataclasses.replace(s, cookies={}), opts)
    assert not [t for t in flow_texts(p, "br-tun") if t.startswith("table=20,priority=2")]
    assert [t for t in flow_texts(p, "br-tun") if t.startswith("table=22,priority=1")]


def test_a_tunnel_nobody_needs_is_deleted_and_a_wrong_one_fixed_in_place():
    s = settle(desired(net(), remote=REMOTE), host(vm()))
    p = plan(desired(net(), remote=REMOTE[:1]), s, OPTS)
    assert edits(p, "del_port") == [("del_port", "br-tun", "vxlan-c6120003")]
    row = s.ports("br-tun")["vxlan-c6120002"]
    s.bridges["br-tun"].ports["vxlan-c6120002"] = dataclasses.replace(
        row, options=(("remote_ip", "198.18.0.9"),))
    p = plan(desired(net(), remote=REMOTE), s, OPTS)
    assert [e[:2] for e in edits(p, "iface")] == [("iface", "vxlan-c6120002")]


# --- provider networks --------------------------------------------------------------
@pytest.mark.parametrize("kind,seg,out,wire", [
    ("vlan", 100, "mod_vlan_vid:100", "dl_vlan=100"),
    ("flat", None, "strip_vlan", "vlan_tci=0x0000/0x1fff")])
def test_provider_network_translates_on_the_physical_bridge(kind, seg, out, wire):
    d = desired(net(kind, seg=seg, physnet="physnet1"))
    s = settle(d, host(vm()))
    phy = s.ports("br-physnet1")["phy-br-physnet1"].ofport
    p = plan(d, dataclasses.replace(s, cookies={}), OPTS)
    texts = flow_texts(p, "br-physnet1")
    prio = 4 if kind == "vlan" else 3
    assert sorted(texts) == sorted([
        "table=0,priority=0,actions=drop",
        f"table=0,priority=4,in_port={phy},dl_vlan=1,actions={out},output:1",
        f"table=0,priority={prio},in_port=1,{wire},actions=mod_vlan_vid:1,output:{phy}"])
    assert not [t for t in flow_texts(p, "br-tun") if "dl_vlan" in t or "tun_id" in t]
    assert s.ports("br-int")[TAP_1].tag == 1


def test_provider_network_refused_without_mapping_or_bridge():
    d = desired(net("vlan", seg=100, physnet="physnet2"))
    p = plan(d, host(vm()), OPTS)
    assert "no bridge mapped for physical network 'physnet2'" in p.refused[PORT_1]
    p = plan(desired(net("flat", seg=None, physnet="physnet1")), host(vm(), phys=False), OPTS)
    assert "bridge br-physnet1 of physical network 'physnet1' not found" in p.refused[PORT_1]
    assert edits(p, "port") == [("port", TAP_1, fl.DEAD_VLAN, {})]     # never half-plugged


@pytest.mark.parametrize("kind,seg,physnet", [("flat", None, "physnet1"),
                                               ("vlan", 100, "physnet1"), ("vxlan", 1001, None)])
def test_two_networks_on_one_segment_the_second_is_refused(kind, seg, physnet):
    ports = [{"port_id": PORT_1, "mac_address": MAC_1, "network_id": NET_A},
             {"port_id": PORT_2, "mac_address": MAC_2, "network_id": NET_B}]
    d = desired(net(kind, NET_A, seg, physnet), net(kind, NET_B, seg, physnet), ports=ports)
    s = settle(d, host(vm(), vm(TAP_2, PORT_2, 6)))       # converges: no flow fight
    p = plan(d, s, OPTS)
    assert f"already used by network {NET_A}" in p.refused[PORT_2]
    assert PORT_1 not in p.refused and p.wired == {PORT_1: NET_A}
    assert s.ports("br-int")[TAP_2].tag == fl.DEAD_VLAN


def test_vxlan_refused_without_local_ip():
    opts = dataclasses.replace(OPTS, local_ip=None)
    p = plan(desired(net(), remote=REMOTE), host(vm()), opts)
    assert "--local-ip" in p.refused[PORT_1]
    assert not edits(p, "add_port") or all(e[3] == "patch" and "tun" not in e[2]
                                           for e in edits(p, "add_port"))


# --- local VLANs --------------------------------------------------------------------
def test_local_vlans_lowest_free_and_kept_in_ovsdb_across_a_restart():
    ports = [{"port_id": PORT_1, "mac_address": MAC_1, "network_id": NET_B},
             {"port_id": PORT_2, "mac_address": MAC_2, "network_id": NET_A}]
    d = desired(net(net_id=NET_A), net(net_id=NET_B, seg=1002), ports=ports, remote=REMOTE)
    s = settle(d, host(vm(), vm(TAP_2, PORT_2, 6)))
    tags = {n: s.ports("br-int")[n].tag for n in (TAP_1, TAP_2)}
    assert tags == {TAP_2: 1, TAP_1: 2}          # sorted by network id, lowest first
    # A restarted engine (no memo, same OVS): nothing to do, no flow rewritten.
    assert plan(d, s, OPTS, frozenset()).changes == []
    # A third network while A's port left: A's VLAN 1 is free again and reused.
    net_c = "cccccccc-3333-4000-8000-000000000003"
    ports2 = [ports[0], {"port_id": PORT_2, "mac_address": MAC_2, "network_id": net_c}]
    s2 = settle(desired(net(net_id=NET_B, seg=1002), net(net_id=net_c, seg=1003),
                        ports=ports2), s)
    assert (s2.ports("br-int")[TAP_1].tag, s2.ports("br-int")[TAP_2].tag) == (2, 1)


def test_vlan_claimed_by_two_networks_goes_to_the_one_with_more_ports():
    def row(name, net_id, vlan):
        return PortRow(name, "", 1, iface_id=name, tag=vlan,
                       other_config=(("local_vlan", str(vlan)), ("net_uuid", net_id)))
    rows = [row("a1", NET_A, 7), row("b1", NET_B, 7), row("b2", NET_B, 7)]
    assert allocate([NET_A, NET_B], rows) == {NET_B: 7, NET_A: 1}


# --- dead VLAN, drift ---------------------------------------------------------------
def test_unbound_and_admin_down_ports_get_the_dead_vlan_and_a_drop():
    stranger = vm("tapstranger", "99999999-0000-4000-8000-000000000009", 9)
    ports = [{"port_id": PORT_1, "mac_address": MAC_1, "network_id": NET_A,
              "admin_state_up": False}]
    p = plan(desired(net(), ports=ports), host(vm(), stranger), OPTS)
    assert sorted(e for e in edits(p, "port")) == [
        ("port", TAP_1, 4095, {}), ("port", "tapstranger", 4095, {})]
    assert sorted(flow_texts(p, "br-int")) == [
        "table=0,priority=0,actions=NORMAL", "table=0,priority=200,in_port=5,actions=drop",
        "table=0,priority=200,in_port=9,actions=drop"]


def test_a_port_absent_from_br_int_is_reported_and_wires_nothing():
    p = plan(desired(net(), remote=REMOTE), host(), OPTS)
    assert p.absent == [PORT_1] and p.vlans == {} and edits(p, "port") == []
    assert not [e for e in edits(p, "add_port") if e[3] == "vxlan"]


def test_drift_is_told_from_the_engines_own_changes():
    d = desired(net(), remote=REMOTE)
    s = settle(d, host(vm()))
    memo = frozenset(plan(d, s, OPTS).facts)
    row = s.ports("br-int")[TAP_1]
    s.bridges["br-int"].ports[TAP_1] = dataclasses.replace(row, tag=999)
    s.cookies["br-tun"] = set(list(s.cookies["br-tun"])[1:]) | {0xDEAD}
    p = plan(d, s, OPTS, memo)
    assert {(c.action, c.drift) for c in p.changes} == {("update", True), ("create", True),
                                                        ("delete", False)}
    assert [c.payload.line for c in p.changes if c.action == "delete"] == \
        ["delete cookie=0xdead/-1"]     # a flow not ours on br-tun goes


def test_model_refuses_a_trailing_newline():
    with pytest.raises(InvalidL2):
        LocalPort(PORT_1, MAC_1 + "\n", NET_A)
    with pytest.raises(InvalidL2):
        LocalPort(PORT_1, MAC_1, NET_A, device="tap0\n")
    assert names.tunnel("vxlan", "198.18.100.2") == "vxlan-c6126402"
    assert names.int_patch("br-physnet1") == "int-br-physnet1"
    assert len(names.phy_patch("br-a-very-long-name")) == 15
