"""Floating IPs: an external address NATed to a port's fixed IP by a router."""
from __future__ import annotations

import ipaddress
import uuid

from sqlalchemy import select

from netqos.db import repo
from netqos.db.listing import Attr
from netqos.db.models import FloatingIp, Network, Port, Subnet
from netqos.qos import backends
from netqos.qos.attributes import Schema, String, Uuid
from netqos.qos.errors import BadRequest, NotFound
from netqos.qos.netattrs import IpAddress
from netqos.service import (attribute_rights, bindings, changes, common, networks, policies,
                            ports, resources, routers, views)
from netqos.service.listing import ListQuery, Page
from netqos.service.txn import Txn

FLOATING = "network:floatingip"


class FloatingIPNotFound(NotFound):
    message = "Floating IP %(floatingip_id)s could not be found"


class ExternalGatewayForFloatingIPNotFound(NotFound):
    message = ("External network %(external_network_id)s is not reachable from subnet "
               "%(subnet_id)s.  Therefore, cannot associate Port %(port_id)s with a "
               "Floating IP.")


SCHEMA = Schema("floatingip", (
    Uuid("floating_network_id", allow_put=False),
    IpAddress("floating_ip_address", default=None, nullable=True, allow_put=False),
    Uuid("subnet_id", default=None, nullable=True, allow_put=False),
    Uuid("port_id", default=None, nullable=True),
    IpAddress("fixed_ip_address", default=None, nullable=True),
    Uuid("qos_policy_id", default=None, nullable=True),
    String("description", default=""),
    String("project_id", default=None, allow_put=False),
    String("tenant_id", default=None, allow_put=False),
), read_only=frozenset({"id", "status", "router_id", "tags", "revision_number",
                        "created_at", "updated_at", "qos_network_policy_id", "port_details"}))

KIND = resources.Kind(
    "floatingip", FloatingIp,
    attrs={**resources.standard_attrs(FloatingIp),
           "floating_network_id": Attr(FloatingIp.floating_network_id),
           "floating_ip_address": Attr(FloatingIp.floating_ip_address),
           "port_id": Attr(FloatingIp.port_id), "router_id": Attr(FloatingIp.router_id),
           "fixed_ip_address": Attr(FloatingIp.fixed_ip_address),
           "qos_policy_id": Attr(FloatingIp.qos_policy_id)},
    not_found=lambda fip_id: FloatingIPNotFound(floatingip_id=fip_id))


def render(txn: Txn, fips: list[FloatingIp]) -> list[dict]:
    net_ids = {f.floating_network_id for f in fips}
    net_policy = dict(txn.session.execute(select(Network.id, Network.qos_policy_id)
                                          .where(Network.id.in_(net_ids))).tuples().all())
    tags = repo.tags_by_id(txn.session, [f.id for f in fips])
    rules = bindings.rules_by_policy(
        txn.session, (f.qos_policy_id or net_policy.get(f.floating_network_id) for f in fips))
    port_ids = {f.port_id for f in fips if f.port_id}
    fip_ports = {p.id: p for p in txn.session.scalars(
        select(Port).where(Port.id.in_(port_ids)))} if port_ids else {}
    out = []
    for f in fips:
        view_ = views.floatingip_view(f, net_policy.get(f.floating_network_id),
                                      tags.get(f.id, []))
        # Neutron's fip-port-details: what the address points at.
        view_["port_details"] = views.port_details(fip_ports.get(f.port_id))
        # Only bandwidth limits are enforced on a floating IP; say which rules are not.
        view_["netqos:qos_ignored_rule_types"] = backends.l3_ignored_rule_types(
            rules.get(f.qos_policy_id or net_policy.get(f.floating_network_id), []))
        out.append(view_)
    return out


def view(txn: Txn, fip: FloatingIp) -> dict:
    return render(txn, [fip])[0]


def list_floatingips(txn: Txn, q: ListQuery) -> Page:
    return resources.page(txn, KIND, q, render)


def create_floatingip(txn: Txn, body: dict) -> dict:
    values = SCHEMA.for_create(body)
    project_id = common.pop_owner(txn.ctx, values, "floatingip")
    net = networks.find(txn, values["floating_network_id"])
    if not net.router_external:
        raise BadRequest(f"Bad floatingip request: Network {net.id} is not a valid external "
                         "network.")
    attribute_rights.check(txn.ctx, "create_floatingip", body, attribute_rights.FLOATINGIP,
                           {"project_id": project_id, "tenant_id": project_id})
    policies.check_attach(txn, None, values["qos_policy_id"])
    fip = FloatingIp(id=str(uuid.uuid4()), project_id=project_id,
                     description=values["description"], floating_network_id=net.id,
                     qos_policy_id=values["qos_policy_id"], revision_number=1)
    floating_port = _floating_port(txn, fip, net, values)
    fip.floating_port_id = floating_port.id
    fip.floating_ip_address = floating_port.fixed_ips[0].ip_address
    txn.session.add(fip)
    txn.session.flush()
    if values["port_id"]:
        _associate(txn, fip, values["port_id"], values["fixed_ip_address"])
    _announce(txn, fip, [fip.router_id])
    return view(txn, fip)


