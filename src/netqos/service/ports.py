"""Ports: where QoS lands. A port's host and vnic type decide which backend enforces it."""
from __future__ import annotations

import random
import uuid

from sqlalchemy import delete, select
from sqlalchemy.orm import selectinload

from netqos.db import repo
from netqos.db.listing import Attr
from netqos.db.models import FloatingIp, IpAllocation, Port, RbacEntry, Router, Subnet
from netqos.qos.attributes import Boolean, Choice, ListOf, Schema, String, Uuid
from netqos.qos.errors import BadRequest, Conflict, NotFound
from netqos.qos import placement
from netqos.qos.netattrs import (AddressPairs, BindingProfile, FixedIps, HostId, MacAddress,
                                 PrintableString)
from netqos.service import (attribute_rights, bindings, changes, common, ipam, l2, networks,
                            policies, resources, views)
from netqos.service.agents import is_alive
from netqos.service.listing import ListQuery, Page
from netqos.service.txn import Txn

VNIC_TYPES = ("normal", "direct", "macvtap", "direct-physical", "baremetal",
              "virtio-forwarder", "smart-nic", "vdpa", "remote-managed",
              "accelerator-direct", "accelerator-direct-physical")
ROUTER_INTERFACE = "network:router_interface"
# Fields whose change can alter what a port's agent must enforce.
QOS_RELEVANT = ("qos_policy_id", "binding:host_id", "binding:vnic_type", "binding:profile",
                "device_owner", "fixed_ips", "admin_state_up")


class PortNotFound(NotFound):
    message = "Port %(port_id)s could not be found."


class MacAddressInUse(Conflict):
    message = "Unable to complete operation for network %(net_id)s. The mac address %(mac)s is in use."


class ServicePortInUse(Conflict):
    message = ("Port %(port_id)s cannot be deleted directly via the port API: has device "
               "owner %(device_owner)s.")


SCHEMA = Schema("port", (
    Uuid("network_id", allow_put=False),
    String("name", default=""),
    String("description", default=""),
    Boolean("admin_state_up", default=True),
    MacAddress("mac_address", default=None, allow_put=False),
    FixedIps("fixed_ips", default=None, nullable=True),
    PrintableString("device_owner", default=""),
    PrintableString("device_id", default=""),
    HostId("binding:host_id", default=""),
    Choice("binding:vnic_type", default="normal", choices=VNIC_TYPES),
    BindingProfile("binding:profile", default=None, nullable=True),
    Uuid("qos_policy_id", default=None, nullable=True),
    # Accepted for client compatibility; netqos enforces no security groups.
    ListOf("security_groups", default=None, nullable=True),
    Boolean("port_security_enabled", default=True),
    AddressPairs("allowed_address_pairs", default=None, nullable=True),
    String("project_id", default=None, allow_put=False),
    String("tenant_id", default=None, allow_put=False),
), read_only=frozenset({"id", "status", "tags", "revision_number", "created_at",
                        "updated_at", "qos_network_policy_id", "binding:vif_type",
                        "binding:vif_details", "netqos:qos_state", "resource_request"}))

KIND = resources.Kind(
    "port", Port,
    attrs={**resources.standard_attrs(Port), "network_id": Attr(Port.network_id),
           "mac_address": Attr(Port.mac_address), "device_owner": Attr(Port.device_owner),
           "device_id": Attr(Port.device_id), "binding:host_id": Attr(Port.host),
           "binding:vnic_type": Attr(Port.vnic_type), "qos_policy_id": Attr(Port.qos_policy_id),
           "admin_state_up": Attr(Port.admin_state_up, Boolean("admin_state_up").convert),
           "status": Attr(Port.qos_status)},
    not_found=lambda port_id: PortNotFound(port_id=port_id),
    load=(selectinload(Port.network), selectinload(Port.fixed_ips)))


def find(txn: Txn, port_id: str) -> Port:
    return resources.find(txn, KIND, port_id)


def find_owned(txn: Txn, port_id: str, rule: str = "update_port") -> Port:
    return resources.find_owned(txn, KIND, port_id, rule)


def render(txn: Txn, ports: list[Port]) -> list[dict]:
    agents = bindings.host_agents(txn.session, (p.host for p in ports))
    tags = repo.tags_by_id(txn.session, [p.id for p in ports])
    out = [views.port_view(p, _vif_type(p, agents.get(p.host, [])), tags.get(p.id, []),
                           _agent_alive(p, agents.get(p.host, [])))
           for p in ports]
    if txn.ctx.is_admin:  # Neutron shows the placement request to admins (Nova) only
        rules = bindings.rules_by_policy(txn.session, (bindings.effective_id(p) for p in ports))
        for port, shown in zip(ports, out):
            shown["resource_request"] = placement.resource_request(
                port.id, port.vnic_type, port.network.physical_network,
                rules.get(bindings.effective_id(port), []))
    return out


