"""/v2.0/qos/rule-types: what the configured backends can enforce, as their agents
reported it (service/agents.py), built in until one does; plus plug-in backends whose
agents reported their tables (qos.backends.server_tables)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from netqos.api.deps import context, transact
from netqos.api.respond import ok
from netqos.qos import backends
from netqos.qos.attributes import Boolean
from netqos.qos.errors import NotAuthorized, RuleTypeNotFound
from netqos.qos.rules import RULE_TYPES
from netqos.service import agents
from netqos.service.context import Context

router = APIRouter(tags=["qos rule types"])


@router.get("/v2.0/qos/rule-types")
def list_rule_types(request: Request, ctx: Context = Depends(context)):
    ctx.enforce("get_rule_type", {})
    params = request.query_params
    all_rules = Boolean("all_rules").convert(params.get("all_rules", "false"))
    all_supported = Boolean("all_supported").convert(params.get("all_supported", "false"))
    loaded = _backends(request, ctx)
    if all_rules:  # with all_supported too: every known type includes every supported one
        names = list(RULE_TYPES)
    elif all_supported:
        names = backends.rule_types_supported_by_any(loaded)
    else:
        names = backends.rule_types_supported_by_all(loaded)
    return ok({"rule_types": [{"type": n} for n in names]})


@router.get("/v2.0/qos/rule-types/{rule_type}")
def show_rule_type(rule_type: str, request: Request, ctx: Context = Depends(context)):
    ctx.enforce("get_rule_type", {})
    # Neutron's QoS plugin shows the drivers of a rule type to admins only, whatever
    # the policy file says.
    if not ctx.is_admin:
        raise NotAuthorized()
    if rule_type not in RULE_TYPES:
        raise RuleTypeNotFound(rule_type=rule_type)
    drivers = backends.rule_type_details(rule_type, _backends(request, ctx))
    # Floating IPs and router gateways are enforced by the agent's L3 role wherever it runs.
    drivers.append(backends.l3_driver_detail(rule_type))
    return ok({"rule_type": {"type": rule_type, "drivers": drivers}})


def _backends(request: Request, ctx: Context) -> list[backends.BackendSupport]:
    reported = transact(request, ctx, agents.reported_tables, write=False)
    return backends.server_tables(request.app.state.settings.backends, reported)
