"""A simulated host wired by the OVS L2 engine (see l2hosts.py for the lab around it).

Each OvsHost runs its own ovsdb-server and ovs-vswitchd inside its namespace, with its own
run directory (userspace `netdev` datapath: no openvswitch kernel module here), set up as
an operator would before the agent starts:

    br-under     eth0 (into the fabric's `under`) and the underlay address 198.18.100.i on
                 the bridge's internal port: OVS's native tunnelling routes and resolves
                 (ARP) the VXLAN endpoints through it, with its own route/neighbour tables
    br-physnet1  eth1 (into the fabric's `phys`): physnet1, flat and VLAN provider networks

The engine (`python -m netqos.agent.l2.openvswitch`) creates br-int and br-tun itself.
VM taps are plugged as os-vif does: into br-int, external_ids iface-id/attached-mac, and
the dead VLAN 4095 until the agent tags them (os-vif's isolate_vif).
"""
from __future__ import annotations

import sys
from pathlib import Path

from tests.harness.l2hosts import UNDERLAY, Host, Vm
from tests.harness.netns import Netns, run
from tests.harness.ovs import OvsServer

DEAD_VLAN = 4095
_TX_CSUM_OFF = """
import sys
from pyroute2.ethtool import Ethtool
e = Ethtool()
f = e.get_features(sys.argv[1])
for name in ("tx-checksum-ip-generic", "tx-checksum-ipv4", "tx-checksum-ipv6"):
    if name in f.features:
        f.features[name].enable = False
e.set_features(sys.argv[1], f)
"""


def wire_checksums(ns: Netns, dev: str) -> None:
    """Make the fabric port `dev` finish checksums in software, as a real wire carries
    them. A veth hands the next namespace a packet whose checksum is still to be computed
    (CHECKSUM_PARTIAL); OVS's userspace datapath reads it from its AF_PACKET socket and,
    when popping a VXLAN header with a non-zero UDP checksum (the kernel's vxlan device
    sets one), finds it wrong and drops the packet: kernel -> OVS tunnels never arrive.
    Measured: 0/4 pings Linux-bridge <-> OVS host without this, 4/4 with it."""
    run("ip", "netns", "exec", ns.name, sys.executable, "-c", _TX_CSUM_OFF, dev)


class OvsHost(Host):
    tunnel_types = "vxlan"      # the engine's --tunnel-types (a subclass may add gre)

    def __init__(self, index: int, fabric: Netns, workdir: Path):
        super().__init__(index, fabric, workdir)
        for peer in (f"u{index}", f"p{index}"):      # the fabric's side of eth0 / eth1
            wire_checksums(fabric, peer)
        self.ovs = OvsServer(netns=self.ns.name, tso=True).start()
        self.ovs.vsctl("add-br", "br-under", "--", "set", "bridge", "br-under",
                       "datapath_type=netdev", "--", "add-port", "br-under", "eth0")
        self.ovs.vsctl("add-br", "br-physnet1", "--", "set", "bridge", "br-physnet1",
                       "datapath_type=netdev", "--", "add-port", "br-physnet1", "eth1")
        self.underlay()

    def underlay(self) -> None:
        """The underlay address on br-under's internal port (again after ovs-vswitchd
        restarts: the netdev datapath recreates its internal ports, addresses lost)."""
        self.ns.run("ip", "addr", "flush", "dev", "eth0")
        self.ns.run("ip", "addr", "replace", UNDERLAY.format(self.index), "dev", "br-under")
        self.ns.run("ip", "link", "set", "br-under", "up")

    def engine_argv(self) -> list[str]:
        return ["-m", "netqos.agent.l2.openvswitch", "--ovsdb", self.ovs.db,
                "--rundir", self.ovs.rundir, "--bridge-mappings", "physnet1:br-physnet1",
                "--tunnel-types", self.tunnel_types]

    def plug(self, vm: Vm) -> None:
        self.ns.run("ip", "link", "set", vm.tap, "up")
        self.ovs.vsctl("--may-exist", "add-br", "br-int", "--", "set", "bridge", "br-int",
                       "datapath_type=netdev", "fail_mode=secure",
                       "--", "--may-exist", "add-port", "br-int", vm.tap,
                       f"tag={DEAD_VLAN}", "--", "set", "Interface", vm.tap,
                       f"external_ids:iface-id={vm.port_id}",
                       f"external_ids:attached-mac={vm.mac}",
                       "external_ids:iface-status=active")

    def prepare_guest(self, vm: Vm) -> None:
        """Guests finish their own checksums: OVS 3.1's userspace datapath does not when
        it encapsulates (the engine reports tunnel_csum_offload false)."""
        wire_checksums(vm.ns, "eth0")

    def unplug(self, vm: Vm) -> None:
        self.ovs.vsctl("--if-exists", "del-port", "br-int", vm.tap)

    def close(self) -> None:
        self.ovs.stop()

    def restart_vswitchd(self) -> None:
        self.ovs.restart_vswitchd()
        self.underlay()

    def flows(self, bridge: str) -> list[str]:
        out = self.ovs.ofctl("dump-flows", "--no-stats", bridge)
        return [line.strip() for line in out.splitlines() if "cookie=" in line]

    def port(self, name: str) -> dict:
        """tag and other_config of a Port row."""
        tag = self.ovs.vsctl("get", "Port", name, "tag").strip()
        config = self.ovs.vsctl("get", "Port", name, "other_config").strip()
        return {"tag": None if tag == "[]" else int(tag), "other_config": config}
