"""Agent endpoints (/v2.0/netqos/hosts/…) and /v2.0/agents."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from netqos.api import body as bodies
from netqos.api.deps import agent_context, context, transact
from netqos.api.respond import ok
from netqos.service import agents, hosts, l3
from netqos.service.context import Context

router = APIRouter(tags=["agents"])
HOST = "/v2.0/netqos/hosts/{host}"


@router.get(HOST + "/ports")
def host_ports(host: str, request: Request, ctx: Context = Depends(agent_context)):
    port_id = request.query_params.get("port_id")
    return ok(transact(request, ctx, lambda t: hosts.desired(t, host, port_id), write=False))


@router.get(HOST + "/routers")
def host_routers(host: str, request: Request, ctx: Context = Depends(agent_context)):
    """The agent's L3 role: routers whose gateway port is bound to the host, with the
    bandwidth limits of their gateway and floating IPs (service/l3.py)."""
    router_id = request.query_params.get("router_id")
    return ok(transact(request, ctx, lambda t: l3.routers(t, host, router_id), write=False))


@router.get(HOST + "/revision")
def host_revision(host: str, request: Request, ctx: Context = Depends(agent_context)):
    return ok(transact(request, ctx, lambda t: hosts.revision(t, host), write=False))


@router.post(HOST + "/report")
def host_report(host: str, request: Request, raw: bytes = Depends(bodies.agent_raw_body),
                ctx: Context = Depends(agent_context)):
    body = bodies.parse(raw, "report")
    result = transact(request, ctx, lambda t: hosts.report(t, host, body))
    request.app.state.live.record(result.pop("events"))   # after the commit
    return ok(result)


@router.get("/v2.0/agents")
def list_agents(request: Request, ctx: Context = Depends(context)):
    return ok({"agents": transact(request, ctx, agents.list_agents, write=False)})
