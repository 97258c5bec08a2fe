"""Subnets: address ranges of a network, from which ports get fixed IPs."""
from __future__ import annotations

import ipaddress
import uuid

from sqlalchemy import select

from netqos.db import repo
from netqos.db.listing import Attr
from netqos.db.models import IpAllocation, Network, Subnet
from netqos.qos.attributes import Boolean, Choice, IntRange, Schema, String, Uuid
from netqos.qos.errors import Conflict, NotFound
from netqos.qos.netattrs import HostRoutes, IpAddress, IpPools, Nameservers
from netqos.qos.netattrs import Subnet as SubnetCidr
from netqos.service import common, ipam, networks, resources, subnet_rules, views
from netqos.service.listing import ListQuery, Page
from netqos.service.txn import Txn


class SubnetNotFound(NotFound):
    message = "Subnet %(subnet_id)s could not be found."


class SubnetInUse(Conflict):
    message = ("Unable to complete operation on subnet %(subnet_id)s: One or more ports have "
               "an IP allocation from this subnet.")


SCHEMA = Schema("subnet", (
    Uuid("network_id", allow_put=False),
    SubnetCidr("cidr", allow_put=False),
    Choice("ip_version", choices=(4, 6), allow_put=False),
    String("name", default=""),
    String("description", default=""),
    IpAddress("gateway_ip", default=None, nullable=True),
    IpPools("allocation_pools", default=None, nullable=True),
    Boolean("enable_dhcp", default=True),
    Nameservers("dns_nameservers", default=None, nullable=True),
    HostRoutes("host_routes", default=None, nullable=True),
    String("project_id", default=None, allow_put=False),
    String("tenant_id", default=None, allow_put=False),
), read_only=frozenset({"id", "tags", "revision_number", "created_at", "updated_at",
                        "subnetpool_id", "ipv6_ra_mode", "ipv6_address_mode"}))

KIND = resources.Kind(
    "subnet", Subnet,
    attrs={**resources.standard_attrs(Subnet), "network_id": Attr(Subnet.network_id),
           "cidr": Attr(Subnet.cidr), "gateway_ip": Attr(Subnet.gateway_ip),
           "ip_version": Attr(Subnet.ip_version, IntRange("ip_version").convert),
           "enable_dhcp": Attr(Subnet.enable_dhcp, Boolean("enable_dhcp").convert)},
    not_found=lambda subnet_id: SubnetNotFound(subnet_id=subnet_id),
    # A subnet is visible wherever its network is (a shared network's subnets too).
    visible_via=lambda ctx: Subnet.network_id.in_(
        select(Network.id).where(networks.KIND.visible(ctx))))


def find(txn: Txn, subnet_id: str) -> Subnet:
    return resources.find(txn, KIND, subnet_id)


def render(txn: Txn, rows: list[Subnet]) -> list[dict]:
    tags = repo.tags_by_id(txn.session, [s.id for s in rows])
    return [views.subnet_view(s, tags.get(s.id, [])) for s in rows]


def view(txn: Txn, subnet: Subnet) -> dict:
    return render(txn, [subnet])[0]


def list_subnets(txn: Txn, q: ListQuery) -> Page:
    return resources.page(txn, KIND, q, render)


def create_subnet(txn: Txn, body: dict) -> dict:
    values = SCHEMA.for_create(body)
    net = networks.find(txn, values["network_id"])
    project_id = common.pop_owner(txn.ctx, values, "subnet", **{
        "network:project_id": net.project_id, "network:tenant_id": net.project_id})
    cidr, gateway, pools = _checked_ranges(values, "gateway_ip" in body)
    subnet = Subnet(id=str(uuid.uuid4()), project_id=project_id, network_id=net.id,
                    name=values["name"], description=values["description"],
                    ip_version=values["ip_version"], cidr=cidr, gateway_ip=gateway,
                    allocation_pools=pools, enable_dhcp=values["enable_dhcp"],
                    revision_number=0)  # Neutron's first revision of a subnet
    txn.session.add(subnet)
    txn.session.flush()
    return view(txn, subnet)


def _checked_ranges(values: dict, gateway_given: bool) -> tuple[str, str | None, list]:
    """(cidr, gateway, pools) of a new subnet, each checked against the others."""
    version, cidr = values["ip_version"], values["cidr"]
    subnet_rules.check_version(version, cidr, "cidr")
    net = ipaddress.ip_network(cidr)
    subnet_rules.check_cidr(net, values["enable_dhcp"])
    gateway = values["gateway_ip"] if gateway_given else ipam.default_gateway(cidr)
    subnet_rules.check_gateway(net, gateway)
    pools = values["allocation_pools"]
    if pools:
        subnet_rules.check_pools(net, pools, gateway)
    else:
        pools = ipam.default_pools(cidr, gateway)
    subnet_rules.check_addresses(version, values["dns_nameservers"], values["host_routes"])
    return cidr, gateway, pools


def update_subnet(txn: Txn, subnet_id: str, body: dict, if_match: int | None) -> dict:
    values = SCHEMA.for_update(body)
    subnet = resources.find_owned(txn, KIND, subnet_id)
    common.check_revision(subnet, if_match)
    _check_update(subnet, values)
    for attr in ("name", "description", "enable_dhcp", "gateway_ip"):
        if attr in values:
            setattr(subnet, attr, values[attr])
    repo.bump_revision(subnet)
    txn.session.flush()
    return view(txn, subnet)


def _check_update(subnet: Subnet, values: dict) -> None:
    net = ipaddress.ip_network(subnet.cidr)
    if "gateway_ip" in values:
        subnet_rules.check_gateway(net, values["gateway_ip"])
    if values.get("enable_dhcp"):
        subnet_rules.check_cidr(net, True)
    subnet_rules.check_addresses(subnet.ip_version, values.get("dns_nameservers"),
                                 values.get("host_routes"))


def delete_subnet(txn: Txn, subnet_id: str) -> None:
    subnet = resources.find_owned(txn, KIND, subnet_id, "delete_subnet")
    if txn.session.scalar(select(IpAllocation.port_id)
                          .where(IpAllocation.subnet_id == subnet.id).limit(1)):
        raise SubnetInUse(subnet_id=subnet.id)
    repo.untag(txn.session, subnet.id)
    txn.session.delete(subnet)
    txn.session.flush()
