"""The OVS L2 plan for GRE networks (pure, on a hand-built OVS state): a gre-<hex IP>
tunnel port per remote host beside the vxlan- one, incoming GRE looked up in table 3 and
VXLAN in table 4 (Neutron's GRE_TUN_TO_LV / VXLAN_TUN_TO_LV), so a GRE and a VXLAN network
with the same segmentation id never meet; 32-bit keys; refusal without --tunnel-types gre."""
from __future__ import annotations

import dataclasses

from tests.unit.test_l2_ovs_plan import (MAC_1, MAC_2, MAC_R, NET_A, NET_B, OPTS, PORT_1,
                                         PORT_2, TAP_1, TAP_2, desired, edits, flow_texts,
                                         host, net, plan, settle, vm)

from netqos.agent.l2.openvswitch import flows as fl

BOTH = dataclasses.replace(OPTS, tunnel_types=("vxlan", "gre"))
PORTS = [{"port_id": PORT_1, "mac_address": MAC_1, "network_id": NET_A},
         {"port_id": PORT_2, "mac_address": MAC_2, "network_id": NET_B}]
# h2 has ports on both networks, h3 on the GRE one only.
REMOTE = [{"host": "h2", "local_ip": "198.18.0.2", "network_id": NET_A, "macs": [MAC_R]},
          {"host": "h2", "local_ip": "198.18.0.2", "network_id": NET_B, "macs": [MAC_R]},
          {"host": "h3", "local_ip": "198.18.0.3", "network_id": NET_A, "macs": []}]


def gre_and_vxlan(seg=1001):
    """NET_A on GRE key `seg`, NET_B on VNI `seg`, one VM port on each."""
    return desired(net("gre", NET_A, seg), net("vxlan", NET_B, seg), ports=PORTS,
                   remote=REMOTE)


def test_a_gre_port_per_remote_host_beside_the_vxlan_one():
    p = plan(gre_and_vxlan(), host(vm(), vm(TAP_2, PORT_2, 6)), BOTH)
    added = {e[2]: (e[1], e[3], e[4]) for e in edits(p, "add_port")}
    options = {"remote_ip": "198.18.0.2", "local_ip": "198.18.0.1", "in_key": "flow",
               "out_key": "flow", "df_default": "true"}
    assert added["gre-c6120002"] == ("br-tun", "gre", options)
    assert added["vxlan-c6120002"] == ("br-tun", "vxlan", options)
    assert added["gre-c6120003"][1] == "gre" and "vxlan-c6120003" not in added
    tags = {e[1]: (e[2], e[3]["network_type"]) for e in edits(p, "port")}
    assert tags == {TAP_1: (1, "gre"), TAP_2: (2, "vxlan")}
    assert p.wired == {PORT_1: NET_A, PORT_2: NET_B} and not p.refused


def test_gre_in_by_key_in_table_3_vxlan_in_table_4_out_by_local_vlan():
    s = settle(gre_and_vxlan(), host(vm(), vm(TAP_2, PORT_2, 6)), BOTH)
    tun = s.ports("br-tun")
    patch, g2, g3, v2 = (tun[n].ofport for n in ("patch-int", "gre-c6120002", "gre-c6120003",
                                                 "vxlan-c6120002"))
    p = plan(gre_and_vxlan(), dataclasses.replace(s, cookies={}), BOTH)
    texts = flow_texts(p, "br-tun")
    for wanted in (f"table=0,priority=1,in_port={g2},actions=goto_table:3",
                   f"table=0,priority=1,in_port={g3},actions=goto_table:3",
                   f"table=0,priority=1,in_port={v2},actions=goto_table:4",
                   f"table=3,priority=1,tun_id=0x3e9,actions=mod_vlan_vid:1,output:{patch}",
                   f"table=4,priority=1,tun_id=0x3e9,actions=mod_vlan_vid:2,output:{patch}",
                   "table=3,priority=0,actions=drop", "table=4,priority=0,actions=drop",
                   # Out: the GRE network floods to its GRE tunnels only, the VXLAN one to
                   # its VXLAN tunnel; unicast by MAC to the tunnel of the right type.
                   f"table=22,priority=1,dl_vlan=1,actions=strip_vlan,set_tunnel:0x3e9,"
                   f"output:{g2},output:{g3}",
                   f"table=22,priority=1,dl_vlan=2,actions=strip_vlan,set_tunnel:0x3e9,"
                   f"output:{v2}",
                   f"table=20,priority=2,dl_vlan=1,dl_dst={MAC_R},actions=strip_vlan,"
                   f"set_tunnel:0x3e9,output:{g2}",
                   f"table=20,priority=2,dl_vlan=2,dl_dst={MAC_R},actions=strip_vlan,"
                   f"set_tunnel:0x3e9,output:{v2}"):
        assert wanted in texts, wanted
    # No flow takes a VXLAN tunnel's frames to the GRE table or the reverse.
    assert not [t for t in texts if f"in_port={v2}," in t and "goto_table:3" in t]


def test_a_32_bit_key_and_its_flows():
    d = desired(net("gre", NET_A, 2**32 - 1), remote=REMOTE[:1])
    s = settle(d, host(vm()), BOTH)
    texts = flow_texts(plan(d, dataclasses.replace(s, cookies={}), BOTH), "br-tun")
    assert [t for t in texts if t.startswith("table=3,priority=1,tun_id=0xffffffff,")]
    assert s.ports("br-int")[TAP_1].config["segmentation_id"] == str(2**32 - 1)


def test_gre_refused_without_tunnel_type_gre_and_never_half_plugged():
    p = plan(desired(net("gre"), remote=REMOTE[:1]), host(vm()), OPTS)   # vxlan only
    assert p.refused[PORT_1] == "GRE network, but this agent has no --local-ip / " \
        "--tunnel-types gre"
    assert edits(p, "port") == [("port", TAP_1, fl.DEAD_VLAN, {})]
    assert not [e for e in edits(p, "add_port") if e[3] == "gre"]
    # A GRE-only agent refuses VXLAN networks the same way.
    gre_only = dataclasses.replace(OPTS, tunnel_types=("gre",))
    assert "--tunnel-types vxlan" in plan(desired(net()), host(vm()), gre_only).refused[PORT_1]


def test_a_gre_tunnel_nobody_needs_goes_and_two_gre_networks_on_one_key_do_not_fight():
    s = settle(gre_and_vxlan(), host(vm(), vm(TAP_2, PORT_2, 6)), BOTH)
    only_vxlan = desired(net("vxlan", NET_B, 1001), ports=PORTS[1:], remote=REMOTE[1:2])
    assert sorted(e[2] for e in edits(plan(only_vxlan, s, BOTH), "del_port")) == [
        "gre-c6120002", "gre-c6120003"]
    same_key = desired(net("gre", NET_A, 7), net("gre", NET_B, 7), ports=PORTS)
    p = plan(same_key, settle(same_key, host(vm(), vm(TAP_2, PORT_2, 6)), BOTH), BOTH)
    assert f"already used by network {NET_A}" in p.refused[PORT_2]
