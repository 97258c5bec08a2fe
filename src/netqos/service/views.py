"""Resource dicts in Neutron's JSON shapes, built from database rows."""
from __future__ import annotations

from datetime import datetime

from netqos.db.models import QosPolicy, QosRule
from netqos.qos.rules import RULE_TYPES


def timestamp(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def rule_values(rule: QosRule) -> dict:
    """id, type and the rule type's own fields: the domain's view of a stored rule."""
    values = {f: getattr(rule, f) for f in RULE_TYPES[rule.type].field_names}
    return {"id": rule.id, "type": rule.type, **values}


def rule_view(rule: QosRule) -> dict:
    """GET .../bandwidth_limit_rules/{id}: the id and the type's fields."""
    view = rule_values(rule)
    del view["type"]
    return view


def rule_in_policy_view(rule: QosRule) -> dict:
    """A rule inside a policy's `rules`: with its type and policy, as Neutron shows it."""
    return {**rule_values(rule), "qos_policy_id": rule.qos_policy_id}


def policy_view(policy: QosPolicy, shared: bool, tags: list[str]) -> dict:
    return {
        "id": policy.id,
        "name": policy.name,
        "description": policy.description,
        "shared": shared,
        "is_default": policy.default_of is not None,
        "project_id": policy.project_id,
        "tenant_id": policy.project_id,
        "rules": [rule_in_policy_view(r) for r in policy.rules],
        "tags": sorted(tags),
        "revision_number": policy.revision_number,
        "created_at": timestamp(policy.created_at),
        "updated_at": timestamp(policy.updated_at),
    }


def only_fields(view: dict, fields: tuple[str, ...]) -> dict:
    return {k: v for k, v in view.items() if k in fields} if fields else view
