"""The Linux-bridge L2 plan: desired - actual = changes, including VLAN (which this kernel
cannot run, so its wiring is shown here at the plan level), and the desired-state model."""
from __future__ import annotations

import pytest

from netqos.agent.l2.linuxbridge import names
from netqos.agent.l2.linuxbridge.observe import parse_fdb, parse_link
from netqos.agent.l2.linuxbridge.plan import DELETE, FDB, LINKS, L2Options, plan
from netqos.agent.l2.linuxbridge.state import FLOOD_MAC, Fdb, L2State, Link
from netqos.agent.l2.model import InvalidL2, L2Desired, LocalPort, Segment

NET_A = "aaaaaaaa-1111-4000-8000-000000000001"
NET_B = "bbbbbbbb-2222-4000-8000-000000000002"
PORT_1 = "11111111-aaaa-4000-8000-000000000001"
PORT_2 = "22222222-bbbb-4000-8000-000000000002"
MAC_1, MAC_2, MAC_R = "fa:16:3e:00:00:01", "fa:16:3e:00:00:02", "fa:16:3e:00:00:99"
OPTS = L2Options(local_ip="198.18.0.1", mappings={"physnet1": "eth1"}, l2_population=True)
TAP_1, TAP_2 = "tap" + PORT_1[:11], "tap" + PORT_2[:11]
BR_A, BR_B = "brq" + NET_A[:11], "brq" + NET_B[:11]


def desired(network: dict, ports=None, remote=()) -> L2Desired:
    ports = ports if ports is not None else [
        {"port_id": PORT_1, "mac_address": MAC_1, "network_id": network["network_id"]}]
    return L2Desired.from_wire({"l2": {"networks": [network], "ports": ports,
                                       "remote": list(remote)}})


def vxlan_net(vni=1001, net=NET_A) -> dict:
    return {"network_id": net, "network_type": "vxlan", "segmentation_id": vni, "mtu": 1450}


def state(*links: Link, fdb=()) -> L2State:
    base = [Link("eth1", "veth", up=True), Link(TAP_1, "veth"), Link(TAP_2, "veth")]
    return L2State({link.name: link for link in (*base, *links)}, set(fdb))


def lines(p, phase=None) -> list[str]:
    return [c.payload.line for c in p.changes if phase is None or c.payload.phase == phase]


REMOTE = {"host": "h2", "local_ip": "198.18.0.2", "network_id": NET_A, "macs": [MAC_R]}


def converged_vxlan(**fdb_override) -> L2State:
    vx = Link("vxlan-1001", "vxlan", master=BR_A, up=True, mtu=1450, vni=1001,
              local="198.18.0.1", learning=False, dstport=4789)
    fdb = fdb_override.get("fdb", {Fdb("vxlan-1001", FLOOD_MAC, "198.18.0.2"),
                                   Fdb("vxlan-1001", MAC_R, "198.18.0.2")})
    s = state(Link(BR_A, "bridge", up=True), vx, fdb=fdb)
    s.links[TAP_1] = Link(TAP_1, "veth", master=BR_A, up=True, mtu=1450)
    return s


def test_names_follow_neutron():
    assert names.bridge(NET_A) == "brqaaaaaaaa-11"
    assert names.vxlan(16777215) == "vxlan-16777215"
    assert names.vlan("eth1", 100) == "eth1.100"
    assert names.vlan("enp0s31f6abcdef", 4094) == "enp0s31f6a.4094"


def test_vxlan_network_from_nothing():
    p = plan(desired(vxlan_net(), remote=[REMOTE]), state(), OPTS)
    assert lines(p, LINKS) == [
        f"link add name {BR_A} type bridge forward_delay 0 stp_state 0",
        f"link set dev {BR_A} up",
        "link add name vxlan-1001 mtu 1450 type vxlan id 1001 local 198.18.0.1 "
        "dstport 4789 nolearning",
        f"link set dev vxlan-1001 master {BR_A} mtu 1450 up",
        f"link set dev {TAP_1} master {BR_A} mtu 1450 up"]
    assert lines(p, FDB) == [
        "fdb append 00:00:00:00:00:00 dev vxlan-1001 dst 198.18.0.2",
        f"fdb replace {MAC_R} dev vxlan-1001 dst 198.18.0.2"]
    assert lines(p, DELETE) == [] and p.refused == {} and p.wired == {PORT_1: NET_A}
    assert not any(c.drift for c in p.changes)


def test_converged_state_plans_nothing():
    assert plan(desired(vxlan_net(), remote=[REMOTE]), converged_vxlan(), OPTS).changes == []


