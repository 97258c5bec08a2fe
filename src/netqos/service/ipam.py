"""A simple IPAM: fixed IPs handed out from a subnet's allocation pools."""
from __future__ import annotations

import ipaddress

from sqlalchemy import select
from sqlalchemy.orm import Session

from netqos.db.models import IpAllocation, Subnet
from netqos.qos.errors import BadRequest, Conflict
from netqos.qos.netattrs import canonical_ip


class IpAddressGenerationFailure(Conflict):
    message = "No more IP addresses available on network %(net_id)s."


class IpAddressAlreadyAllocated(Conflict):
    message = "IP address %(ip)s already allocated in subnet %(subnet_id)s"


class InvalidIpForSubnet(BadRequest):
    message = "IP address %(ip_address)s is not a valid IP for the specified subnet."


class InvalidIpForNetwork(BadRequest):
    message = ("IP address %(ip_address)s is not a valid IP for any of the subnets on the "
               "specified network.")


def in_cidr(ip: str, cidr: str) -> bool:
    addr = canonical_ip(ip)
    return addr is not None and addr in ipaddress.ip_network(cidr)


def default_pools(cidr: str, gateway_ip: str | None) -> list[dict]:
    """Every host address of the CIDR but the gateway, as Neutron's default pool."""
    net = ipaddress.ip_network(cidr)
    first, last = host_bounds(net)
    gw = ipaddress.ip_address(gateway_ip) if gateway_ip else None
    pools = []
    if gw is not None and first <= gw <= last:
        if gw > first:
            pools.append((first, gw - 1))
        if gw < last:
            pools.append((gw + 1, last))
    elif first <= last:
        pools.append((first, last))
    return [{"start": str(a), "end": str(b)} for a, b in pools]


def host_bounds(net) -> tuple:
    if net.version == 4 and net.prefixlen <= 30:
        return net.network_address + 1, net.broadcast_address - 1
    if net.version == 6 and net.prefixlen <= 126:
        return net.network_address + 1, net.broadcast_address
    return net.network_address, net.broadcast_address


def default_gateway(cidr: str) -> str | None:
    """The first address after the network's, when the subnet has one."""
    net = ipaddress.ip_network(cidr)
    return str(net.network_address + 1) if net.num_addresses > 1 else None


def allocate(session: Session, subnet: Subnet, port_id: str, ip: str | None = None) -> str:
    taken = set(session.scalars(select(IpAllocation.ip_address)
                                .where(IpAllocation.subnet_id == subnet.id)))
    if ip is not None:
        ip = _check_in_subnet(subnet, ip)
        if ip in taken:
            raise IpAddressAlreadyAllocated(ip=ip, subnet_id=subnet.id)
    else:
        ip = _first_free(subnet, taken)
    session.add(IpAllocation(port_id=port_id, subnet_id=subnet.id, ip_address=ip,
                             network_id=subnet.network_id))
    return ip


def _check_in_subnet(subnet: Subnet, ip: str) -> str:
    """The canonical spelling of `ip` (so uniqueness compares like with like), if it is a
    usable address of the subnet: in IPv4 neither its network nor broadcast address."""
    addr = canonical_ip(ip)
    if addr is None:
        raise BadRequest(f"Invalid input for ip_address. Reason: '{ip}' is not a valid IP "
                         "address.")
    net = ipaddress.ip_network(subnet.cidr)
    if addr not in net or (net.version == 4 and net.prefixlen < 31
                           and addr in (net.network_address, net.broadcast_address)):
        raise InvalidIpForSubnet(ip_address=ip)
    return str(addr)


def _first_free(subnet: Subnet, taken: set[str]) -> str:
    for pool in subnet.allocation_pools:
        addr, end = ipaddress.ip_address(pool["start"]), ipaddress.ip_address(pool["end"])
        while addr <= end:
            if str(addr) not in taken:
                return str(addr)
            addr += 1
    raise IpAddressGenerationFailure(net_id=subnet.network_id)
