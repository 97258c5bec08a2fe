"""Which rules may live together in one policy.

A rule is a dict with at least id, type and its value fields (direction where it has one).
"""
from __future__ import annotations

from typing import Any

from collections.abc import Iterable

from netqos.qos.errors import QoSRuleParameterConflict, QoSRulesConflict
from netqos.qos.rules import RULE_TYPES

# (minimum type, its field, maximum type, its field): a guarantee above a limit is absurd.
_MIN_MAX_PAIRS = (("minimum_bandwidth", "min_kbps", "bandwidth_limit", "max_kbps"),)


def check_rule_fits(policy_id: str, existing: Iterable[dict[str, Any]],
                    new: dict[str, Any]) -> None:
    """Raise a 409 error if `new` cannot join `existing` (the policy's other rules).

    `existing` may contain `new`'s older self (same id): it is skipped, so the same check
    serves create and update.
    """
    for other in existing:
        if other["id"] == new.get("id"):
            continue
        if _duplicates(other, new):
            raise QoSRulesConflict(new_rule_type=new["type"], rule_id=other["id"],
                                   policy_id=policy_id)
        _check_any_direction(policy_id, other, new)
        _check_min_max(policy_id, other, new)


def _duplicates(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if a["type"] != b["type"]:
        return False
    rule_type = RULE_TYPES[a["type"]]
    da, db = rule_type.direction_of(a), rule_type.direction_of(b)
    return da == db


def _check_any_direction(policy_id: str, other: dict[str, Any], new: dict[str, Any]) -> None:
    """A minimum packet rate for `any` direction cannot sit beside a directional one:
    Neutron calls that a parameter conflict (on the direction), not a duplicate."""
    if new["type"] != "minimum_packet_rate" or other["type"] != "minimum_packet_rate":
        return
    rule_type = RULE_TYPES[new["type"]]
    mine, theirs = rule_type.direction_of(new), rule_type.direction_of(other)
    if mine != theirs and "any" in (mine, theirs):
        raise QoSRuleParameterConflict(rule_value=mine, policy_id=policy_id,
                                       existing_rule=other["type"], existing_value=theirs)


def _check_min_max(policy_id: str, other: dict[str, Any], new: dict[str, Any]) -> None:
    if other.get("direction") != new.get("direction"):
        return
    for min_type, min_field, max_type, max_field in _MIN_MAX_PAIRS:
        if new["type"] == min_type and other["type"] == max_type \
                and new[min_field] > other[max_field]:
            raise QoSRuleParameterConflict(rule_value=new[min_field], policy_id=policy_id,
                                           existing_rule=max_type,
                                           existing_value=other[max_field])
        if new["type"] == max_type and other["type"] == min_type \
                and new[max_field] < other[min_field]:
            raise QoSRuleParameterConflict(rule_value=new[max_field], policy_id=policy_id,
                                           existing_rule=min_type,
                                           existing_value=other[min_field])
