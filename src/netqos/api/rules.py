"""/v2.0/qos/policies/{policy_id}/<type>_rules and /v2.0/qos/alias_<type>_rules.

One set of handlers serves all five rule types: each route is registered once per type
from the registry, with the type bound in, so there is no name-building dispatch.
"""
from __future__ import annotations

from fastapi import APIRouter, Request

from netqos.api import body as bodies
from netqos.api.fastpath import direct
from netqos.api.deps import caller_and_body, context, run
from netqos.api.respond import fields_of, list_query, no_content, ok
from netqos.qos.rules import RULE_TYPES, RuleType
from netqos.service import rules, views

router = APIRouter(tags=["qos rules"])


def _register(rt: RuleType) -> None:
    base = f"/v2.0/qos/policies/{{policy_id}}/{rt.collection}"
    alias = f"/v2.0/qos/alias_{rt.collection}/{{rule_id}}"
    alias_member = f"alias_{rt.member}"

    @direct
    async def list_(policy_id: str, request: Request):
        ctx = await context(request)
        q = list_query(request)
        found = await run(request, ctx, lambda t: rules.list_rules(t, policy_id, rt, q), False)
        return ok({rt.collection: found})

    @direct
    async def create(policy_id: str, request: Request):
        ctx, raw = await caller_and_body(request)
        body = bodies.parse(raw, rt.member)
        return ok({rt.member: await run(
            request, ctx, lambda t: rules.create_rule(t, policy_id, rt, body))}, 201)

    @direct
    async def show(policy_id: str, rule_id: str, request: Request):
        ctx = await context(request)
        rule = await run(request, ctx, lambda t: rules.get_rule(t, policy_id, rt, rule_id), False)
        return ok({rt.member: views.only_fields(rule, fields_of(request))})

    @direct
    async def update(policy_id: str, rule_id: str, request: Request):
        ctx, raw = await caller_and_body(request)
        body = bodies.parse(raw, rt.member)
        expected = bodies.if_match(request)
        return ok({rt.member: await run(request, ctx, lambda t: rules.update_rule(
            t, policy_id, rt, rule_id, body, expected))})

    @direct
    async def delete(policy_id: str, rule_id: str, request: Request):
        ctx = await context(request)
        await run(request, ctx, lambda t: rules.delete_rule(t, policy_id, rt, rule_id))
        return no_content()

    @direct
    async def alias_show(rule_id: str, request: Request):
        ctx = await context(request)
        rule = await run(request, ctx, lambda t: rules.get_rule(
            t, rules.find_policy_of_rule(t, rt, rule_id), rt, rule_id), False)
        return ok({alias_member: views.only_fields(rule, fields_of(request))})

    @direct
    async def alias_update(rule_id: str, request: Request):
        ctx, raw = await caller_and_body(request)
        body = bodies.parse(raw, alias_member)
        return ok({alias_member: await run(request, ctx, lambda t: rules.update_rule(
            t, rules.find_policy_of_rule(t, rt, rule_id), rt, rule_id, body))})

    @direct
    async def alias_delete(rule_id: str, request: Request):
        ctx = await context(request)
        await run(request, ctx, lambda t: rules.delete_rule(
            t, rules.find_policy_of_rule(t, rt, rule_id), rt, rule_id))
        return no_content()

    name = rt.name
    router.add_api_route(base, list_, methods=["GET"], name=f"list_{name}_rules")
    router.add_api_route(base, create, methods=["POST"], status_code=201,
                         name=f"create_{name}_rule")
    router.add_api_route(base + "/{rule_id}", show, methods=["GET"], name=f"show_{name}_rule")
    router.add_api_route(base + "/{rule_id}", update, methods=["PUT"],
                         name=f"update_{name}_rule")
    router.add_api_route(base + "/{rule_id}", delete, methods=["DELETE"], status_code=204,
                         name=f"delete_{name}_rule")
    router.add_api_route(alias, alias_show, methods=["GET"], name=f"show_alias_{name}_rule")
    router.add_api_route(alias, alias_update, methods=["PUT"], name=f"update_alias_{name}_rule")
    router.add_api_route(alias, alias_delete, methods=["DELETE"], status_code=204,
                         name=f"delete_alias_{name}_rule")


for _rt in RULE_TYPES.values():
    _register(_rt)
