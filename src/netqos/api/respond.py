"""Small helpers shared by the route modules."""
from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from netqos.api.query import links, list_query
from netqos.service.listing import ListQuery, Page


def ok(content: dict, status: int = 200) -> JSONResponse:
    return JSONResponse(content, status_code=status)


def no_content() -> Response:
    return Response(status_code=204)


def fields_of(request: Request) -> tuple[str, ...]:
    return tuple(f for v in request.query_params.getlist("fields") for f in v.split(",") if f)


def page(request: Request, collection: str, q: ListQuery, result: Page) -> JSONResponse:
    return ok({collection: result.items, **links(request, collection, q, result)})


__all__ = ["ok", "no_content", "fields_of", "page", "list_query"]
