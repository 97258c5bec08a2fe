"""A direct route to the API's plain endpoints, past FastAPI's per-request machinery.

An endpoint marked `@direct` is an `async def` that takes its path parameters (strings)
and the Request, declares no dependencies and returns a Response. FastAPI still registers
it (OpenAPI, /docs, and every request this module does not take), but a request for it
costs FastAPI's routing (a regular expression per route until one matches, some 150
routes), dependency solving and its middleware layers: measured, a third of the server's
CPU for a `GET /v2.0/qos/policies/{id}` (README, "API speed").

`DirectRoutes` finds such routes in a tree of path segments and calls the endpoint
itself, setting the scope as Starlette's router would (route, endpoint, path_params).
It answers only where FastAPI would pick the same route: a route that an earlier
registered route of the same method could also match is left to FastAPI, and a method
or path it does not hold falls through, so 404, 405 and redirects stay FastAPI's.
Exceptions go to the app's exception handlers as Starlette's ExceptionMiddleware sends
them; one without a handler propagates to the server-error handler as before.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

from starlette.requests import Request

PARAM = None       # the tree's key for a path parameter segment ({obj_id})
LEAF = object()    # the tree's key for the routes that end at a node, by method


def direct(endpoint: Callable) -> Callable:
    """Mark an endpoint for DirectRoutes (see the module's docstring for what it must be)."""
    endpoint.direct = True  # type: ignore[attr-defined]
    return endpoint


def _segments(template: str) -> list[str | None]:
    """"/v2.0/ports/{obj_id}" -> ["v2.0", "ports", None]"""
    return [PARAM if s.startswith("{") else s for s in template.strip("/").split("/")]


def _param_names(template: str) -> tuple[str, ...]:
    return tuple(s[1:-1].partition(":")[0] for s in template.strip("/").split("/")
                 if s.startswith("{"))


def _overlap(a: list[str | None], b: list[str | None]) -> bool:
    """Could one path match both templates?"""
    return len(a) == len(b) and all(x is PARAM or y is PARAM or x == y for x, y in zip(a, b))


def build_tree(routes: Iterable[Any]) -> dict:
    """{segment: subtree, ..., LEAF: {METHOD: (route, names)}} of the direct routes that no
    earlier route (of any kind, same method) could shadow."""
    tree: dict = {}
    earlier: list[tuple[list[str | None], set[str]]] = []
    for route in routes:
        path, methods = getattr(route, "path", None), getattr(route, "methods", None)
        if path is None or not methods:
            continue
        segs = _segments(path)
        simple = all(s is PARAM or "{" not in s for s in segs) and \
            all(":" not in n for n in _param_names(path))
        shadowed = {m for s, ms in earlier if _overlap(segs, s) for m in ms}
        earlier.append((segs, set(methods)))
        if not getattr(getattr(route, "endpoint", None), "direct", False) or not simple:
            continue
        node = tree
        for s in segs:
            node = node.setdefault(s, {})
        leaf = node.setdefault(LEAF, {})
        for m in set(methods) - shadowed:
            leaf[m] = (route, _param_names(path))
    return tree


def match(tree: dict, method: str, path: str):
    """(route, path_params) or None. A static segment is tried before a parameter, and a
    parameter matches any non-empty segment (Starlette's `str` convertor)."""
    parts = path[1:].split("/") if path.startswith("/") else None
    if not parts:
        return None
    found = _walk(tree, parts, 0, [])
    if found is None:
        return None
    leaf, values = found
    hit = leaf.get(method)
    if hit is None:
        return None
    route, names = hit
    return route, dict(zip(names, values))


def _walk(node: dict, parts: list[str], i: int, values: list[str]):
    if i == len(parts):
        leaf = node.get(LEAF)
        return (leaf, values) if leaf is not None else None
    part = parts[i]
    child = node.get(part)
    if child is not None:
        found = _walk(child, parts, i + 1, values)
        if found is not None:
            return found
    child = node.get(PARAM)
    if child is not None and part:
        return _walk(child, parts, i + 1, [*values, part])
    return None


class DirectRoutes:
    """ASGI middleware (innermost of the app's own): serve direct routes, pass the rest."""

    def __init__(self, app, routers: Iterable[Any]):
        self.app = app
        self.routers = tuple(routers)
        self.tree: dict | None = None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        if self.tree is None:   # routes are all registered by the first request
            self.tree = build_tree(r for router in self.routers for r in router.routes)
        hit = match(self.tree, scope["method"], scope["path"])
        if hit is None:
            await self.app(scope, receive, send)
            return
        route, params = hit
        scope["route"], scope["endpoint"], scope["path_params"] = route, route.endpoint, params
        request = Request(scope, receive, send)
        try:
            response = await route.endpoint(request=request, **params)
        except Exception as exc:
            handler = _handler_for(scope["app"].exception_handlers, exc)
            if handler is None:
                raise
            response = handler(request, exc)
            if inspect.isawaitable(response):
                response = await response
        await response(scope, receive, send)


def _handler_for(handlers: dict, exc: Exception):
    """The handler Starlette's ExceptionMiddleware would call (by the exception's class
    hierarchy); the catch-all Exception handler belongs to ServerErrorMiddleware, which
    sees the exception raised on as before."""
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None
        if cls in handlers:
            return handlers[cls]
    return None
