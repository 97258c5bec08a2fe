"""QoS policies: create, read, update, delete, with Neutron's rules for each attribute."""
from __future__ import annotations

import uuid
from types import SimpleNamespace

from sqlalchemy import bindparam, delete, exists, insert, or_, select, update
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from netqos.db import repo
from netqos.db.listing import Attr
from netqos.db.models import QosPolicy, QosPolicyDefault, QosRule, RbacEntry, Tag, utcnow
from netqos.qos.attributes import Boolean, Schema, String
from netqos.qos.errors import (HTTPNotFound, PolicyNotAuthorized, PolicyRemoveAuthorizationError,
                               QoSPolicyDefaultAlreadyExists, QosPolicyNotFound)
from netqos.service import bindings, changes, common, resources, usage, views
from netqos.service.listing import ListQuery, Page
from netqos.service.txn import Txn

OBJECT_TYPE = "qos_policy"

SCHEMA = Schema("policy", (
    String("name", default=""),
    String("description", default=""),
    Boolean("shared", default=False),
    Boolean("is_default", default=False),
    String("project_id", default=None, allow_put=False),
    String("tenant_id", default=None, allow_put=False),
), read_only=frozenset({"id", "rules", "tags", "revision_number", "created_at",
                        "updated_at"}))

_shared = repo.rbac_grants(OBJECT_TYPE, QosPolicy.id, None)
_default = exists().where(QosPolicyDefault.qos_policy_id == QosPolicy.id)
KIND = resources.Kind(
    "policy", QosPolicy,
    attrs={**resources.standard_attrs(QosPolicy),
           "shared": Attr(_shared, Boolean("shared").convert, sortable=False),
           "is_default": Attr(_default, Boolean("is_default").convert, sortable=False)},
    not_found=lambda policy_id: QosPolicyNotFound(policy_id=policy_id),
    rbac_type=OBJECT_TYPE,
    load=(selectinload(QosPolicy.rules), joinedload(QosPolicy.default_of)),
    load_one=(joinedload(QosPolicy.rules), joinedload(QosPolicy.default_of)),
    row_columns=(_shared.label("shared"), _default.label("is_default")))


def find(txn: Txn, policy_id: str) -> QosPolicy:
    """The policy if the caller may see it, else QosPolicyNotFound (also for a bad id)."""
    return resources.find(txn, KIND, policy_id)


def find_managed(txn: Txn, policy_id: str, action: str, row: bool = False) -> QosPolicy:
    """The policy (with `row`, as a plain row: see find_row), for the caller to update or
    delete, refused as Neutron refuses it: invisible → 404 QosPolicyNotFound; another
    project's shared one → 404 HTTPNotFound; its own project's without the manager role
    → 403."""
    policy = find_row(txn, policy_id) if row else find(txn, policy_id)
    if not txn.ctx.allowed(action, _target(policy.project_id)):
        if not txn.ctx.owns(policy.project_id):
            raise HTTPNotFound()
        raise PolicyNotAuthorized(rule=f"rule:{action}")
    return policy


def find_for_rule_change(txn: Txn, policy_id: str, action: str,
                         row: bool = False) -> QosPolicy:
    """The policy whose rules the caller changes (with `row`, as a plain row: see
    find_row). Neutron authorizes a rule action before it looks the policy up (as if on
    the caller's own project): a caller without the manager role gets 403 even for a
    policy it cannot see; a manager gets 404 for an invisible policy, 403 for a foreign
    one."""
    txn.ctx.enforce(action, _target(txn.ctx.project_id))
    policy = find_row(txn, policy_id) if row else find(txn, policy_id)
    txn.ctx.enforce(action, _target(policy.project_id))
    return policy


def _target(project_id: str) -> dict:
    """What the policy rules see of a policy: its project, also as the parent's of its
    rules (ext_parent:project_id)."""
    return {"project_id": project_id, "tenant_id": project_id,
            "ext_parent:project_id": project_id, "ext_parent:tenant_id": project_id}


def view(txn: Txn, policy: QosPolicy) -> dict:
    shared = repo.shared_ids(txn.session, OBJECT_TYPE, [policy.id], viewer=txn.ctx.project_id)
    tags = repo.tags_by_id(txn.session, [policy.id])
    return views.policy_view(policy, policy.id in shared, tags.get(policy.id, []),
                             [views.rule_in_policy_view(r) for r in policy.rules],
                             policy.default_of is not None)


def render_rows(txn: Txn, rows: list) -> list[dict]:
    """Plain policy rows (with `shared` and `is_default`) -> views; two more queries,
    for the rules and the tags of them all."""
    ids = [p.id for p in rows]
    rules = _rules_by_policy(txn, ids)
    tags = repo.tags_by_id(txn.session, ids)
    # `shared` as Neutron shows it to this caller: also true for a policy shared with the
    # caller's own project, which the row's column (shared with everyone) cannot know.
    with_viewer = repo.shared_ids(txn.session, OBJECT_TYPE,
                                  [p.id for p in rows if not p.shared],
                                  viewer=txn.ctx.project_id)
    return [views.policy_view(p, bool(p.shared) or p.id in with_viewer, tags.get(p.id, []),
                              rules.get(p.id, []),
                              bool(p.is_default)) for p in rows]