def test_without_l2population_only_flood_entries():
    opts = L2Options(local_ip="198.18.0.1", l2_population=False)
    p = plan(desired(vxlan_net(), remote=[REMOTE]), state(), opts)
    assert lines(p, FDB) == ["fdb append 00:00:00:00:00:00 dev vxlan-1001 dst 198.18.0.2"]


def test_fdb_follows_remote_hosts_and_skips_our_own_ip():
    remote = [{**REMOTE, "local_ip": "198.18.0.3", "macs": [MAC_2]},
              {**REMOTE, "host": "me", "local_ip": "198.18.0.1", "macs": [MAC_1]}]
    p = plan(desired(vxlan_net(), remote=remote), converged_vxlan(), OPTS)
    assert sorted(lines(p, FDB)) == sorted([
        "fdb del 00:00:00:00:00:00 dev vxlan-1001 dst 198.18.0.2",
        f"fdb del {MAC_R} dev vxlan-1001 dst 198.18.0.2",
        "fdb append 00:00:00:00:00:00 dev vxlan-1001 dst 198.18.0.3",
        f"fdb replace {MAC_2} dev vxlan-1001 dst 198.18.0.3"])


def test_drift_is_flagged_only_for_what_held_before():
    d = desired(vxlan_net(), remote=[REMOTE])
    before = plan(d, converged_vxlan(), OPTS)
    memo = before.facts
    broken = converged_vxlan(fdb={Fdb("vxlan-1001", MAC_R, "198.18.0.2")})
    broken.links[TAP_1] = Link(TAP_1, "veth", master=None, up=True, mtu=1450)
    p = plan(d, broken, OPTS, memo)
    assert [(c.what, c.drift) for c in p.changes] == [
        (f"plug {TAP_1} into {BR_A}", True),
        ("fdb 00:00:00:00:00:00 dst 198.18.0.2 on vxlan-1001", True)]
    assert not any(c.drift for c in plan(d, broken, OPTS).changes)   # fresh agent


def test_vxlan_with_wrong_attributes_is_recreated_with_its_fdb():
    s = converged_vxlan()
    s.links["vxlan-1001"] = Link("vxlan-1001", "vxlan", master=BR_A, up=True, mtu=1450,
                                 vni=1001, local="198.18.0.1", learning=True, dstport=4789)
    p = plan(desired(vxlan_net(), remote=[REMOTE]), s, OPTS)
    assert lines(p, DELETE) == ["link del dev vxlan-1001"]
    assert lines(p, LINKS)[0].startswith("link add name vxlan-1001 ")
    assert len(lines(p, FDB)) == 2


def test_dscp_inherit_creates_and_enforces_tos_inherit():
    opts = L2Options(local_ip="198.18.0.1", l2_population=True, dscp_inherit=True)
    d = desired(vxlan_net(), remote=[REMOTE])
    assert lines(plan(d, state(), opts), LINKS)[2].endswith(" nolearning tos inherit")
    p = plan(d, converged_vxlan(), opts)          # a vxlan without it is recreated
    assert lines(p, DELETE) == ["link del dev vxlan-1001"]
    s = converged_vxlan()
    s.links["vxlan-1001"] = Link("vxlan-1001", "vxlan", BR_A, True, 1450, 1001, "198.18.0.1",
                                 False, 4789, tos_inherit=True)
    assert plan(d, s, opts).changes == []


def test_flat_enslaves_the_mapped_interface():
    net = {"network_id": NET_A, "network_type": "flat", "physical_network": "physnet1"}
    p = plan(desired(net), state(), OPTS)
    assert f"link set dev eth1 master {BR_A} up" in lines(p)
    assert f"link set dev {TAP_1} master {BR_A} up" in lines(p)
    assert lines(p, FDB) == []


def test_flat_without_mapping_refuses_the_port_and_creates_nothing():
    net = {"network_id": NET_A, "network_type": "flat", "physical_network": "physnet9"}
    p = plan(desired(net), state(), OPTS)
    assert p.changes == []
    assert "physnet9" in p.refused[PORT_1] and "--physical-interface-mappings" in \
        p.refused[PORT_1]


def test_vlan_creates_a_subinterface_in_the_bridge():
    net = {"network_id": NET_A, "network_type": "vlan", "physical_network": "physnet1",
           "segmentation_id": 100, "mtu": 1500}
    p = plan(desired(net), state(), OPTS)
    assert lines(p, LINKS) == [
        f"link add name {BR_A} type bridge forward_delay 0 stp_state 0",
        f"link set dev {BR_A} up",
        "link add link eth1 name eth1.100 type vlan id 100",
        f"link set dev eth1.100 master {BR_A} mtu 1500 up",
        f"link set dev {TAP_1} master {BR_A} mtu 1500 up"]


