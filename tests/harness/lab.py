"""A host with VMs in network namespaces, for the dataplane tests and the benchmarks.

A Lab is a "host" namespace plus "VM" namespaces, each VM wired to the host by a veth pair
whose host side is named like Neutron's tap (tap + port id[:11]); optionally through a Linux
bridge, optionally with an uplink veth to an "outside" namespace. Addresses come only from
198.18.0.0/15 and fd00:198:18::/48. Everything is named <prefix>… and torn down by close().
Traffic between the namespaces: tests/harness/traffic.py.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from tests.harness.netns import Namespaces, sh, unique_name


@dataclass
class Vm:
    ns: str
    port_id: str
    device: str          # host side
    mac: str
    ip4: str
    ip6: str
    gw4: str             # the host's address the VM talks to
    gw6: str


@dataclass
class Lab(Namespaces):
    prefix: str = field(default_factory=lambda: unique_name() + "-")   # nq-<pid>-<n>-
    cc: str = "cubic"                 # TCP congestion control in every namespace
    vms: list[Vm] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.host = self._netns("h")
        self.bridge: str | None = None

    def _netns(self, suffix: str) -> str:
        return self.new_netns(self.prefix + suffix)

    # ---- wiring ----
    def with_bridge(self) -> "Lab":
        """VMs added from now on hang off bridge `nqbr` (198.19.0.1/24) in the host."""
        self.bridge = "nqbr"
        sh("ip", "-n", self.host, "link", "add", self.bridge, "type", "bridge")
        self._addr(self.host, self.bridge, "198.19.0.1/24", "fd00:198:19::1/64")
        sh("ip", "-n", self.host, "link", "set", self.bridge, "up")
        return self

    def add_vm(self, port_id: str | None = None) -> Vm:
        i = len(self.vms) + 1
        port_id = port_id or f"{i:08x}-0000-4000-8000-{os.getpid():012x}"
        ns, dev, mac = self._netns(f"v{i}"), "tap" + port_id[:11], f"02:00:c6:12:00:{i:02x}"
        sh("ip", "-n", self.host, "link", "add", dev, "type", "veth", "peer", "name", "eth0",
           "netns", ns)
        sh("ip", "-n", ns, "link", "set", "eth0", "address", mac)
        if self.bridge:
            sh("ip", "-n", self.host, "link", "set", dev, "master", self.bridge)
            vm = Vm(ns, port_id, dev, mac, f"198.19.0.{i + 1}", f"fd00:198:19::{i + 1:x}",
                    "198.19.0.1", "fd00:198:19::1")
            plen4, plen6 = 24, 64
        else:
            vm = Vm(ns, port_id, dev, mac, f"198.18.{i}.2", f"fd00:198:18:{i:x}::2",
                    f"198.18.{i}.1", f"fd00:198:18:{i:x}::1")
            plen4, plen6 = 24, 64
            self._addr(self.host, dev, f"{vm.gw4}/24", f"{vm.gw6}/64")
        sh("ip", "-n", self.host, "link", "set", dev, "up")
        self._addr(ns, "eth0", f"{vm.ip4}/{plen4}", f"{vm.ip6}/{plen6}")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        sh("ip", "-n", ns, "route", "add", "default", "via", vm.gw4)
        sh("ip", "-n", ns, "-6", "route", "add", "default", "via", vm.gw6)
        self.vms.append(vm)
        return vm

    def add_uplink(self) -> tuple[str, str, str]:
        """An uplink veth `nqup` enslaved to the bridge, its far end in namespace `out`.

        Returns (uplink device, outside namespace, an outside address on the VMs' subnet).
        """
        assert self.bridge, "the uplink hangs off the bridge"
        out = self._netns("out")
        sh("ip", "-n", self.host, "link", "add", "nqup", "type", "veth", "peer", "name",
           "eth0", "netns", out)
        sh("ip", "-n", self.host, "link", "set", "nqup", "master", self.bridge)
        sh("ip", "-n", self.host, "link", "set", "nqup", "up")
        self._addr(out, "eth0", "198.19.0.250/24", "fd00:198:19::fa/64")
        sh("ip", "-n", out, "link", "set", "eth0", "up")
        return "nqup", out, "198.19.0.250"

    def add_routed_uplink(self) -> tuple[str, str, str]:
        """An uplink veth `nqup` the host routes the VMs through (no bridge), its far end in
        namespace `out` (198.18.250.2), which routes the VMs' subnets back via the host.

        Returns (uplink device, outside namespace, the outside address).
        """
        out = self._netns("out")
        sh("ip", "-n", self.host, "link", "add", "nqup", "type", "veth", "peer", "name",
           "eth0", "netns", out)
        sh("ip", "-n", self.host, "link", "set", "nqup", "up")
        self._addr(self.host, "nqup", "198.18.250.1/24", "fd00:198:18:fa::1/64")
        self._addr(out, "eth0", "198.18.250.2/24", "fd00:198:18:fa::2/64")
        sh("ip", "-n", out, "link", "set", "eth0", "up")
        sh("ip", "-n", out, "route", "add", "198.18.0.0/16", "via", "198.18.250.1")
        return "nqup", out, "198.18.250.2"

    @staticmethod
    def _addr(ns: str, dev: str, a4: str, a6: str) -> None:
        sh("ip", "-n", ns, "addr", "add", a4, "dev", dev)
        sh("ip", "-n", ns, "-6", "addr", "add", a6, "dev", dev, "nodad")

    def many_taps(self, count: int, prefix: str = "") -> list[tuple[str, str, str]]:
        """`count` veth pairs inside the host namespace (both ends there), via one ip -batch.

        Returns (port id, tap name, mac) for each; for cost measurements, not traffic.
        """
        rows, lines = [], []
        for n in range(count):
            port = f"{n:08x}-{prefix or 'aaaa'}-4000-8000-{os.getpid():012x}"
            dev = "tap" + port[:11]
            mac = f"02:01:{len(prefix):02x}:{n >> 16 & 255:02x}:{n >> 8 & 255:02x}:{n & 255:02x}"
            lines += [f"link add {dev} type veth peer name p{port[:11]}",
                      f"link set {dev} up", f"link set p{port[:11]} up"]
            rows.append((port, dev, mac))
        sh("ip", "-n", self.host, "-batch", "-", input="\n".join(lines) + "\n")
        return rows
