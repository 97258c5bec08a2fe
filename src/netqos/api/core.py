"""/v2.0/networks, subnets, ports, routers, floatingips and rbac-policies."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from netqos.api import body as bodies
from netqos.api.crud import Crud, register
from netqos.api.deps import context, transact
from netqos.api.respond import ok
from netqos.service import floatingips, networks, ports, rbac, routers, subnets
from netqos.service.context import Context

router = APIRouter(tags=["networking"])

register(router, Crud(
    "/v2.0/networks", "networks", "network",
    list=networks.list_networks, show=lambda t, i: networks.view(t, networks.find(t, i)),
    create=networks.create_network, update=networks.update_network,
    delete=networks.delete_network, kind=networks.KIND))

register(router, Crud(
    "/v2.0/subnets", "subnets", "subnet",
    list=subnets.list_subnets, show=lambda t, i: subnets.view(t, subnets.find(t, i)),
    create=subnets.create_subnet, update=subnets.update_subnet,
    delete=subnets.delete_subnet, kind=subnets.KIND))

register(router, Crud(
    "/v2.0/ports", "ports", "port",
    list=ports.list_ports, show=lambda t, i: ports.view(t, ports.find(t, i)),
    create=ports.create_port, update=ports.update_port, delete=ports.delete_port,
    kind=ports.KIND))

register(router, Crud(
    "/v2.0/routers", "routers", "router",
    list=routers.list_routers,
    show=lambda t, i: routers.view(t, routers.resources.find(t, routers.KIND, i)),
    create=routers.create_router, update=routers.update_router,
    delete=routers.delete_router, kind=routers.KIND))

register(router, Crud(
    "/v2.0/floatingips", "floatingips", "floatingip",
    list=floatingips.list_floatingips,
    show=lambda t, i: floatingips.view(t, floatingips.resources.find(t, floatingips.KIND, i)),
    create=floatingips.create_floatingip, update=floatingips.update_floatingip,
    delete=floatingips.delete_floatingip, kind=floatingips.KIND))

register(router, Crud(
    "/v2.0/rbac-policies", "rbac_policies", "rbac_policy",
    list=rbac.list_entries, show=rbac.show, create=rbac.create,
    update=lambda t, i, body, _if_match: rbac.update(t, i, body), delete=rbac.delete))


@router.put("/v2.0/routers/{router_id}/add_router_interface")
def add_router_interface(router_id: str, request: Request,
                         raw: bytes = Depends(bodies.raw_body), ctx: Context = Depends(context)):
    body = bodies.parse_plain(raw)
    return ok(transact(request, ctx, lambda t: routers.add_interface(t, router_id, body)))


@router.put("/v2.0/routers/{router_id}/remove_router_interface")
def remove_router_interface(router_id: str, request: Request,
                            raw: bytes = Depends(bodies.raw_body),
                            ctx: Context = Depends(context)):
    body = bodies.parse_plain(raw)
    return ok(transact(request, ctx, lambda t: routers.remove_interface(t, router_id, body)))
