"""QoS rules of a policy: one service for all five rule types, driven by the registry."""
from __future__ import annotations

import uuid
from types import SimpleNamespace

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from netqos.db import listing
from netqos.db.listing import Attr
from netqos.db.models import QosPolicy, QosRule
from netqos.qos import conflicts
from netqos.qos.attributes import Choice, IntRange
from netqos.qos.errors import QosPolicyNotFound, QosRuleNotFound, QoSRulesConflict
from netqos.qos.rules import RuleType
from netqos.service import common, policies, views
from netqos.service.listing import ListQuery
from netqos.service.txn import Txn


def list_attrs(rule_type: RuleType) -> dict[str, Attr]:
    attrs = {"id": Attr(QosRule.id)}
    for f in rule_type.fields:
        convert = f.convert if isinstance(f, (IntRange, Choice)) else str
        attrs[f.name] = Attr(getattr(QosRule, f.name), convert)
    return attrs


def list_rules(txn: Txn, policy_id: str, rule_type: RuleType, q: ListQuery) -> list[dict]:
    policy = policies.find(txn, policy_id)
    attrs = list_attrs(rule_type)
    listing.check_query(attrs, q)
    stmt = select(QosRule).where(QosRule.qos_policy_id == policy.id,
                                 QosRule.type == rule_type.name)
    stmt = listing.apply_filters(stmt, attrs, q)
    stmt = listing.apply_order(stmt, listing.order_keys(attrs, q, QosRule.id))
    return [views.only_fields(views.rule_view(r), q.fields) for r in txn.session.scalars(stmt)]


def get_rule(txn: Txn, policy_id: str, rule_type: RuleType, rule_id: str) -> dict:
    policy = policies.find(txn, policy_id)
    return views.rule_view(_find_rule(policy, rule_type, rule_id))


_INSERT = insert(QosRule.__table__)


def create_rule(txn: Txn, policy_id: str, rule_type: RuleType, body: dict) -> dict:
    """Plain SQL (no ORM objects): the policy's row and rules, one INSERT, the policy's
    new revision."""
    values = rule_type.schema().for_create(body)
    policy = policies.find_for_rule_change(txn, policy_id, f"create_policy_{rule_type.member}",
                                           row=True)
    columns = {f: values.get(f) for f in rule_type.field_names}
    columns["direction"] = rule_type.direction_of(values)
    rule = SimpleNamespace(id=str(uuid.uuid4()), qos_policy_id=policy.id, type=rule_type.name,
                           **columns)
    conflicts.check_rule_fits(policy.id, [views.rule_values(r)
                                          for r in policies.rule_rows(txn, policy.id)],
                              views.rule_values(rule))
    try:
        txn.session.connection().execute(_INSERT, vars(rule))
    except IntegrityError:  # a concurrent request added the same type and direction
        raise QoSRulesConflict(new_rule_type=rule.type, rule_id="(concurrent)",
                               policy_id=policy.id) from None
    policies.changed_row(txn, policy)
    return views.rule_view(rule)


def update_rule(txn: Txn, policy_id: str, rule_type: RuleType, rule_id: str, body: dict,
                if_match: int | None = None) -> dict:
    values = rule_type.schema().for_update(body)
    policy = policies.find_for_rule_change(txn, policy_id, f"update_policy_{rule_type.member}")
    common.check_revision(policy, if_match)
    rule = _find_rule(policy, rule_type, rule_id)
    _admit(policy, {**views.rule_values(rule), **values})
    for name, value in values.items():
        setattr(rule, name, value)
    rule.direction = rule_type.direction_of(views.rule_values(rule))
    _save(txn, policy, rule)
    return views.rule_view(rule)


def delete_rule(txn: Txn, policy_id: str, rule_type: RuleType, rule_id: str) -> None:
    policy = policies.find_for_rule_change(txn, policy_id, f"delete_policy_{rule_type.member}")
    policy.rules.remove(_find_rule(policy, rule_type, rule_id))
    policies.changed(txn, policy)


def find_policy_of_rule(txn: Txn, rule_type: RuleType, rule_id: str) -> str:
    """For the alias routes: the policy that holds a rule the caller can see."""
    policy_id = txn.session.scalar(select(QosRule.qos_policy_id).where(
        QosRule.id == rule_id, QosRule.type == rule_type.name))
    if policy_id is None:
        raise QosRuleNotFound(rule_id=rule_id, policy_id=None)
    try:
        policies.find(txn, policy_id)
    except QosPolicyNotFound:
        raise QosRuleNotFound(rule_id=rule_id, policy_id=None) from None
    return policy_id


def _find_rule(policy: QosPolicy, rule_type: RuleType, rule_id: str) -> QosRule:
    rule = next((r for r in policy.rules if r.id == rule_id and r.type == rule_type.name), None)
    if rule is None:
        raise QosRuleNotFound(rule_id=rule_id, policy_id=policy.id)
    return rule


def _admit(policy: QosPolicy, candidate: dict) -> None:
    """The rule must fit with the policy's other rules. (Whether the ports it governs can
    enforce it is checked on the resulting state, by policies.changed.)"""
    conflicts.check_rule_fits(policy.id, [views.rule_values(r) for r in policy.rules],
                              candidate)


def _save(txn: Txn, policy: QosPolicy, rule: QosRule) -> None:
    # No savepoint: the transaction is abandoned on this error anyway (the conflict rolls
    # it back), and a savepoint would cost two statements and a flush on every write.
    try:
        policies.changed(txn, policy)
    except IntegrityError:  # a concurrent request added the same type and direction
        raise QoSRulesConflict(new_rule_type=rule.type, rule_id="(concurrent)",
                               policy_id=policy.id) from None
