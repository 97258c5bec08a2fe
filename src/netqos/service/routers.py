"""Routers: an external gateway (with its QoS policy) and interfaces on subnets."""
from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from netqos.db import repo
from netqos.db.listing import Attr
from netqos.db.models import FloatingIp, IpAllocation, Network, Port, Router
from netqos.qos.attributes import ABSENT, Boolean, Dict, Schema, String, Uuid
from netqos.qos.errors import BadRequest, Conflict, NotFound
from netqos.qos.netattrs import FixedIps
from netqos.service import (attribute_rights, changes, common, networks, policies, ports,
                            resources, subnets, views)
from netqos.service.listing import ListQuery, Page
from netqos.service.txn import Txn

GATEWAY = "network:router_gateway"


class RouterNotFound(NotFound):
    message = "Router %(router_id)s could not be found."


class RouterInUse(Conflict):
    message = "Router %(router_id)s %(reason)s"


class RouterInterfaceNotFound(NotFound):
    message = "Router %(router_id)s does not have an interface with id %(port_id)s"


class RouterInterfaceNotFoundForSubnet(NotFound):
    message = "Router %(router_id)s has no interface on subnet %(subnet_id)s"


SCHEMA = Schema("router", (
    String("name", default=""),
    String("description", default=""),
    Boolean("admin_state_up", default=True),
    Dict("external_gateway_info", default=None, nullable=True),
    String("project_id", default=None, allow_put=False),
    String("tenant_id", default=None, allow_put=False),
), read_only=frozenset({"id", "status", "tags", "revision_number", "created_at",
                        "updated_at", "routes", "distributed", "ha"}))

GATEWAY_SCHEMA = Schema("external_gateway_info", (
    Uuid("network_id"),
    Boolean("enable_snat", default=True),
    Uuid("qos_policy_id", default=ABSENT, nullable=True),
    FixedIps("external_fixed_ips", default=None, nullable=True),
))

KIND = resources.Kind(
    "router", Router,
    attrs={**resources.standard_attrs(Router),
           "admin_state_up": Attr(Router.admin_state_up, Boolean("admin_state_up").convert)},
    not_found=lambda router_id: RouterNotFound(router_id=router_id),
    load=(selectinload(Router.gw_port).selectinload(Port.fixed_ips),))


def find_owned(txn: Txn, router_id: str, rule: str = "update_router") -> Router:
    return resources.find_owned(txn, KIND, router_id, rule)


def render(txn: Txn, routers: list[Router]) -> list[dict]:
    tags = repo.tags_by_id(txn.session, [r.id for r in routers])
    return [views.router_view(r, _gateway_ips(r), tags.get(r.id, []), txn.ctx.is_admin)
            for r in routers]


def _gateway_ips(router: Router) -> list[dict]:
    if router.gw_port is None:
        return []
    return [{"subnet_id": a.subnet_id, "ip_address": a.ip_address}
            for a in router.gw_port.fixed_ips]


def view(txn: Txn, router: Router) -> dict:
    return render(txn, [router])[0]


def list_routers(txn: Txn, q: ListQuery) -> Page:
    return resources.page(txn, KIND, q, render)


def create_router(txn: Txn, body: dict) -> dict:
    values = SCHEMA.for_create(body)
    project_id = common.pop_owner(txn.ctx, values, "router")
    router = Router(id=str(uuid.uuid4()), project_id=project_id, name=values["name"],
                    description=values["description"],
                    admin_state_up=values["admin_state_up"], revision_number=1)
    txn.session.add(router)
    txn.session.flush()
    if values["external_gateway_info"]:
        _set_gateway(txn, router, values["external_gateway_info"], "create_router")
        _revised(txn, router)   # Neutron counts the gateway as a change of its own
    return view(txn, router)


