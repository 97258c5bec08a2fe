"""The L2 command-line options, named as Neutron's Linux-bridge agent names them."""
from __future__ import annotations

import argparse
import ipaddress

from netqos.agent.l2.linuxbridge.plan import L2Options
from netqos.agent.l2.model import InvalidL2, valid_ifname


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--l2", choices=["linuxbridge", "openvswitch"], default=None,
                    help="wire ports into their networks (linuxbridge: brq bridges; "
                         "openvswitch: br-int, br-tun and local VLANs)")
    ap.add_argument("--physical-interface-mappings", default="", metavar="PHYSNET:IFACE,...",
                    help="the interface of each physical network, e.g. physnet1:eth1")
    ap.add_argument("--local-ip", help="this host's VXLAN tunnel endpoint address")
    ap.add_argument("--l2-population", action="store_true",
                    help="fill each vxlan fdb with the remote ports' MACs too")
    ap.add_argument("--dscp-inherit", action="store_true",
                    help="VXLAN: copy the inner packet's DSCP to the outer header")


def parse_mappings(text: str, option: str = "--physical-interface-mappings"
                   ) -> dict[str, str]:
    mappings: dict[str, str] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        physnet, sep, iface = item.partition(":")
        try:
            if not sep or not physnet:
                raise InvalidL2(f"expected PHYSNET:IFACE, got {item!r}")
            valid_ifname(iface)
        except InvalidL2 as exc:
            raise SystemExit(f"netqos: {option}: {exc}") from None
        if physnet in mappings:
            raise SystemExit(f"netqos: {option}: {physnet} twice")
        mappings[physnet] = iface
    return mappings


def from_args(args: argparse.Namespace) -> L2Options:
    if args.local_ip:
        try:
            ipaddress.ip_address(args.local_ip)
        except ValueError:
            raise SystemExit(f"netqos: --local-ip {args.local_ip!r}: not an IP address") \
                from None
    return L2Options(local_ip=args.local_ip,
                     mappings=parse_mappings(args.physical_interface_mappings),
                     l2_population=args.l2_population, dscp_inherit=args.dscp_inherit)
