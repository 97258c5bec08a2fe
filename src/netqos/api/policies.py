"""/v2.0/qos/policies"""
from __future__ import annotations

from fastapi import APIRouter

from netqos.api.crud import Crud, register, register_tags
from netqos.service import policies

router = APIRouter(tags=["qos policies"])

register(router, Crud(
    "/v2.0/qos/policies", "policies", "policy",
    list=policies.list_policies,
    show=policies.show_policy,
    create=policies.create_policy,
    update=policies.update_policy,
    delete=policies.delete_policy,
    kind=policies.KIND))

# Neutron's tag extension serves QoS policies' tags under its own collection name,
# /v2.0/policies/{id}/tags, and that is where openstacksdk sends them.
register_tags(router, "/v2.0/policies/{obj_id}", policies.KIND, name="policy_via_tag_ext")
