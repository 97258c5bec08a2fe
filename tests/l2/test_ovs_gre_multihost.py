"""GRE networks across three Open vSwitch hosts (one ovsdb-server/ovs-vswitchd each,
userspace datapath, native tunnelling over the underlay bridge), engines run with
--tunnel-types vxlan,gre: two GRE networks and a VXLAN network whose VNI is the first GRE
network's key, all three on the same CIDR. Reachability within each network across hosts,
zero replies across networks (the full matrix), real GRE on the wire (IP protocol 47 with
the key), the MTU (underlay - 42), TCP over GRE, and a removed GRE tunnel port repaired.

The tests run in file order on one lab."""
from __future__ import annotations

import re
import subprocess

import pytest

from tests.conftest import unavailable
from tests.harness.l2hosts import L2Lab
from tests.harness.l2ovs import OvsHost
from tests.harness.util import wait_for
from tests.l2.conftest import populate
from tests.l2.test_linuxbridge_multihost import REPAIR_S, _converged, _timed, _vm

KEY = 1001      # the GRE key of "green" and the VNI of "red"


class GreOvsHost(OvsHost):
    tunnel_types = "vxlan,gre"


def _hex(ip: str) -> str:
    return f"{int.from_bytes(bytes(map(int, ip.split('.'))), 'big'):08x}"


def _tun_ports(host, kind: str) -> set[str]:
    return {p for p in host.ovs.vsctl("list-ports", "br-tun").split()
            if p.startswith(kind + "-")}


@pytest.fixture(scope="module")
def grelab(root):
    from tests.harness.ovs import installed

    if not installed():
        unavailable("OVS L2 tests need Open vSwitch (openvswitch-switch)")
    lab = L2Lab(kinds=[GreOvsHost] * 3)
    try:
        populate(lab, [(lab.network("gre", KEY), "green"),
                       (lab.network("gre", 2**32 - 1), "olive"),
                       (lab.network("vxlan", KEY), "red")])
        lab.start()
        yield lab
    finally:
        lab.close()


def test_gre_and_vxlan_tunnel_ports_and_configurations(grelab):
    assert wait_for(lambda: _converged(grelab), 20), \
        [h.status()["ports"] for h in grelab.hosts]
    for host in grelab.hosts:
        conf = host.status()["configurations"]
        assert conf["tunnel_types"] == ["vxlan", "gre"]
        assert "gre" in conf["network_types"] and host.status()["capabilities"]["gre"]
        others = {h.local_ip for h in grelab.hosts if h is not host}
        assert _tun_ports(host, "gre") == {f"gre-{_hex(ip)}" for ip in others}
        assert _tun_ports(host, "vxlan") == {f"vxlan-{_hex(ip)}" for ip in others}
        for name in _tun_ports(host, "gre"):
            assert host.ovs.vsctl("get", "Interface", name, "type").strip() == "gre"
            options = host.ovs.vsctl("get", "Interface", name, "options")
            assert 'in_key=flow' in options and 'out_key=flow' in options
        for vm in grelab.vms:
            if vm.host is host:
                assert f"network_type={vm.network.network_type}" in \
                    host.port(vm.tap)["other_config"]


def test_isolation_matrix_gre_beside_vxlan_with_the_same_id(grelab):
    counts = grelab.matrix(count=2)
    same, cross = grelab.isolation(counts)
    assert len(same) == 18 and len(cross) == 54
    assert [p for p, n in same.items() if n == 0] == []
    assert sum(cross.values()) == 0


