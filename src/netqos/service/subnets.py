"""Subnets: address ranges of a network, from which ports get fixed IPs."""
from __future__ import annotations

import ipaddress
import uuid

from sqlalchemy import select

from netqos.db import repo
from netqos.db.listing import Attr
from netqos.db.models import IpAllocation, Network, Subnet
from netqos.qos.attributes import Boolean, Choice, Dict, IntRange, ListOf, Schema, String, Uuid
from netqos.qos.errors import BadRequest, Conflict, NotFound
from netqos.service import common, ipam, networks, resources, views
from netqos.service.listing import ListQuery, Page
from netqos.service.txn import Txn


class SubnetNotFound(NotFound):
    message = "Subnet %(subnet_id)s could not be found."


class SubnetInUse(Conflict):
    message = ("Unable to complete operation on subnet %(subnet_id)s: One or more ports have "
               "an IP allocation from this subnet.")


SCHEMA = Schema("subnet", (
    Uuid("network_id", allow_put=False),
    String("cidr", allow_put=False),
    Choice("ip_version", choices=(4, 6), allow_put=False),
    String("name", default=""),
    String("description", default=""),
    String("gateway_ip", default=None, nullable=True),
    ListOf("allocation_pools", default=None, nullable=True, item=Dict("allocation_pool")),
    Boolean("enable_dhcp", default=True),
    ListOf("dns_nameservers", default=None, nullable=True),
    ListOf("host_routes", default=None, nullable=True),
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
    cidr = _cidr(values["cidr"], values["ip_version"])
    gateway = values["gateway_ip"] if "gateway_ip" in body else ipam.default_gateway(cidr)
    if gateway is not None and ipaddress.ip_address(gateway) not in ipaddress.ip_network(cidr):
        raise BadRequest(f"Gateway IP {gateway} is not in subnet {cidr}")
    pools = values["allocation_pools"] or ipam.default_pools(cidr, gateway)
    subnet = Subnet(id=str(uuid.uuid4()), project_id=project_id, network_id=net.id,
                    name=values["name"], description=values["description"],
                    ip_version=values["ip_version"], cidr=cidr, gateway_ip=gateway,
                    allocation_pools=pools, enable_dhcp=values["enable_dhcp"],
                    revision_number=1)
    txn.session.add(subnet)
    txn.session.flush()
    return view(txn, subnet)


def _cidr(value: str, version: int) -> str:
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise BadRequest(f"Invalid input for cidr. Reason: '{value}' is not a valid IP "
                         "subnet.") from None
    if net.version != version:
        raise BadRequest(f"Invalid input for cidr: {value} is not an IPv{version} subnet.")
    return str(net)


def update_subnet(txn: Txn, subnet_id: str, body: dict, if_match: int | None) -> dict:
    values = SCHEMA.for_update(body)
    subnet = resources.find_owned(txn, KIND, subnet_id)
    common.check_revision(subnet, if_match)
    for attr in ("name", "description", "enable_dhcp", "gateway_ip"):
        if attr in values:
            setattr(subnet, attr, values[attr])
    repo.bump_revision(subnet)
    txn.session.flush()
    return view(txn, subnet)


def delete_subnet(txn: Txn, subnet_id: str) -> None:
    subnet = resources.find_owned(txn, KIND, subnet_id, "delete_subnet")
    if txn.session.scalar(select(IpAllocation.port_id)
                          .where(IpAllocation.subnet_id == subnet.id).limit(1)):
        raise SubnetInUse(subnet_id=subnet.id)
    txn.session.delete(subnet)
    txn.session.flush()
