"""The OVS L2 engine across three hosts, each with its own Open vSwitch (userspace datapath,
native VXLAN tunnelling over an underlay bridge): reachability within each network,
isolation between networks (the full matrix), local VLANs kept across an agent restart
(no flow rewritten), ovs-vswitchd restart, drift repair, admin down, port moved.

The tests run in file order on one lab; a test that changes the desired state puts it
back before it ends."""
from __future__ import annotations

import subprocess
import time

import pytest

from tests.harness.l2hosts import L2Lab
from tests.harness.util import wait_for
from tests.l2.test_linuxbridge_multihost import REPAIR_S, _converged, _settled_passes, \
    _timed, _vm
from tests.harness.l2ovs import wire_checksums


def _wiring(host) -> tuple:
    """Everything the engine owns on a host: flows (with cookies) and VM port tags."""
    flows = tuple(tuple(sorted(host.flows(br))) for br in ("br-int", "br-tun", "br-physnet1"))
    tags = host.ovs.vsctl("--columns=name,tag,other_config", "list", "Port")
    return flows, tags


def _tun_ports(host) -> set[str]:
    return {p for p in host.ovs.vsctl("list-ports", "br-tun").split() if p.startswith("vxlan-")}


def test_every_port_tagged_active_and_configurations_reported(ovslab):
    assert wait_for(lambda: _converged(ovslab), 15), [h.status()["ports"] for h in ovslab.hosts]
    for host in ovslab.hosts:
        conf = host.status()["configurations"]
        assert conf["l2"] == "openvswitch" and conf["tunneling_ip"] == host.local_ip
        assert conf["bridge_mappings"] == {"physnet1": "br-physnet1"}
        assert conf["tunnel_types"] == ["vxlan"] and conf["l2_population"] is True
        assert conf["integration_bridge"] == "br-int" and conf["tunnel_bridge"] == "br-tun"
        vlans = {}
        for vm in ovslab.vms:
            if vm.host is host:
                port = host.port(vm.tap)
                assert 1 <= port["tag"] <= 4094
                assert vm.network.network_id in port["other_config"]
                vlans.setdefault(vm.network.network_id, port["tag"])
        assert len(set(vlans.values())) == len(ovslab.networks)   # one VLAN per network
        assert len(_tun_ports(host)) == 2                         # the two other hosts
        assert all(line.startswith("cookie=0x4e52") for br in ("br-int", "br-tun",
                                                               "br-physnet1")
                   for line in host.flows(br))


def test_isolation_matrix(ovslab):
    passes = _settled_passes(ovslab)
    counts = ovslab.matrix(count=2)
    # Traffic (MAC learning, interface statistics in OVSDB) must wake no engine.
    assert [h.status()["passes"] for h in ovslab.hosts] == passes
    same, cross = ovslab.isolation(counts)
    assert len(same) == 24 and len(cross) == 108
    assert [p for p, n in same.items() if n == 0] == []
    assert sum(cross.values()) == 0


def _tcp_echo(a, b) -> str:
    """One TCP round trip a -> b (what b echoes back, reversed), "" on failure."""
    server = b.ns.popen("python3", "-c", (
        "import socket; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,"
        "socket.SO_REUSEADDR,1); s.bind(('0.0.0.0',5201)); s.listen(1); s.settimeout(6); "
        "c,_=s.accept(); c.sendall(c.recv(100)[::-1]); c.close()"),
        stderr=subprocess.DEVNULL)
    try:
        for _ in range(10):
            res = a.ns.run("python3", "-c", (
                f"import socket; s=socket.create_connection(('{b.address}',5201),1); "
                "s.settimeout(2); s.sendall(b'netqos-l2'); print(s.recv(100).decode())"),
                check=False)
            if res.stdout.strip():
                return res.stdout.strip()
            time.sleep(0.1)
        return ""
    finally:
        server.kill()
        server.wait()


def test_tcp_across_hosts_and_the_tunnel_checksum_capability(ovslab):
    """TCP on the VLAN network (no tunnel) works; over VXLAN it works when guests finish
    their checksums, and with offloading guests exactly as the engine's capability says."""
    assert _tcp_echo(_vm(ovslab, "vlan1"), _vm(ovslab, "vlan3")) == "2l-soqten"
    a, b = _vm(ovslab, "red1"), _vm(ovslab, "red3")
    offloaded = _tcp_echo(a, b) == "2l-soqten"
    capability = ovslab.hosts[0].status()["capabilities"]["tunnel_csum_offload"]
    print(f"\nTCP over VXLAN, guests offloading TX checksums: "
          f"{'answered' if offloaded else 'no answer'}; capability reported: {capability}")
    assert offloaded == capability
    if not capability:
        assert any("checksums" in m for m in
                   ovslab.hosts[0].status()["configurations"]["missing_capabilities"])
    for vm in (a, b):
        wire_checksums(vm.ns, "eth0")
    assert _tcp_echo(a, b) == "2l-soqten"


def test_agent_restart_changes_no_flow_and_keeps_every_tag(ovslab):
    """Both ends' engines are SIGKILLed and restarted under a running ping: the local
    VLANs come back from OVSDB, every flow's cookie is right, nothing is rewritten."""
    src, dst = _vm(ovslab, "red1"), _vm(ovslab, "red2")
    hosts = (src.host, dst.host)
    before = [_wiring(h) for h in hosts]
    proc, sent = ovslab.ping_through(src, dst, seconds=5, interval=0.1)
    time.sleep(1)
    for host in hosts:
        host.kill()
    for host in hosts:
        host.start()
    got = ovslab.received(proc)
    print(f"\nping through SIGKILL + restart of 2 OVS engines: {got}/{sent} answered")
    assert got >= sent - 2
    for host, wiring in zip(hosts, before):
        assert host.status()["last_changes"] == []
        assert _wiring(host) == wiring
    assert _converged(ovslab)