def _vif_type(port: Port, agents: list) -> str:
    return bindings.backend_of(port, agents).vif_type if port.host else "unbound"


def _agent_alive(port: Port, agents: list) -> bool | None:
    """Whether the agent that enforces the port is alive (None: its host has none)."""
    agent = bindings.agent_of(port, agents) or (agents[0] if agents else None)
    return None if agent is None else is_alive(agent)


def view(txn: Txn, port: Port) -> dict:
    return render(txn, [port])[0]


def list_ports(txn: Txn, q: ListQuery) -> Page:
    return resources.page(txn, KIND, q, render)


def create_port(txn: Txn, body: dict) -> dict:
    values = SCHEMA.for_create(body)
    net = networks.find(txn, values["network_id"])
    network = _network_target(txn, net)
    project_id = common.pop_owner(txn.ctx, values, "port", **network)
    attribute_rights.check(txn.ctx, "create_port", body, attribute_rights.PORT,
                           {"project_id": project_id, "tenant_id": project_id, **network})
    policies.check_attach(txn, None, values["qos_policy_id"])
    port = Port(id=str(uuid.uuid4()), project_id=project_id, network_id=net.id,
                name=values["name"], description=values["description"],
                admin_state_up=values["admin_state_up"],
                mac_address=new_mac(txn, net.id, values["mac_address"]),
                device_owner=values["device_owner"], device_id=values["device_id"],
                host=values["binding:host_id"], vnic_type=values["binding:vnic_type"],
                profile=values["binding:profile"] or {}, qos_policy_id=values["qos_policy_id"],
                revision_number=1)
    port.network = net
    txn.session.add(port)
    txn.session.flush()
    allocate_ips(txn, port, values["fixed_ips"])
    txn.session.flush()
    bindings.check_ports(txn.session, [port])
    changes.touch(txn, "port", port.id, [port], hosts=_l2_peers(txn, port))
    txn.session.refresh(port, ["fixed_ips"])
    return view(txn, port)


def _l2_peers(txn: Txn, port: Port) -> set[str]:
    """The hosts whose "l2" block lists a bound port's MAC and host (l2population): the
    port's binding changing moves theirs too."""
    return l2.peer_hosts(txn, [port.network_id]) if port.host else set()


def _network_target(txn: Txn, net) -> dict:
    """What Neutron's port rules see of the port's network: its owner, and whether it is
    shared with the caller (rule:shared)."""
    shared = txn.session.scalar(select(RbacEntry.id).where(
        RbacEntry.object_type == networks.OBJECT_TYPE, RbacEntry.object_id == net.id,
        RbacEntry.action == repo.SHARED,
        RbacEntry.target_project.in_((repo.EVERYONE, txn.ctx.project_id))).limit(1))
    return {"network:project_id": net.project_id, "network:tenant_id": net.project_id,
            "shared": bool(shared)}


def new_mac(txn: Txn, net_id: str, requested: str | None) -> str:
    if requested is not None:  # validated and canonical (qos.netattrs.MacAddress)
        mac = requested
        if _mac_taken(txn, net_id, mac):
            raise MacAddressInUse(net_id=net_id, mac=mac)
        return mac
    while True:
        mac = "fa:16:3e:" + ":".join(f"{random.randrange(256):02x}" for _ in range(3))
        if not _mac_taken(txn, net_id, mac):
            return mac


def _mac_taken(txn: Txn, net_id: str, mac: str) -> bool:
    return txn.session.scalar(select(Port.id).where(Port.network_id == net_id,
                                                    Port.mac_address == mac)) is not None


def allocate_ips(txn: Txn, port: Port, requested: list[dict] | None) -> None:
    subnets = list(txn.session.scalars(select(Subnet).where(Subnet.network_id == port.network_id)
                                       .order_by(Subnet.created_at)))
    if requested is None:  # one address of each IP version the network has
        firsts = {}
        for subnet in subnets:
            firsts.setdefault(subnet.ip_version, subnet)
        requested = [{"subnet_id": s.id} for s in firsts.values()]
    for spec in requested:
        subnet = _subnet_for(subnets, spec)
        ipam.allocate(txn.session, subnet, port.id, spec.get("ip_address"))


