"""A subnet's values checked against each other, as Neutron's _validate_subnet and IPAM do:
every address of the right IP version, the gateway and the pools inside the CIDR.

The fields themselves (qos.netattrs) already hold canonical, scope-free addresses; this
module knows the subnet they belong to.
"""
from __future__ import annotations

import ipaddress

from netqos.qos.errors import BadRequest, Conflict, InUse, InvalidInput
from netqos.service.ipam import host_bounds


class InvalidAllocationPool(BadRequest):
    message = "The allocation pool %(pool)s is not valid."


class OutOfBoundsAllocationPool(BadRequest):
    message = "The allocation pool %(pool)s spans beyond the subnet cidr %(subnet_cidr)s."


class OverlappingAllocationPools(Conflict):
    message = ("Found overlapping allocation pools: %(pool_1)s %(pool_2)s for subnet "
               "%(subnet_cidr)s.")


class GatewayConflictWithAllocationPools(InUse):
    message = "Gateway ip %(ip_address)s conflicts with allocation pool %(pool)s."


def check_version(version: int, value: str, name: str) -> None:
    if ipaddress.ip_network(value, strict=False).version != version:
        raise InvalidInput(error_message=f"{name} '{value}' does not match the ip_version "
                                         f"'{version}'")


def check_cidr(net, enable_dhcp: bool) -> None:
    """Neutron's refusals of a CIDR: '::' in IPv6; with DHCP, ranges DHCP cannot serve."""
    if net.version == 6 and net.network_address == ipaddress.IPv6Address("::"):
        raise InvalidInput(error_message="IPv6 subnet '::' is not supported")
    if not enable_dhcp:
        return
    if net.prefixlen > (30 if net.version == 4 else 126):
        raise InvalidInput(error_message="Subnet has a prefix length that is incompatible "
                                         "with DHCP service enabled")
    if net.is_multicast:
        raise InvalidInput(error_message="Multicast IP subnet is not supported if "
                                         "enable_dhcp is True")
    if net.is_loopback:
        raise InvalidInput(error_message="Loopback IP subnet is not supported if "
                                         "enable_dhcp is True")
    if net.version == 4 and int(net.network_address) == 0:
        raise InvalidInput(error_message="First IP '0.0.0.0' of network is not supported "
                                         "if enable_dhcp is True.")


def check_gateway(net, gateway: str | None) -> None:
    """netqos keeps the gateway inside the subnet; in IPv4 not its network or broadcast."""
    if gateway is None:
        return
    check_version(net.version, gateway, "gateway_ip")
    addr = ipaddress.ip_address(gateway)
    if addr not in net:
        raise BadRequest(f"Gateway IP {gateway} is not in subnet {net}")
    if net.version == 4 and addr in (net.network_address, net.broadcast_address) \
            and net.prefixlen < 31:
        raise InvalidInput(error_message="Gateway is not valid on subnet")


def check_pools(net, pools: list[dict], gateway: str | None) -> None:
    ranges = []
    for pool in pools:
        shown = f"{pool['start']}-{pool['end']}"
        start, end = ipaddress.ip_address(pool["start"]), ipaddress.ip_address(pool["end"])
        if start.version != net.version or end.version != net.version or start > end:
            raise InvalidAllocationPool(pool=shown)
        first, last = host_bounds(net)
        if start < first or end > last:
            raise OutOfBoundsAllocationPool(pool=shown, subnet_cidr=str(net))
        ranges.append((start, end, shown))
    ranges.sort()
    for (_, end_a, a), (start_b, _, b) in zip(ranges, ranges[1:]):
        if start_b <= end_a:
            raise OverlappingAllocationPools(pool_1=a, pool_2=b, subnet_cidr=str(net))
    if gateway is not None:
        gw = ipaddress.ip_address(gateway)
        for start, end, shown in ranges:
            if start <= gw <= end:
                raise GatewayConflictWithAllocationPools(ip_address=gateway, pool=shown)


def check_addresses(version: int, nameservers: list[str] | None,
                    routes: list[dict] | None) -> None:
    for dns in nameservers or []:
        check_version(version, dns, "dns_nameserver")
    for route in routes or []:
        check_version(version, route["destination"], "destination")
        check_version(version, route["nexthop"], "nexthop")