def test_vlan_brings_its_physical_interface_up():
    net = {"network_id": NET_A, "network_type": "vlan", "physical_network": "physnet1",
           "segmentation_id": 100}
    s = state()
    s.links["eth1"] = Link("eth1", "veth", up=False)
    assert lines(plan(desired(net), s, OPTS), LINKS)[2] == "link set dev eth1 up"


def test_vlan_on_a_kernel_without_8021q_refuses_without_half_plugging():
    net = {"network_id": NET_A, "network_type": "vlan", "physical_network": "physnet1",
           "segmentation_id": 100}
    opts = L2Options(local_ip="198.18.0.1", mappings={"physnet1": "eth1"},
                     vlan_supported=False)
    p = plan(desired(net), state(), opts)
    assert p.changes == [] and p.wired == {}
    assert "802.1Q" in p.refused[PORT_1] and "not plugged" in p.refused[PORT_1]


def test_gre_refused_without_half_plugging_even_with_a_tunnel_endpoint():
    """Neutron's Linux-bridge agent has no GRE: its port is refused and reported, and no
    bridge, tunnel device or tap change is made for it, while a VXLAN port plugs."""
    gre = {"network_id": NET_B, "network_type": "gre", "segmentation_id": 1001}
    ports = [{"port_id": PORT_2, "mac_address": MAC_2, "network_id": NET_B}]
    p = plan(desired(gre, ports=ports), state(Link(TAP_2, "tun")), OPTS)
    assert p.changes == [] and p.wired == {}
    assert p.refused[PORT_2] == ("GRE networks are not supported by the Linux-bridge L2 role "
                                 "(as Neutron's linuxbridge agent: VXLAN only); the port is "
                                 "not plugged")
    assert plan(desired(vxlan_net(1001)), state(), OPTS).wired == {PORT_1: NET_A}


def test_vlan_subinterface_with_another_vid_is_recreated_and_stale_ones_removed():
    net = {"network_id": NET_A, "network_type": "vlan", "physical_network": "physnet1",
           "segmentation_id": 100}
    s = state(Link(BR_A, "bridge", up=True),
              Link("eth1.100", "vlan", master=BR_A, up=True, vlan_id=200, parent="eth1"),
              Link("eth1.300", "vlan", up=True, vlan_id=300, parent="eth1"))
    p = plan(desired(net), s, OPTS)
    assert lines(p, DELETE) == ["link del dev eth1.100", "link del dev eth1.300"]
    assert "link add link eth1 name eth1.100 type vlan id 100" in lines(p, LINKS)


def test_vxlan_without_local_ip_refused():
    p = plan(desired(vxlan_net()), state(), L2Options())
    assert p.changes == [] and "--local-ip" in p.refused[PORT_1]


def test_admin_down_unplugs_and_downs_the_tap():
    d = desired(vxlan_net(), ports=[{"port_id": PORT_1, "mac_address": MAC_1,
                                     "network_id": NET_A, "admin_state_up": False}],
                remote=[REMOTE])
    p = plan(d, converged_vxlan(), OPTS)
    assert lines(p) == [f"link set dev {TAP_1} nomaster down"]


def test_missing_tap_creates_nothing_and_removes_what_is_left():
    s = converged_vxlan()
    del s.links[TAP_1]
    p = plan(desired(vxlan_net(), remote=[REMOTE]), s, OPTS)
    assert p.absent == [PORT_1]
    assert lines(p) == [f"link del dev {BR_A}", "link del dev vxlan-1001"]


def test_network_gone_deletes_bridge_and_vxlan_and_spares_foreign_devices():
    s = converged_vxlan()
    s.links["br-other"] = Link("br-other", "bridge", up=True)
    p = plan(L2Desired(), s, OPTS)
    assert lines(p) == [f"link del dev {BR_A}", "link del dev vxlan-1001"]


def test_port_moved_to_another_network_is_replugged_and_strangers_evicted():
    s = converged_vxlan()
    s.links[TAP_2] = Link(TAP_2, "veth", master=BR_A, up=True)     # not a port of NET_A
    ports = [{"port_id": PORT_1, "mac_address": MAC_1, "network_id": NET_B}]
    d = L2Desired.from_wire({"l2": {"networks": [vxlan_net(), vxlan_net(1002, NET_B)],
                                    "ports": ports}})
    p = plan(d, s, OPTS)
    assert f"link set dev {TAP_1} master {BR_B} mtu 1450 up" in lines(p)
    assert f"link del dev {BR_A}" in lines(p, DELETE)


def test_changed_vni_replaces_the_vxlan_device_without_releasing_it_first():
    s = converged_vxlan()
    p = plan(desired(vxlan_net(vni=1005), remote=[REMOTE]), s, OPTS)
    assert lines(p, DELETE) == ["link del dev vxlan-1001"]
    assert f"link set dev vxlan-1005 master {BR_A} mtu 1450 up" in lines(p, LINKS)
    assert not any("nomaster" in line for line in lines(p))