def _subnet_for(subnets: list[Subnet], spec: dict) -> Subnet:
    if "subnet_id" in spec:
        found = next((s for s in subnets if s.id == spec["subnet_id"]), None)
        if found is None:
            raise BadRequest(f"Invalid input for fixed_ips: subnet {spec['subnet_id']} is not "
                             "on the port's network.")
        return found
    if "ip_address" in spec:
        found = next((s for s in subnets if ipam.in_cidr(spec["ip_address"], s.cidr)), None)
        if found is None:
            raise ipam.InvalidIpForNetwork(ip_address=spec["ip_address"])
        return found
    raise BadRequest("Invalid input for fixed_ips: each entry needs subnet_id or ip_address.")


def update_port(txn: Txn, port_id: str, body: dict, if_match: int | None) -> dict:
    values = SCHEMA.for_update(body)
    port = find_owned(txn, port_id)
    common.check_revision(port, if_match)
    attribute_rights.check(txn.ctx, "update_port", body, attribute_rights.PORT,
                           {**resources.target_of(port), **_network_target(txn, port.network)})
    old_host = port.host
    if "qos_policy_id" in values:
        policies.check_attach(txn, port.qos_policy_id, values["qos_policy_id"])
        port.qos_policy_id = values["qos_policy_id"]
    for attr, column in (("name", "name"), ("description", "description"),
                         ("admin_state_up", "admin_state_up"), ("device_owner", "device_owner"),
                         ("device_id", "device_id"), ("binding:host_id", "host"),
                         ("binding:vnic_type", "vnic_type")):
        if attr in values:
            setattr(port, column, values[attr])
    if "binding:profile" in values:
        port.profile = values["binding:profile"] or {}
    if values.get("fixed_ips") is not None:
        txn.session.execute(delete(IpAllocation).where(IpAllocation.port_id == port.id))
        allocate_ips(txn, port, values["fixed_ips"])
    repo.bump_revision(port)
    txn.session.flush()
    if any(k in values for k in QOS_RELEVANT):
        bindings.check_ports(txn.session, [port])
        moved = (l2.peer_hosts(txn, [port.network_id]) if port.host != old_host
                 else set())                # bound, unbound or moved: its peers hear
        changes.touch(txn, "port", port.id, [port], hosts=[old_host, *moved])
    txn.session.refresh(port, ["fixed_ips"])
    return view(txn, port)


def delete_port(txn: Txn, port_id: str) -> None:
    port = find_owned(txn, port_id, "delete_port")
    _check_not_service_port(txn, port)
    _disassociate_floating_ips(txn, port)
    changes.touch(txn, "port", port.id, [], hosts=[port.host, *_l2_peers(txn, port)])
    repo.untag(txn.session, port.id)
    txn.session.delete(port)
    txn.session.flush()


# Ports that belong to a router or a floating IP: they go with it, never through the port
# API, while it exists (as Neutron's prevent_l3_port_deletion).
_OWNED_BY = {ROUTER_INTERFACE: Router, "network:router_gateway": Router,
             "network:floatingip": FloatingIp}


def _check_not_service_port(txn: Txn, port: Port) -> None:
    model = _OWNED_BY.get(port.device_owner)
    if model is not None and port.device_id and txn.session.get(model, port.device_id):
        raise ServicePortInUse(port_id=port.id, device_owner=port.device_owner)


def _disassociate_floating_ips(txn: Txn, port: Port) -> None:
    fips = list(txn.session.scalars(select(FloatingIp).where(FloatingIp.port_id == port.id)))
    gateways = []
    for fip in fips:
        if fip.router_id:
            router = txn.session.get(Router, fip.router_id)
            if router is not None and router.gw_port is not None:
                gateways.append(router.gw_port)
        fip.port_id = fip.fixed_ip_address = fip.router_id = None
        repo.bump_revision(fip)
    if gateways:
        changes.touch(txn, "floatingip", fips[0].id, gateways)


def visible_ids(txn: Txn, host: str | None, port_id: str | None) -> list[str]:
    """The ids of one port, or of a host's ports, that the caller may see (the console)."""
    if port_id:
        port = find(txn, port_id)
        if not txn.ctx.owns(port.project_id):
            raise PortNotFound(port_id=port_id)
        return [port.id]
    stmt = select(Port.id).where(Port.host == host)
    if not txn.ctx.is_admin:
        stmt = stmt.where(Port.project_id == txn.ctx.project_id)
    return list(txn.session.scalars(stmt))
