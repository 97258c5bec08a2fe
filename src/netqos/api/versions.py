"""The version document at / and the resource index at /v2.0, for client discovery."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from netqos.api.deps import context
from netqos.api.respond import ok

router = APIRouter(tags=["versions"])


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.get("/")
def versions(request: Request):
    return ok({"versions": [{"id": "v2.0", "status": "CURRENT", "links": [
        {"href": _base(request) + "/v2.0/", "rel": "self"}]}]})


@router.get("/v2.0", dependencies=[Depends(context)])
@router.get("/v2.0/", dependencies=[Depends(context)])
def resources(request: Request):
    names = ("qos/policies", "qos/rule-types", "extensions")
    return ok({"resources": [{"name": n, "collection": n, "links": [
        {"href": f"{_base(request)}/v2.0/{n}", "rel": "self"}]} for n in names]})