def test_stranger_in_a_bridge_is_released():
    s = converged_vxlan()
    s.links[TAP_2] = Link(TAP_2, "veth", master=BR_A, up=True)
    p = plan(desired(vxlan_net(), remote=[REMOTE]), s, OPTS)
    assert lines(p) == [f"link set dev {TAP_2} nomaster"]


@pytest.mark.parametrize("port, reason", [
    ({"port_id": PORT_1, "mac_address": "01:00:5e:00:00:01", "network_id": NET_A},
     "invalid unicast MAC"),
    ({"port_id": PORT_1, "mac_address": MAC_1, "network_id": NET_A, "device": "tap;rm -rf"},
     "invalid interface name"),
    ({"port_id": "x y", "mac_address": MAC_1, "network_id": NET_A}, "invalid port id"),
    ({"port_id": PORT_1, "mac_address": MAC_1, "network_id": NET_B}, "no segment"),
    ({"port_id": PORT_1, "mac_address": MAC_1, "network_id": NET_A,
      "admin_state_up": "yes"}, "invalid admin_state_up"),
])
def test_bad_port_refused_alone(port, reason):
    good = {"port_id": PORT_2, "mac_address": MAC_2, "network_id": NET_A}
    d = desired(vxlan_net(), ports=[port, good])
    assert [p.port_id for p in d.ports] == [PORT_2]
    assert reason in next(iter(d.refused.values()))


@pytest.mark.parametrize("net, reason", [
    ({"network_type": "vxlan", "segmentation_id": 0}, "invalid VNI"),
    ({"network_type": "vxlan", "segmentation_id": 2 ** 24}, "invalid VNI"),
    ({"network_type": "vlan", "physical_network": "physnet1", "segmentation_id": 4095},
     "invalid VLAN id"),
    ({"network_type": "flat"}, "needs a physical network"),
    ({"network_type": "geneve", "segmentation_id": 5}, "unsupported network type"),
    ({"network_type": "gre", "segmentation_id": 0}, "invalid GRE key"),
    ({"network_type": "gre", "segmentation_id": 2 ** 32}, "invalid GRE key"),
    ({"network_type": "vxlan", "segmentation_id": 5, "mtu": 10}, "invalid MTU"),
])
def test_bad_segment_refuses_its_ports(net, reason):
    d = desired({"network_id": NET_A, **net})
    assert d.ports == () and reason in d.refused[PORT_1]


def test_bad_remote_endpoint_is_dropped_alone():
    remote = [{**REMOTE, "local_ip": "198.18.0.2; reboot"}, {**REMOTE, "local_ip": "198.18.0.3"}]
    d = desired(vxlan_net(), remote=remote)
    assert [r.local_ip for r in d.remote] == ["198.18.0.3"]


def test_wire_round_trip():
    d = desired(vxlan_net(), remote=[REMOTE])
    assert L2Desired.from_wire(d.to_wire()) == d
    assert d.ports[0] == LocalPort(PORT_1, MAC_1, NET_A)
    assert d.networks[NET_A] == Segment(NET_A, "vxlan", None, 1001, 1450)
    with pytest.raises(InvalidL2):
        Segment(NET_A, "vlan", "physnet1", None)


def test_observe_parsers_read_ip_and_bridge_json():
    vx = parse_link({"ifname": "vxlan-7", "mtu": 1450, "flags": ["BROADCAST", "UP"],
                     "master": BR_A, "linkinfo": {"info_kind": "vxlan", "info_data": {
                         "id": 7, "local": "198.18.0.1", "learning": False, "port": 4789,
                         "tos": "0x1"}}})
    assert vx == Link("vxlan-7", "vxlan", BR_A, True, 1450, 7, "198.18.0.1", False, 4789,
                      tos_inherit=True)
    vlan = parse_link({"ifname": "eth1.5", "link": "eth1", "flags": [],
                       "linkinfo": {"info_kind": "vlan", "info_data": {"id": 5}}})
    assert (vlan.vlan_id, vlan.parent, vlan.up) == (5, "eth1", False)
    fdb = parse_fdb([{"mac": "00:00:00:00:00:00", "ifname": "vxlan-7", "dst": "198.18.0.2"},
                     {"mac": "FA:16:3E:00:00:01", "ifname": "vxlan-7", "dst": "198.18.0.2"},
                     {"mac": "fa:16:3e:00:00:05", "ifname": BR_A, "master": BR_A},
                     {"mac": "33:33:00:00:00:01", "ifname": "vxlan-7"}])
    assert fdb == {Fdb("vxlan-7", FLOOD_MAC, "198.18.0.2"),
                   Fdb("vxlan-7", MAC_1, "198.18.0.2")}
