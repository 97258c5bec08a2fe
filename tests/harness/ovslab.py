"""An Open vSwitch lab for the dataplane tests and the benchmark (root).

"VMs" are network namespaces, each wired by a veth pair whose host side (named like
Neutron's tap, tap + port id[:11]) is a port of an OVS bridge and carries
external_ids:iface-id = port id, as Nova's os-vif plugging leaves it. The host sides live
in the namespace ovs-vswitchd runs in (the root one): the userspace datapath opens them
by name. Every VM has 198.18.0.N/16 and fd00:198:18::N/64, so VMs talk to each other
through the bridge (NORMAL switching); one is usually the traffic peer of another.

The userspace datapath stalls TCP over veths with their default offloads: the lab turns
`other_config:userspace-tso-enable` on before the first port is added.

    with OvsLab(ovs_env, ovs_db, "br-nq123") as lab:
        vm, peer = lab.add_vm(), lab.add_vm()
"""
from __future__ import annotations

import os

from tests.harness.lab import Vm
from tests.harness.netns import Namespaces, in_ns, sh


class OvsLab(Namespaces):
    cc = "cubic"

    def __init__(self, env: dict[str, str], db: str, bridge: str | None = None,
                 datapath_type: str = "netdev", prefix: str | None = None):
        self.env, self.db = env, db
        self.prefix = prefix or f"nq-ovs-{os.getpid()}-"
        self.bridge = bridge or f"nqo{os.getpid() % 0xFFFFFF:x}"
        self.vms: list[Vm] = []
        self.namespaces: list[str] = []
        self.devices: list[str] = []
        self.vsctl("set", "Open_vSwitch", ".", "other_config:userspace-tso-enable=true")
        self.vsctl("--may-exist", "add-br", self.bridge, "--", "set", "bridge", self.bridge,
                   f"datapath_type={datapath_type}", "fail_mode=standalone")

    def vsctl(self, *args: str) -> str:
        return sh("ovs-vsctl", f"--db={self.db}", "--timeout=20", *args, env=self.env).stdout

    def ofctl(self, *args: str, stdin: str | None = None) -> str:
        return sh("ovs-ofctl", "-O", "OpenFlow13", *args, env=self.env, input=stdin).stdout

    def add_vm(self, port_id: str | None = None, mac: str | None = None,
               plug: bool = True) -> Vm:
        i = len(self.vms) + 1
        port_id = port_id or \
            f"{os.getpid() & 0xFFFFF:05x}{i:03x}-c612-4000-8000-{os.urandom(6).hex()}"
        ns, dev = f"{self.prefix}v{i}", "tap" + port_id[:11]
        mac = mac or f"02:00:c6:12:{os.getpid() % 251:02x}:{i:02x}"
        sh("ip", "link", "del", dev, check=False)
        self.new_netns(ns)
        sh(*in_ns(ns, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0"), check=False)
        sh("ip", "link", "add", dev, "type", "veth", "peer", "name", "eth0", "netns", ns)
        self.devices.append(dev)
        sh("ip", "-n", ns, "link", "set", "eth0", "address", mac)
        vm = Vm(ns, port_id, dev, mac, f"198.18.0.{i + 1}", f"fd00:198:18::{i + 1:x}",
                "", "")
        sh("ip", "-n", ns, "addr", "add", f"{vm.ip4}/16", "dev", "eth0")
        sh("ip", "-n", ns, "-6", "addr", "add", f"{vm.ip6}/64", "dev", "eth0", "nodad")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        sh("ip", "link", "set", dev, "up")
        self.vms.append(vm)
        if plug:
            self.plug(vm)
        return vm

    def plug(self, vm: Vm) -> None:
        """Add the VM's tap to the bridge with its iface-id, as os-vif does."""
        self.vsctl("--may-exist", "add-port", self.bridge, vm.device, "--", "set",
                   "Interface", vm.device, f"external_ids:iface-id={vm.port_id}",
                   "external_ids:iface-status=active", f"external_ids:attached-mac={vm.mac}")

    def unplug(self, vm: Vm) -> None:
        self.vsctl("--if-exists", "del-port", self.bridge, vm.device)

    def close(self) -> None:
        sh("ovs-vsctl", f"--db={self.db}", "--timeout=10", "--if-exists", "del-br",
           self.bridge, env=self.env, check=False)
        for dev in self.devices:
            sh("ip", "link", "del", dev, check=False)
        self.devices.clear()
        super().close()

    def many_ports(self, count: int, tag: str = "m") -> list[tuple[str, str, str]]:
        """`count` veth pairs in this namespace, their tap ends plugged with iface-ids by one
        ip -batch and one ovs-vsctl; (port id, tap, mac) each. For cost and crash tests."""
        rows, lines, vsctl = [], [], []
        base = os.getpid() & 0xFFFF
        for n in range(count):
            port = f"{base:04x}{n:04x}-{tag * 4}-4000-8000-{os.urandom(6).hex()}"[:36]
            dev, peer = "tap" + port[:11], "nqp" + port[:11]
            mac = f"02:02:{base >> 8:02x}:{base & 255:02x}:{n >> 8 & 255:02x}:{n & 255:02x}"
            lines += [f"link del {dev}", f"link add {dev} type veth peer name {peer}",
                      f"link set {dev} up", f"link set {peer} up"]
            vsctl += ["--", "--may-exist", "add-port", self.bridge, dev, "--", "set",
                      "Interface", dev, f"external_ids:iface-id={port}",
                      f"external_ids:attached-mac={mac}"]
            rows.append((port, dev, mac))
            self.devices.append(dev)
        sh("ip", "-force", "-batch", "-", input="\n".join(lines) + "\n", check=False)
        self.vsctl(*vsctl)
        return rows