def _floating_port(txn: Txn, fip: FloatingIp, net: Network, values: dict) -> Port:
    """The external address lives on a port of the external network that no project owns.

    IPv4 by default; a `subnet_id` or an address of an IPv6 subnet gives an IPv6 floating
    IP, which Neutron does not offer.
    """
    subnets = list(txn.session.scalars(select(Subnet).where(Subnet.network_id == net.id)
                                       .order_by(Subnet.ip_version, Subnet.created_at)))
    if not subnets:
        raise BadRequest(f"Bad floatingip request: Network {net.id} has no subnet.")
    spec = {"subnet_id": values["subnet_id"] or subnets[0].id}
    if values["floating_ip_address"]:
        spec = {"ip_address": values["floating_ip_address"]}
        if values["subnet_id"]:
            spec["subnet_id"] = values["subnet_id"]
    port = Port(id=str(uuid.uuid4()), project_id="", network_id=net.id,
                mac_address=ports.new_mac(txn, net.id, None), device_owner=FLOATING,
                device_id=fip.id, revision_number=1)
    txn.session.add(port)
    txn.session.flush()
    ports.allocate_ips(txn, port, [spec])
    txn.session.flush()
    txn.session.refresh(port, ["fixed_ips"])
    return port


def _associate(txn: Txn, fip: FloatingIp, port_id: str | None, fixed_ip: str | None) -> None:
    if port_id is None:
        fip.port_id = fip.fixed_ip_address = fip.router_id = None
        return
    port = ports.find_owned(txn, port_id)
    version = ipaddress.ip_address(fip.floating_ip_address).version
    candidates = [a.ip_address for a in port.fixed_ips
                  if ipaddress.ip_address(a.ip_address).version == version]
    if fixed_ip is None:
        if not candidates:
            raise BadRequest(f"Bad floatingip request: Port {port.id} has no IPv{version} "
                             "address.")
        fixed_ip = candidates[0]
    elif fixed_ip not in candidates:
        raise BadRequest(f"Bad floatingip request: Port {port.id} does not have fixed ip "
                         f"{fixed_ip}.")
    router = routers.router_for(txn, port, fixed_ip, fip.floating_network_id)
    if router is None:
        subnet_id = next(a.subnet_id for a in port.fixed_ips if a.ip_address == fixed_ip)
        raise ExternalGatewayForFloatingIPNotFound(external_network_id=fip.floating_network_id,
                                                   subnet_id=subnet_id, port_id=port.id)
    fip.port_id, fip.fixed_ip_address, fip.router_id = port.id, fixed_ip, router.id


def _announce(txn: Txn, fip: FloatingIp, router_ids) -> None:
    """The network nodes of the routers involved must re-read their floating IPs."""
    gateways = routers.gateway_ports_of(txn, set(router_ids) | {fip.router_id})
    if gateways:
        changes.touch(txn, "floatingip", fip.id, gateways)


def update_floatingip(txn: Txn, fip_id: str, body: dict, if_match: int | None) -> dict:
    values = SCHEMA.for_update(body)
    fip = resources.find_owned(txn, KIND, fip_id)
    common.check_revision(fip, if_match)
    old_router = fip.router_id
    if "qos_policy_id" in values:
        policies.check_attach(txn, fip.qos_policy_id, values["qos_policy_id"])
        fip.qos_policy_id = values["qos_policy_id"]
    if "description" in values:
        fip.description = values["description"]
    if "port_id" in values:
        _associate(txn, fip, values["port_id"], values.get("fixed_ip_address"))
    repo.bump_revision(fip)
    txn.session.flush()
    _announce(txn, fip, [old_router])
    return view(txn, fip)


def delete_floatingip(txn: Txn, fip_id: str) -> None:
    fip = resources.find_owned(txn, KIND, fip_id, "delete_floatingip")
    _announce(txn, fip, [fip.router_id])
    floating_port = txn.session.get(Port, fip.floating_port_id)
    repo.untag(txn.session, fip.id)
    txn.session.delete(fip)
    txn.session.flush()
    if floating_port is not None:
        txn.session.delete(floating_port)
        txn.session.flush()