def test_gre_on_the_wire_with_its_key(grelab):
    """What leaves host 1 for green is GRE (IP protocol 47) carrying key 1001 between the
    underlay addresses; red's frames are VXLAN (UDP 4789) with VNI 1001."""
    a, b = _vm(grelab, "green1"), _vm(grelab, "green2")
    cap = grelab.fabric.popen("tcpdump", "-n", "-v", "-l", "-c", "2", "-i", "under",
                              "ip proto 47", stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        # tcpdump needs a moment to attach: ping until it has its packets.
        assert wait_for(lambda: grelab.ping(a, b, count=1) > 0 and cap.poll() is not None,
                        15), "no GRE packet seen on the underlay"
        out = cap.stdout.read()
    finally:
        if cap.poll() is None:
            cap.kill()
        cap.wait()
    print("\n" + out)
    assert f"key=0x{KEY:x}" in out and "GREv0" in out
    assert a.host.local_ip in out and b.host.local_ip in out


def _ping_size(a, b, size: int) -> int:
    """Echo replies of two pings with `size` bytes of payload (IP packet: size + 28)."""
    res = a.ns.run("busybox", "ping", "-q", "-c", "2", "-i", "0.2", "-W", "1", "-s",
                   str(size), b.address, check=False, timeout=30)
    m = re.search(r"(\d+) packets received", res.stdout)
    return int(m.group(1)) if m else 0


def test_the_gre_mtu_is_the_underlay_minus_42(grelab):
    """Guests get MTU 1458 on a 1500-byte underlay (Neutron: GRE_ENCAP_OVERHEAD 22 + IPv4
    20): a full 1458-byte packet crosses; one byte more (guest MTU raised by hand to send
    it unfragmented) makes a 1501-byte outer packet, which the underlay does not carry."""
    a, b = _vm(grelab, "green1"), _vm(grelab, "green2")
    assert grelab.network("gre", 7).mtu == 1458
    grelab.networks.pop()
    assert _ping_size(a, b, 1458 - 28) == 2
    try:
        for vm in (a, b):
            vm.ns.run("ip", "link", "set", "eth0", "mtu", "1459")
        assert _ping_size(a, b, 1459 - 28) == 0
    finally:
        for vm in (a, b):
            vm.ns.run("ip", "link", "set", "eth0", "mtu", "1458")
    assert wait_for(lambda: grelab.ping(a, b, count=1) > 0, 5)


def test_tcp_over_gre_and_the_tunnel_checksum_capability(grelab):
    """With guests that offload TX checksums, TCP over GRE answers exactly when the engine
    says the datapath finishes them (tunnel_csum_offload, OVS >= 3.3); with guests that
    finish their own, it answers."""
    a, b = _vm(grelab, "olive1"), _vm(grelab, "olive3")
    offloaded = grelab.tcp_pair(a, b) == 1
    capability = grelab.hosts[0].status()["capabilities"]["tunnel_csum_offload"]
    print(f"\nTCP over GRE, guests offloading TX checksums: "
          f"{'answered' if offloaded else 'no answer'}; capability reported: {capability}")
    assert offloaded == capability
    if not capability:
        assert any(m.startswith("gre: ") and "checksums" in m for m in
                   grelab.hosts[0].status()["configurations"]["missing_capabilities"])
    for vm in (a, b):
        vm.host.prepare_guest(vm)
    assert grelab.tcp_pair(a, b) == 1


def test_a_removed_gre_tunnel_port_is_repaired(grelab):
    host = grelab.hosts[0]
    peer = _vm(grelab, "green3")
    tunnel = f"gre-{_hex(peer.host.local_ip)}"
    host.ovs.vsctl("del-port", "br-tun", tunnel)

    def repaired():
        if tunnel not in _tun_ports(host, "gre"):
            return False
        ofport = host.ovs.vsctl("get", "Interface", tunnel, "ofport").strip()
        return any(f"output:{ofport}" in line
                   for line in host.flows("br-tun") if "table=22" in line)
    took = _timed(repaired)
    print(f"\nGRE tunnel port removed: repaired in {took * 1000:.0f} ms")
    assert took <= REPAIR_S
    assert wait_for(lambda: grelab.ping(_vm(grelab, "green1"), peer, count=1) > 0, 3)
