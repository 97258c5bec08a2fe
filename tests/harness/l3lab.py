"""A network node in namespaces, for the L3 tests and benchmarks.

    qrouter-<router_id>            the router, as Neutron's L3 agent builds it:
      qg-<gw_port[:11]>  ──veth──  <prefix>ext  eth0: the "external" network
      qr-<iface[:11]>    ──veth──  <prefix>v<i> eth0: a VM behind the router
    NAT (nftables, table inet nqlab in the router): DNAT floating IP -> fixed IP in
    prerouting; SNAT fixed IP -> floating IP, or the gateway IP for VMs without one, in
    postrouting. Floating IPs are addresses of qg- (/32, /128), as Neutron adds them.

Addresses come from 198.18.0.0/15 and fd00:198:18::/48 only. close() deletes every
namespace it made (the veths go with them). iperf3 runs between any two namespaces:
tests/harness/traffic.iperf3_between.
"""
from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field

from tests.harness.netns import Namespaces, in_ns, sh

EXT4, EXT6 = "198.18.200.254", "fd00:198:18:c8::fe"   # the outside host


@dataclass
class LabVm:
    ns: str
    ip4: str
    ip6: str


@dataclass
class RouterLab(Namespaces):
    router_id: str
    gw_port_id: str
    gw_ips: tuple[str, ...]                 # with prefix length, e.g. "198.18.200.2/24"
    prefix: str = field(default_factory=lambda: f"nq-l3-{os.getpid()}-")
    namespaces: list[str] = field(default_factory=list)
    vms: list[LabVm] = field(default_factory=list)
    fips: list[tuple[str, str]] = field(default_factory=list)     # (floating, fixed)
    cc: str = "cubic"

    def __post_init__(self):
        self.router = self.new_netns("qrouter-" + self.router_id)
        self.ext = self.new_netns(self.prefix + "ext")
        self.qg = "qg-" + self.gw_port_id[:11]
        sh("ip", "-n", self.router, "link", "add", self.qg, "type", "veth", "peer", "name",
           "eth0", "netns", self.ext)
        for a in self.gw_ips:
            self._addr(self.router, self.qg, a)
        self._addr(self.ext, "eth0", EXT4 + "/24")
        self._addr(self.ext, "eth0", EXT6 + "/64")
        for ns, dev in ((self.router, self.qg), (self.ext, "eth0")):
            sh("ip", "-n", ns, "link", "set", dev, "up")
        self._nat()

    @staticmethod
    def _addr(ns: str, dev: str, cidr: str) -> None:
        extra = ("nodad",) if ":" in cidr else ()
        sh("ip", "-n", ns, "addr", "add", cidr, "dev", dev, *extra)

    # ---- wiring ----
    def add_vm(self, iface_port_id: str, gateways: tuple[str, ...],
               addresses: tuple[str, str]) -> LabVm:
        """A VM namespace behind qr-<iface[:11]>: `gateways` are the router's CIDRs on it
        (e.g. 198.18.201.1/24), `addresses` the VM's (IPv4, IPv6) fixed IPs."""
        i = len(self.vms) + 1
        ns, qr = self.new_netns(f"{self.prefix}v{i}"), "qr-" + iface_port_id[:11]
        sh("ip", "-n", self.router, "link", "add", qr, "type", "veth", "peer", "name", "eth0",
           "netns", ns)
        for g in gateways:
            self._addr(self.router, qr, g)
        sh("ip", "-n", self.router, "link", "set", qr, "up")
        plen = {ipaddress.ip_interface(g).version: g.split("/")[1] for g in gateways}
        gw = {ipaddress.ip_interface(g).version: g.split("/")[0] for g in gateways}
        for a in addresses:
            self._addr(ns, "eth0", f"{a}/{plen[ipaddress.ip_address(a).version]}")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        sh("ip", "-n", ns, "route", "add", "default", "via", gw[4])
        sh("ip", "-n", ns, "-6", "route", "add", "default", "via", gw[6])
        vm = LabVm(ns, *addresses)
        self.vms.append(vm)
        return vm

    def add_fip(self, floating: str, fixed: str) -> None:
        """The floating IP on qg- and its NAT, as Neutron's L3 agent sets them up."""
        self._addr(self.router, self.qg,
                   floating + ("/32" if ipaddress.ip_address(floating).version == 4 else "/128"))
        self.fips.append((floating, fixed))
        self._nat()

    def _nat(self) -> None:
        pre, post = [], []
        for floating, fixed in self.fips:
            fam = "ip" if ipaddress.ip_address(floating).version == 4 else "ip6"
            pre.append(f"{fam} daddr {floating} dnat {fam} to {fixed}")
            post.append(f'{fam} saddr {fixed} oifname "{self.qg}" snat {fam} to {floating}')
        for a in self.gw_ips:
            ip = a.split("/")[0]
            fam = "ip" if ipaddress.ip_address(ip).version == 4 else "ip6"
            # everything else leaving through the gateway: the router's SNAT
            local = " ip6 saddr != fe80::/10" if fam == "ip6" else ""   # keep ND intact
            post.append(f'oifname "{self.qg}" {fam} saddr != {ip}{local} snat {fam} to {ip}')
        rules = (
            "table inet nqlab\ndelete table inet nqlab\ntable inet nqlab {\n"
            " chain pre { type nat hook prerouting priority dstnat; "
            + "".join(r + "; " for r in pre) + "}\n"
            " chain post { type nat hook postrouting priority srcnat; "
            + "".join(r + "; " for r in post) + "}\n}\n")
        sh(*in_ns(self.router, "nft", "-f", "-"), input=rules)