def update_router(txn: Txn, router_id: str, body: dict, if_match: int | None) -> dict:
    values = SCHEMA.for_update(body)
    router = find_owned(txn, router_id)
    common.check_revision(router, if_match)
    before = _state(router)
    for attr in ("name", "description", "admin_state_up"):
        if attr in values:
            setattr(router, attr, values[attr])
    if "external_gateway_info" in values:
        info = values["external_gateway_info"]
        if info:
            _set_gateway(txn, router, info, "update_router")
        else:
            _clear_gateway(txn, router)
    if _state(router) != before:   # an update that changes nothing is no revision
        _revised(txn, router)
    return view(txn, router)


def _state(router: Router) -> tuple:
    return (router.name, router.description, router.admin_state_up, router.gw_port_id,
            router.enable_snat, router.gw_qos_policy_id)


def _revised(txn: Txn, router: Router) -> None:
    repo.bump_revision(router)
    txn.session.flush()


def _set_gateway(txn: Txn, router: Router, info: dict, action: str) -> None:
    values = GATEWAY_SCHEMA.for_create(info)
    attribute_rights.check(txn.ctx, action, info, attribute_rights.ROUTER_GATEWAY,
                           resources.target_of(router), prefix="external_gateway_info:")
    net = networks.find(txn, values["network_id"])
    if not net.router_external:
        raise BadRequest(f"Bad router request: Network {net.id} is not an external network.")
    if router.gw_port is not None and router.gw_port.network_id != net.id:
        _clear_gateway(txn, router)
    router.enable_snat = values["enable_snat"]
    if values["qos_policy_id"] is not ABSENT:
        policies.check_attach(txn, router.gw_qos_policy_id, values["qos_policy_id"])
        router.gw_qos_policy_id = values["qos_policy_id"]
    if router.gw_port is None:
        router.gw_port = _gateway_port(txn, router, net, values["external_fixed_ips"])
        txn.session.flush()
    changes.touch(txn, "router", router.id, [router.gw_port])


def _gateway_port(txn: Txn, router: Router, net: Network, fixed_ips) -> Port:
    """The router's port on the external network; it belongs to no project."""
    port = Port(id=str(uuid.uuid4()), project_id="", network_id=net.id,
                mac_address=ports.new_mac(txn, net.id, None), device_owner=GATEWAY,
                device_id=router.id, revision_number=1)
    port.network = net
    txn.session.add(port)
    txn.session.flush()
    ports.allocate_ips(txn, port, fixed_ips)
    txn.session.flush()
    txn.session.refresh(port, ["fixed_ips"])
    return port


def _clear_gateway(txn: Txn, router: Router) -> None:
    if router.gw_port is None:
        return
    if txn.session.scalar(select(FloatingIp.id).where(FloatingIp.router_id == router.id)
                          .limit(1)):
        raise RouterInUse(router_id=router.id,
                          reason="still has floating IPs associated through its gateway")
    gw = router.gw_port
    changes.touch(txn, "router", router.id, [], hosts=[gw.host])
    policies.check_attach(txn, router.gw_qos_policy_id, None)
    router.gw_port_id = None
    router.gw_port = None
    router.gw_qos_policy_id = None
    txn.session.flush()
    txn.session.delete(gw)


def delete_router(txn: Txn, router_id: str) -> None:
    router = find_owned(txn, router_id, "delete_router")
    if _interfaces(txn, router):
        raise RouterInUse(router_id=router.id, reason="still has ports")
    _clear_gateway(txn, router)
    repo.untag(txn.session, router.id)
    txn.session.delete(router)
    txn.session.flush()


def _interfaces(txn: Txn, router: Router) -> list[Port]:
    return list(txn.session.scalars(
        select(Port).options(selectinload(Port.fixed_ips))
        .where(Port.device_id == router.id, Port.device_owner == ports.ROUTER_INTERFACE)))