@pytest.mark.parametrize("what", ["flow deleted", "tag changed", "tunnel port removed"])
def test_drift_is_repaired_within_a_second(ovslab, what):
    host = ovslab.hosts[0]
    vm, peer = _vm(ovslab, "red1"), _vm(ovslab, "red3")
    tag = host.port(vm.tap)["tag"]
    tunnel = f"vxlan-{int.from_bytes(bytes(map(int, peer.host.local_ip.split('.'))), 'big'):08x}"
    drift_before = len(host.status()["drift"])
    if what == "flow deleted":
        host.ovs.ofctl("del-flows", "br-tun", "table=22,dl_vlan=%d" % tag)

        def repaired():
            return any(f"table=22, priority=1,dl_vlan={tag} " in line
                       for line in host.flows("br-tun"))
    elif what == "tag changed":
        host.ovs.vsctl("set", "Port", vm.tap, "tag=999")

        def repaired():
            return host.port(vm.tap)["tag"] == tag
    else:
        host.ovs.vsctl("del-port", "br-tun", tunnel)

        def repaired():
            if tunnel not in _tun_ports(host):
                return False
            ofport = host.ovs.vsctl("get", "Interface", tunnel, "ofport").strip()
            return any(f"output:{ofport}" in line
                       for line in host.flows("br-tun") if "table=22" in line)
    took = _timed(repaired)
    print(f"\n{what}: repaired in {took * 1000:.0f} ms")
    assert took <= REPAIR_S
    assert wait_for(lambda: len(host.status()["drift"]) > drift_before, 2)
    print("reported:", host.status()["drift"][-1]["change"])
    assert wait_for(lambda: ovslab.ping(vm, peer, count=1) > 0, 3)


def test_vswitchd_restart_reinstalls_everything(ovslab):
    """ovs-vswitchd is SIGKILLed and restarted on one end under a running ping: the engine
    sees every flow gone and reinstalls them; the ping loses at most two seconds."""
    src, dst = _vm(ovslab, "blue1"), _vm(ovslab, "blue2")
    host = dst.host
    before = _wiring(host)
    proc, sent = ovslab.ping_through(src, dst, seconds=8, interval=0.1)
    time.sleep(1)
    started = time.monotonic()
    host.restart_vswitchd()
    assert wait_for(lambda: _wiring(host)[0] == before[0], 10, interval=0.05)
    back = time.monotonic() - started
    got = ovslab.received(proc)
    lost_s = (sent - got) * 0.1
    print(f"\novs-vswitchd SIGKILL + restart: flows back {back * 1000:.0f} ms after the "
          f"kill; ping {got}/{sent} answered, {lost_s:.1f} s lost")
    assert lost_s <= 2.0
    assert any("ovs-vswitchd" in d["change"] for d in host.status()["drift"])
    assert wait_for(lambda: _converged(ovslab), 5)
    assert ovslab.ping(_vm(ovslab, "vlan1"), _vm(ovslab, "vlan2")) > 0


def test_admin_down_gets_the_dead_vlan_and_up_restores_it(ovslab):
    vm, peer = _vm(ovslab, "vlan2"), _vm(ovslab, "vlan1")
    tag = vm.host.port(vm.tap)["tag"]
    vm.admin_state_up = False
    try:
        ovslab.push()
        assert wait_for(lambda: ovslab.port_status(vm) ==
                        {"status": "DOWN", "reason": "admin state down"}, 5)
        assert vm.host.port(vm.tap)["tag"] == 4095
        assert ovslab.ping(peer, vm) == 0
    finally:
        vm.admin_state_up = True
        ovslab.push()
    assert wait_for(lambda: ovslab.port_status(vm).get("status") == "ACTIVE", 5)
    assert vm.host.port(vm.tap)["tag"] == tag
    assert wait_for(lambda: ovslab.ping(peer, vm, count=1) > 0, 5)


def test_port_moved_to_another_network_is_retagged(ovslab):
    vm, blue1 = _vm(ovslab, "red3"), _vm(ovslab, "blue1")
    blue_tag = blue1.host.port(blue1.tap)["tag"] if blue1.host is vm.host else None
    ovslab.move_and_back(vm, blue1, _vm(ovslab, "red1"),
                         wired=lambda: blue1.network.network_id in
                         vm.host.port(vm.tap)["other_config"]
                         and blue_tag in (None, vm.host.port(vm.tap)["tag"]))


def test_network_removed_takes_its_flows_and_tunnels(ovslab: L2Lab):
    blue = _vm(ovslab, "blue1").network
    gone = [vm for vm in ovslab.vms if vm.network is blue]
    for vm in gone:
        ovslab.vms.remove(vm)
    ovslab.networks.remove(blue)
    ovslab.push()
    vni = f"tun_id={blue.segmentation_id:#x}"
    try:
        took = _timed(lambda: all(not any(vni in f for f in h.flows("br-tun"))
                                  for h in ovslab.hosts))
        print(f"\nnetwork removed: its flows gone on 3 hosts in {took * 1000:.0f} ms")
        assert all(vm.host.port(vm.tap)["tag"] == 4095 for vm in gone)   # unbound: dead
        assert ovslab.ping(_vm(ovslab, "red1"), _vm(ovslab, "red2")) > 0
    finally:
        for vm in gone:
            vm.destroy()
