"""api/fastpath.py: the direct route tree picks, for every path and method, the route
FastAPI's router would pick, or leaves the request to it."""
from __future__ import annotations

import itertools

from starlette.routing import Match

from netqos.api.app import ROUTERS
from netqos.api.fastpath import build_tree, direct, match


def all_routes():
    return [r for module in ROUTERS for r in module.router.routes]


def starlette_choice(routes, method: str, path: str):
    """The first route that fully matches, as Starlette's router walks them."""
    scope = {"type": "http", "method": method, "path": path, "root_path": ""}
    for route in routes:
        m, child = route.matches(scope)
        if m is Match.FULL:
            return route, child.get("path_params", {})
    return None


def sample_paths(routes):
    """Each route's template with its parameters filled in, plus paths that collide with
    static segments and near misses (a trailing slash, an empty segment, one too many)."""
    fillers = ["x1", "tags", "bandwidth_limit_rules", "policies"]
    for route in routes:
        parts = route.path.strip("/").split("/")
        params = [i for i, p in enumerate(parts) if p.startswith("{")]
        for values in itertools.product(fillers, repeat=len(params)):
            filled = list(parts)
            for i, v in zip(params, values):
                filled[i] = v
            path = "/" + "/".join(filled)
            yield path
            yield path + "/"
            yield path + "/extra"
            yield path.replace("/x1", "//")


def test_every_direct_match_is_starlettes_choice():
    routes = all_routes()
    tree = build_tree(routes)
    checked = direct_hits = 0
    for path in set(sample_paths(routes)):
        for method in ("GET", "POST", "PUT", "DELETE", "HEAD", "PATCH"):
            hit = match(tree, method, path)
            if hit is None:
                continue   # FastAPI answers it, whatever it is
            direct_hits += 1
            expected = starlette_choice(routes, method, path)
            assert expected is not None, (method, path)
            assert hit[0] is expected[0] and hit[1] == expected[1], (method, path)
            checked += 1
    assert direct_hits > 300   # the policy, rule, tag and core resource routes


def test_the_hot_routes_are_direct():
    tree = build_tree(all_routes())
    for method, path, name in [
            ("GET", "/v2.0/qos/policies", "list_policies"),
            ("POST", "/v2.0/qos/policies", "create_policy"),
            ("GET", "/v2.0/qos/policies/p1", "show_policy"),
            ("PUT", "/v2.0/qos/policies/p1", "update_policy"),
            ("DELETE", "/v2.0/qos/policies/p1", "delete_policy"),
            ("POST", "/v2.0/qos/policies/p1/bandwidth_limit_rules",
             "create_bandwidth_limit_rule"),
            ("PUT", "/v2.0/policies/p1/tags", "policy_via_tag_ext_set_tags")]:
        route, _ = match(tree, method, path)
        assert route.name == name


def test_a_shadowed_route_is_left_to_fastapi():
    """A direct route that an earlier route of the same method could match is not in the
    tree: FastAPI would pick the earlier one."""
    from fastapi import APIRouter

    router = APIRouter()

    def catch_all(kind: str, obj_id: str):
        return None

    @direct
    async def show_thing(obj_id: str, request):
        return None

    @direct
    async def list_things(request):
        return None

    router.add_api_route("/v2.0/{kind}/{obj_id}", catch_all, methods=["GET"])
    router.add_api_route("/v2.0/things/{obj_id}", show_thing, methods=["GET", "PUT"])
    router.add_api_route("/v2.0/things", list_things, methods=["GET"])
    tree = build_tree(router.routes)
    assert match(tree, "GET", "/v2.0/things/t1") is None       # the catch-all's
    assert match(tree, "PUT", "/v2.0/things/t1")[1] == {"obj_id": "t1"}
    assert match(tree, "GET", "/v2.0/things")[0].endpoint is list_things
    assert match(tree, "POST", "/v2.0/things") is None          # FastAPI's 405
