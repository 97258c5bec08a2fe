"""Routes for a resource with Neutron's five operations, plus its tags.

Each resource module states its service functions once; this registers them, so the
HTTP plumbing (bodies, If-Match, fields, pages, status codes) lives in one place.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request

from netqos.api import body as bodies
from netqos.api.fastpath import direct
from netqos.api.deps import caller_and_body, context, run
from netqos.api.respond import fields_of, list_query, no_content, ok, page
from netqos.service import tags, views
from netqos.service.resources import Kind


@dataclass(frozen=True)
class Crud:
    path: str                   # /v2.0/networks
    collection: str             # networks
    member: str                 # network
    list: Callable[..., Any]    # (txn, ListQuery) -> Page
    show: Callable[..., Any]    # (txn, id) -> dict
    create: Callable[..., Any]  # (txn, body) -> dict
    update: Callable[..., Any]  # (txn, id, body, if_match) -> dict
    delete: Callable[..., Any]  # (txn, id) -> None
    kind: Kind | None = None    # for tags


def register(router: APIRouter, c: Crud) -> None:
    item = c.path + "/{obj_id}"

    @direct
    async def list_(request: Request):
        ctx = await context(request)
        q = list_query(request)
        return page(request, c.collection, q,
                    await run(request, ctx, lambda t: c.list(t, q), write=False))

    @direct
    async def create(request: Request):
        ctx, raw = await caller_and_body(request)
        body = bodies.parse(raw, c.member)
        return ok({c.member: await run(request, ctx, lambda t: c.create(t, body))}, 201)

    @direct
    async def show(obj_id: str, request: Request):
        ctx = await context(request)
        found = await run(request, ctx, lambda t: c.show(t, obj_id), write=False)
        return ok({c.member: views.only_fields(found, fields_of(request))})

    @direct
    async def update(obj_id: str, request: Request):
        ctx, raw = await caller_and_body(request)
        body = bodies.parse(raw, c.member)
        expected = bodies.if_match(request)
        return ok({c.member: await run(request, ctx,
                                      lambda t: c.update(t, obj_id, body, expected))})

    @direct
    async def delete(obj_id: str, request: Request):
        ctx = await context(request)
        await run(request, ctx, lambda t: c.delete(t, obj_id))
        return no_content()

    router.add_api_route(c.path, list_, methods=["GET"], name=f"list_{c.collection}")
    router.add_api_route(c.path, create, methods=["POST"], status_code=201,
                         name=f"create_{c.member}")
    router.add_api_route(item, show, methods=["GET"], name=f"show_{c.member}")
    router.add_api_route(item, update, methods=["PUT"], name=f"update_{c.member}")
    router.add_api_route(item, delete, methods=["DELETE"], status_code=204,
                         name=f"delete_{c.member}")
    if c.kind is not None:
        register_tags(router, item, c.kind)


def register_tags(router: APIRouter, item: str, kind: Kind, name: str | None = None) -> None:
    """Tag routes under `item` ("/v2.0/networks/{obj_id}"); `name` tells apart a second
    path to the same resource's tags."""
    @direct
    async def get_all(obj_id: str, request: Request):
        ctx = await context(request)
        return ok({"tags": await run(request, ctx, lambda t: tags.get_all(t, kind, obj_id),
                                    write=False)})

    @direct
    async def check(obj_id: str, tag: str, request: Request):
        ctx = await context(request)
        await run(request, ctx, lambda t: tags.check(t, kind, obj_id, tag), write=False)
        return no_content()

    @direct
    async def replace(obj_id: str, request: Request):
        ctx, raw = await caller_and_body(request)
        body = bodies.parse(raw, "tags", expect=list)
        return ok({"tags": await run(request, ctx, lambda t: tags.replace(t, kind, obj_id,
                                                                          body))})

    @direct
    async def add(obj_id: str, tag: str, request: Request):
        ctx = await context(request)
        await run(request, ctx, lambda t: tags.add(t, kind, obj_id, tag))
        return ok({}, 201)

    @direct
    async def remove_all(obj_id: str, request: Request):
        ctx = await context(request)
        await run(request, ctx, lambda t: tags.remove(t, kind, obj_id, None))
        return no_content()

    @direct
    async def remove(obj_id: str, tag: str, request: Request):
        ctx = await context(request)
        await run(request, ctx, lambda t: tags.remove(t, kind, obj_id, tag))
        return no_content()

    name = name or kind.name
    router.add_api_route(item + "/tags", get_all, methods=["GET"], name=f"{name}_tags")
    router.add_api_route(item + "/tags", replace, methods=["PUT"], name=f"{name}_set_tags")
    router.add_api_route(item + "/tags", remove_all, methods=["DELETE"], status_code=204,
                         name=f"{name}_clear_tags")
    router.add_api_route(item + "/tags/{tag}", check, methods=["GET"], status_code=204,
                         name=f"{name}_has_tag")
    router.add_api_route(item + "/tags/{tag}", add, methods=["PUT"], status_code=201,
                         name=f"{name}_add_tag")
    router.add_api_route(item + "/tags/{tag}", remove, methods=["DELETE"], status_code=204,
                         name=f"{name}_remove_tag")
