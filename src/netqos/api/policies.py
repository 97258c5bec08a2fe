"""/v2.0/qos/policies"""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from netqos.api import body as bodies
from netqos.api.deps import context, transact
from netqos.api.respond import fields_of, list_query, no_content, ok, page
from netqos.service import policies, views
from netqos.service.context import Context

router = APIRouter(tags=["qos policies"])
PATH = "/v2.0/qos/policies"


@router.get(PATH)
def list_policies(request: Request, ctx: Context = Depends(context)):
    q = list_query(request)
    return page(request, "policies",
                q, transact(request, ctx, lambda t: policies.list_policies(t, q), write=False))


@router.post(PATH, status_code=201)
def create_policy(request: Request, raw: bytes = Depends(bodies.raw_body),
                  ctx: Context = Depends(context)):
    body = bodies.parse(raw, "policy")
    return ok({"policy": transact(request, ctx, lambda t: policies.create_policy(t, body))}, 201)


@router.get(PATH + "/{policy_id}")
def show_policy(policy_id: str, request: Request, ctx: Context = Depends(context)):
    policy = transact(request, ctx, lambda t: policies.view(t, policies.find(t, policy_id)),
                      write=False)
    return ok({"policy": views.only_fields(policy, fields_of(request))})


@router.put(PATH + "/{policy_id}")
def update_policy(policy_id: str, request: Request, raw: bytes = Depends(bodies.raw_body),
                  ctx: Context = Depends(context)):
    body = bodies.parse(raw, "policy")
    expected = bodies.if_match(request)
    return ok({"policy": transact(
        request, ctx, lambda t: policies.update_policy(t, policy_id, body, expected))})


@router.delete(PATH + "/{policy_id}", status_code=204)
def delete_policy(policy_id: str, request: Request, ctx: Context = Depends(context)):
    transact(request, ctx, lambda t: policies.delete_policy(t, policy_id))
    return no_content()