def add_interface(txn: Txn, router_id: str, body: dict) -> dict:
    router = find_owned(txn, router_id, "add_router_interface")
    subnet_id, port_id = _interface_target(body)
    if subnet_id:
        subnet = subnets.find(txn, subnet_id)
        spec = [{"subnet_id": subnet.id, "ip_address": subnet.gateway_ip}] \
            if subnet.gateway_ip else [{"subnet_id": subnet.id}]
        port = Port(id=str(uuid.uuid4()), project_id=router.project_id,
                          network_id=subnet.network_id,
                          mac_address=ports.new_mac(txn, subnet.network_id, None),
                          device_owner=ports.ROUTER_INTERFACE, device_id=router.id,
                          revision_number=1)
        txn.session.add(port)
        txn.session.flush()
        ports.allocate_ips(txn, port, spec)
    else:
        port = ports.find_owned(txn, port_id)
        if port.device_owner or port.device_id:
            raise Conflict(f"Port {port.id} is in use by {port.device_owner or port.device_id}.")
        port.device_owner, port.device_id = ports.ROUTER_INTERFACE, router.id
        repo.bump_revision(port)
        txn.session.flush()
        # A router interface is a service port: its network's policy stops applying.
        changes.touch(txn, "port", port.id, [port])
    _revised(txn, router)
    txn.session.refresh(port, ["fixed_ips"])
    return _interface_info(router, port)


_INTERFACE_IDS = (Uuid("subnet_id", nullable=True), Uuid("port_id", nullable=True))


def _interface_target(body: dict) -> tuple[str | None, str | None]:
    subnet_id, port_id = (f.convert(body.get(f.name)) for f in _INTERFACE_IDS)
    if bool(subnet_id) == bool(port_id):
        raise BadRequest("Bad router request: Either subnet_id or port_id must be specified")
    return subnet_id, port_id


def _interface_info(router: Router, port: Port) -> dict:
    ids = [a.subnet_id for a in port.fixed_ips]
    return {"id": router.id, "project_id": router.project_id,
            "port_id": port.id, "network_id": port.network_id,
            "subnet_id": ids[0] if ids else None, "subnet_ids": ids}


def remove_interface(txn: Txn, router_id: str, body: dict) -> dict:
    router = find_owned(txn, router_id, "remove_router_interface")
    subnet_id, port_id = _interface_target(body)
    interfaces = _interfaces(txn, router)
    if port_id:
        port = next((p for p in interfaces if p.id == port_id), None)
        if port is None:
            raise RouterInterfaceNotFound(router_id=router.id, port_id=port_id)
    else:
        port = next((p for p in interfaces
                     if any(a.subnet_id == subnet_id for a in p.fixed_ips)), None)
        if port is None:
            raise RouterInterfaceNotFoundForSubnet(router_id=router.id, subnet_id=subnet_id)
    info = _interface_info(router, port)
    if port.host:
        changes.touch(txn, "port", port.id, [], hosts=[port.host])
    txn.session.delete(port)
    _revised(txn, router)
    return info


def router_for(txn: Txn, port: Port, fixed_ip: str, floating_network_id: str) -> Router | None:
    """The router that reaches `fixed_ip` of `port` and has its gateway on the floating
    network: the one that will do the floating IP's NAT."""
    subnet_id = next((a.subnet_id for a in port.fixed_ips if a.ip_address == fixed_ip), None)
    stmt = (select(Router).join(Port, Port.device_id == Router.id)
            .join(IpAllocation, IpAllocation.port_id == Port.id)
            .where(Port.device_owner == ports.ROUTER_INTERFACE,
                   IpAllocation.subnet_id == subnet_id))
    for router in txn.session.scalars(stmt):
        if router.gw_port is not None and router.gw_port.network_id == floating_network_id:
            return router
    return None


def gateway_ports_of(txn: Txn, router_ids) -> list[Port]:
    ids = [r for r in router_ids if r]
    if not ids:
        return []
    return [r.gw_port for r in txn.session.scalars(select(Router).where(Router.id.in_(ids)))
            if r.gw_port is not None]
