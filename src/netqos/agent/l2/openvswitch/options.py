"""The OVS L2 options, named as Neutron's OVS agent names them ([ovs] and [agent])."""
from __future__ import annotations

import argparse
import ipaddress
from dataclasses import dataclass, field

from netqos.agent.l2.linuxbridge.options import parse_mappings
from netqos.agent.l2.model import InvalidL2, valid_ifname

# Both carried by OVS's userspace datapath here (measured: bench/l2_ovs.py tunnels,
# bench/results/l2_ovs.md).
TUNNEL_TYPES = ("vxlan", "gre")
VXLAN_PORT = 4789


@dataclass(frozen=True)
class OvsL2Options:
    integration_bridge: str = "br-int"                       # --integration-bridge
    tunnel_bridge: str = "br-tun"                            # --tunnel-bridge
    bridge_mappings: dict[str, str] = field(default_factory=dict)  # --bridge-mappings
    local_ip: str | None = None                              # --local-ip
    tunnel_types: tuple[str, ...] = ()                       # --tunnel-types
    l2_population: bool = False                              # --l2-population
    dscp_inherit: bool = False                               # --dscp-inherit
    datapath_type: str = "netdev"                            # bridges it creates

    @property
    def tunneling(self) -> bool:
        """Whether this host terminates tunnels at all (br-tun exists)."""
        return bool(self.local_ip) and bool(self.tunnel_types)

    def tunnels(self, kind: str) -> bool:
        """Whether networks of tunnel type `kind` (vxlan, gre) can be wired here."""
        return self.tunneling and kind in self.tunnel_types


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The options only the OVS engine has (--l2, --local-ip and --l2-population are the
    Linux-bridge engine's too: netqos.agent.l2.linuxbridge.options)."""
    ap.add_argument("--integration-bridge", default="br-int",
                    help="openvswitch L2: the bridge of the VM ports (br-int)")
    ap.add_argument("--tunnel-bridge", default="br-tun",
                    help="openvswitch L2: the bridge of the tunnel ports (br-tun)")
    ap.add_argument("--bridge-mappings", default="", metavar="PHYSNET:BRIDGE,...",
                    help="openvswitch L2: the bridge of each physical network, "
                         "e.g. physnet1:br-physnet1")
    ap.add_argument("--tunnel-types", default="", metavar="vxlan[,gre]",
                    help="openvswitch L2: tunnel types, vxlan and/or gre (vxlan when "
                         "--local-ip is given)")


def from_args(args: argparse.Namespace) -> OvsL2Options:
    local_ip = getattr(args, "local_ip", None)
    if local_ip:
        try:
            ipaddress.ip_address(local_ip)
        except ValueError:
            raise SystemExit(f"netqos: --local-ip {local_ip!r}: not an IP address") from None
    types = tuple(dict.fromkeys(t for t in (s.strip() for s in args.tunnel_types.split(","))
                                if t))
    bad = [t for t in types if t not in TUNNEL_TYPES]
    if bad:
        raise SystemExit(f"netqos: --tunnel-types: unsupported {', '.join(bad)} "
                         f"(supported: {', '.join(TUNNEL_TYPES)})")
    if local_ip and not types:
        types = ("vxlan",)      # a tunnel endpoint without a type: Neutron's default
    for opt in ("integration_bridge", "tunnel_bridge"):
        try:
            valid_ifname(getattr(args, opt))
        except InvalidL2 as exc:
            raise SystemExit(f"netqos: --{opt.replace('_', '-')}: {exc}") from None
    return OvsL2Options(integration_bridge=args.integration_bridge,
                        tunnel_bridge=args.tunnel_bridge,
                        bridge_mappings=parse_mappings(args.bridge_mappings,
                                                       "--bridge-mappings"),
                        local_ip=local_ip, tunnel_types=types,
                        l2_population=bool(getattr(args, "l2_population", False)),
                        dscp_inherit=bool(getattr(args, "dscp_inherit", False)))