def _rules_by_policy(txn: Txn, ids: list[str]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    if ids:
        # The order of QosPolicy.rules: by type, then direction.
        stmt = (select(*QosRule.__table__.c).where(QosRule.qos_policy_id.in_(ids))
                .order_by(QosRule.type, QosRule.direction))
        for rule in txn.session.execute(stmt):
            out.setdefault(rule.qos_policy_id, []).append(views.rule_in_policy_view(rule))
    return out


# GET of one policy: three statements built once (building and cache-keying a statement
# cost more CPU than running it), each with one bound id, on the session's connection.
_ID, _VIEWER = bindparam("policy_id"), bindparam("viewer")
_SHOWN = select(*QosPolicy.__table__.c,
                repo.shared_with(OBJECT_TYPE, QosPolicy.id, _VIEWER).label("shared"),
                _default.label("is_default")).where(QosPolicy.id == _ID)
# Visible to a project: its own, or shared with everyone or with it (Kind.visible).
_SHOWN_TO_PROJECT = _SHOWN.where(or_(QosPolicy.project_id == _VIEWER,
                                     repo.shared_with(OBJECT_TYPE, QosPolicy.id, _VIEWER)))
_RULES_OF_ONE = (select(*QosRule.__table__.c).where(QosRule.qos_policy_id == _ID)
                 .order_by(QosRule.type, QosRule.direction))
_TAGS_OF_ONE = select(Tag.tag).where(Tag.resource_id == _ID)


def find_row(txn: Txn, policy_id: str):
    """find(), as a plain row of the policy's columns with `shared` as this caller sees it
    (render_rows) and `is_default`: for a read, or a write that changes it with plain SQL."""
    row = txn.session.connection().execute(
        _SHOWN if txn.ctx.is_admin else _SHOWN_TO_PROJECT,
        {"policy_id": policy_id, "viewer": txn.ctx.project_id}).first()
    if row is None:
        raise KIND.not_found(policy_id)
    return row


def rule_rows(txn: Txn, policy_id: str) -> list:
    """The policy's rules as plain rows, in the order of QosPolicy.rules."""
    return txn.session.connection().execute(_RULES_OF_ONE, {"policy_id": policy_id}).all()


def show_policy(txn: Txn, policy_id: str) -> dict:
    """GET of one policy: its row, its rules, its tags."""
    row = find_row(txn, policy_id)
    rules = [views.rule_in_policy_view(r) for r in rule_rows(txn, policy_id)]
    tags = list(txn.session.connection().scalars(_TAGS_OF_ONE, {"policy_id": policy_id}))
    return views.policy_view(row, bool(row.shared), tags, rules, bool(row.is_default))


def list_policies(txn: Txn, q: ListQuery) -> Page:
    return resources.page(txn, KIND, q, render_rows, plain=True)


_INSERT = insert(QosPolicy.__table__)


def create_policy(txn: Txn, body: dict) -> dict:
    values = SCHEMA.for_create(body)
    project_id = common.owner_project(txn.ctx, values.pop("project_id"), values.pop("tenant_id"))
    txn.ctx.enforce("create_policy", _target(project_id))
    # One plain INSERT: a new policy has no rules, tags or default row to look for.
    now = utcnow()
    policy = SimpleNamespace(id=str(uuid.uuid4()), project_id=project_id, name=values["name"],
                             description=values["description"], revision_number=0,
                             created_at=now, updated_at=now)
    txn.session.connection().execute(_INSERT, vars(policy))
    if values["shared"]:
        _share(txn, policy)
    if values["is_default"]:
        policy = txn.session.get(QosPolicy, policy.id)   # its default row is an ORM child
        _make_default(txn, policy)
        repo.bump_revision(policy)  # as Neutron numbers a policy created as the default
    txn.session.flush()
    return views.policy_view(policy, shared=values["shared"], tags=[], rules=[],
                             is_default=values["is_default"])


def update_policy(txn: Txn, policy_id: str, body: dict, if_match: int | None) -> dict:
    values = SCHEMA.for_update(body)
    policy = find_managed(txn, policy_id, "update_policy")
    common.check_revision(policy, if_match)
    # As Neutron: a new revision when the policy's own attributes change; sharing is an
    # RBAC entry's change, and an update that changes nothing is no revision.
    revised = False
    for attr in ("name", "description"):
        if attr in values and values[attr] != getattr(policy, attr):
            setattr(policy, attr, values[attr])
            revised = True
    if values.get("shared") is True:
        _share(txn, policy)
    elif values.get("shared") is False:
        usage.unshare(txn, policy)
    if values.get("is_default") is True and policy.default_of is None:
        _make_default(txn, policy)
        revised = True
    elif values.get("is_default") is False and policy.default_of is not None:
        policy.default_of = None
        revised = True
    if revised:
        changed(txn, policy)
    else:
        txn.session.flush()
    return view(txn, policy)


def changed(txn: Txn, policy: QosPolicy) -> None:
    """A new revision of the policy (its attributes or rules changed): check that every
    port it governs can still enforce it, then tell their agents."""
    repo.bump_revision(policy)
    txn.session.flush()
    _enforce_change(txn, policy.id)


_REVISE = (update(QosPolicy.__table__)
           .where(QosPolicy.id == _ID, QosPolicy.revision_number == bindparam("revision"))
           .values(revision_number=bindparam("revision") + 1, updated_at=bindparam("now")))


def changed_row(txn: Txn, policy) -> None:
    """changed(), for a policy read as a plain row (find_row) whose rules were changed
    with plain SQL: the same new revision, checked against a concurrent writer the way
    the ORM's version column checks it."""
    result = txn.session.connection().execute(_REVISE, {
        "policy_id": policy.id, "revision": policy.revision_number, "now": utcnow()})
    _check_one(result.rowcount, policy)
    _enforce_change(txn, policy.id)


def _enforce_change(txn: Txn, policy_id: str) -> None:
    """Check that every port a changed policy governs can still enforce it, then tell
    their agents."""
    if not usage.is_bound(txn.session, policy_id):
        return   # bound to nothing: no port to check, no agent to tell
    ports = bindings.ports_governed_by(txn.session, policy_id)
    bindings.check_ports(txn.session, ports)
    gateways = usage.gateway_ports_using(txn.session, policy_id)
    changes.touch(txn, "qos_policy", policy_id, [*ports, *gateways])


_UNSHARE_ALL = delete(RbacEntry.__table__).where(RbacEntry.object_type == OBJECT_TYPE,
                                                 RbacEntry.object_id == _ID)
_UNTAG = delete(Tag.__table__).where(Tag.resource_id == _ID)
# Its rules and default row go with it (ON DELETE CASCADE); the revision is checked as the
# ORM's version column checks it.
_DELETE = delete(QosPolicy.__table__).where(QosPolicy.id == _ID,
                                            QosPolicy.revision_number == bindparam("revision"))


def delete_policy(txn: Txn, policy_id: str) -> None:
    """Plain SQL: the policy's row, the bound-anything check, two DELETEs."""
    policy = find_managed(txn, policy_id, "delete_policy", row=True)
    usage.check_unused(txn.session, policy.id)
    conn = txn.session.connection()
    params = {"policy_id": policy.id, "revision": policy.revision_number}
    conn.execute(_UNSHARE_ALL, params)
    conn.execute(_UNTAG, params)
    _check_one(conn.execute(_DELETE, params).rowcount, policy)


def _check_one(rowcount: int, policy) -> None:
    """A plain-SQL write of the policy's row at the revision read: 0 rows means a
    concurrent writer changed it first (StaleDataError: transact runs the request again)."""
    if rowcount != 1:
        raise StaleDataError(f"qos_policies {policy.id}: revision {policy.revision_number} "
                             f"changed under this transaction")


def _share(txn: Txn, policy: QosPolicy) -> None:
    if policy.id in repo.shared_ids(txn.session, OBJECT_TYPE, [policy.id]):
        return
    txn.session.add(RbacEntry(id=str(uuid.uuid4()), project_id=policy.project_id,
                              object_type=OBJECT_TYPE, object_id=policy.id,
                              action=repo.SHARED, target_project=repo.EVERYONE))


def _make_default(txn: Txn, policy: QosPolicy) -> None:
    if policy.default_of is not None:
        return
    taken = txn.session.get(QosPolicyDefault, policy.project_id)
    if taken is not None:
        raise QoSPolicyDefaultAlreadyExists(project_id=policy.project_id)
    policy.default_of = QosPolicyDefault(project_id=policy.project_id, qos_policy_id=policy.id)
    try:
        with txn.session.begin_nested():
            txn.session.flush()
    except IntegrityError:  # another request made its own default first
        raise QoSPolicyDefaultAlreadyExists(project_id=policy.project_id) from None


def check_attach(txn: Txn, current: str | None, new: str | None) -> None:
    """A resource's policy goes from `current` to `new`: attaching needs a policy the caller
    can see (404 otherwise); detaching or replacing one it cannot see is refused (403), as
    in Neutron."""
    if new == current:
        return
    if new is not None:
        find(txn, new)
    if current is not None:
        if resources.find_or_none(txn, KIND, current) is None:
            raise PolicyRemoveAuthorizationError(policy_id=current)
