"""/v2.0/extensions: the aliases clients probe before they use a feature."""
from __future__ import annotations

from fastapi import APIRouter, Depends

from netqos.api.deps import context
from netqos.api.respond import ok
from netqos.qos.errors import NotFound

# Depends(context): an agent's host credential reads its host's endpoints and nothing else.
router = APIRouter(tags=["extensions"], dependencies=[Depends(context)])

UPDATED = "2026-11-21T00:00:00-00:00"
# Where netqos implements a Neutron extension as Neutron does: Neutron's own entry.
NEUTRON = {
    "qos": ("Quality of Service", "The Quality of Service extension.",
            "2015-06-08T10:00:00-00:00"),
}
EXTENSIONS = {
    "qos": "Quality of Service: policies and rules",
    "qos-default": "A default QoS policy per project",
    "qos-rules-alias": "GET, PUT and DELETE of rules without their policy",
    "qos-rule-type-details": "Rule type details: drivers and supported parameters",
    "qos-rule-type-filter": "Filters all_rules and all_supported on rule types",
    "qos-bw-limit-direction": "Direction of bandwidth limit rules",
    "qos-bw-minimum-ingress": "Ingress direction of minimum bandwidth rules",
    "qos-pps": "Packet rate limit rules",
    "qos-pps-minimum": "Minimum packet rate rules",
    "qos-pps-minimum-rule-alias": "Alias routes of minimum packet rate rules",
    "qos-pps-rule-alias": "Alias routes of packet rate limit rules",
    "standard-attr-revisions": "revision_number on resources",
    "standard-attr-timestamp": "created_at and updated_at on resources",
    "standard-attr-tag": "Tags on resources",
    "revision-if-match": "If-Match: revision_number=N constraints on updates",
    "filter-validation": "Unknown filters are refused with 400",
    "sorting": "sort_key and sort_dir on lists",
    "pagination": "limit and marker on lists",
    "fields": "fields= on lists and shows",
    "project-id": "project_id beside tenant_id",
    "provider": "Provider network attributes: the segment a network rides on",
    "net-mtu": "The MTU of a network, from its segment",
    "net-mtu-writable": "A network's MTU may be lowered",
    "port-resource-request": "The placement resources a port's QoS policy needs",
    "port-resource-request-groups": "A port's resource request as placement request groups",
}


def _extension(alias: str) -> dict:
    name, description, updated = NEUTRON.get(alias, (alias, EXTENSIONS[alias], UPDATED))
    return {"alias": alias, "name": name, "description": description, "updated": updated,
            "links": []}


@router.get("/v2.0/extensions")
def list_extensions():
    return ok({"extensions": [_extension(a) for a in EXTENSIONS]})


@router.get("/v2.0/extensions/{alias}")
def show_extension(alias: str):
    if alias not in EXTENSIONS:
        raise NotFound(f"Extension with alias {alias} does not exist")
    return ok({"extension": _extension(alias)})
