"""RBAC entries: share a QoS policy or a network with one project or with everyone."""
from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from netqos.db import repo
from netqos.db.listing import Attr
from netqos.db.models import Network, Port, QosPolicy, RbacEntry
from netqos.qos.attributes import Choice, Schema, String, Uuid
from netqos.qos.errors import (BadRequest, Conflict, InvalidInput, NotFound,
                               PolicyNotAuthorized)
from netqos.service import common, resources, usage, views
from netqos.service.listing import ListQuery, Page
from netqos.service.txn import Txn

OBJECT_TYPES = {"qos_policy": QosPolicy, "network": Network}


class RbacPolicyNotFound(NotFound):
    message = "RBAC policy of type %(object_type)s with ID %(id)s not found"


class DuplicateRbacPolicy(Conflict):
    message = "An RBAC policy already exists with those values."


SCHEMA = Schema("rbac_policy", (
    Choice("object_type", choices=tuple(OBJECT_TYPES), allow_put=False),
    Uuid("object_id", allow_put=False),
    Choice("action", choices=("access_as_shared",), allow_put=False),
    String("target_tenant", default=None),
    String("target_project_id", default=None),
    String("project_id", default=None, allow_put=False),
    String("tenant_id", default=None, allow_put=False),
), read_only=frozenset({"id"}))

KIND = resources.Kind(
    "rbac_policy", RbacEntry,
    attrs={"id": Attr(RbacEntry.id), "project_id": Attr(RbacEntry.project_id),
           "tenant_id": Attr(RbacEntry.project_id), "object_type": Attr(RbacEntry.object_type),
           "object_id": Attr(RbacEntry.object_id), "action": Attr(RbacEntry.action),
           "target_tenant": Attr(RbacEntry.target_project),
           "target_project_id": Attr(RbacEntry.target_project)},
    not_found=lambda entry_id: RbacPolicyNotFound(object_type="rbac_policy", id=entry_id))


def list_entries(txn: Txn, q: ListQuery) -> Page:
    return resources.page(txn, KIND, q, lambda _txn, rows: [views.rbac_view(r) for r in rows])


def show(txn: Txn, entry_id: str) -> dict:
    return views.rbac_view(resources.find(txn, KIND, entry_id))


def create(txn: Txn, body: dict) -> dict:
    values = SCHEMA.for_create(body)
    project_id = common.pop_owner(txn.ctx, values, "rbac_policy")
    target = _target(values)
    _wildcard_is_an_admins(txn, "create_rbac_policy", target)
    obj = _owned_object(txn, values["object_type"], values["object_id"])
    entry = RbacEntry(id=str(uuid.uuid4()), project_id=project_id,
                      object_type=values["object_type"], object_id=obj.id,
                      action=values["action"], target_project=target)
    txn.session.add(entry)
    _flush_unique(txn)
    return views.rbac_view(entry)


def _target(values: dict) -> str:
    target = values.pop("target_tenant") or values.pop("target_project_id")
    if not target:
        raise BadRequest("Bad rbac_policy request: target_tenant is required.")
    return target


def _wildcard_is_an_admins(txn: Txn, action: str, target: str) -> None:
    """Sharing with everyone through an RBAC entry is an admin's (Neutron's default policy;
    a policy's owner says shared=true instead)."""
    if target == repo.EVERYONE and not txn.ctx.is_admin:
        raise PolicyNotAuthorized(rule=f"rule:{action}:target_tenant")


def _owned_object(txn: Txn, object_type: str, object_id: str):
    """Only the object's owner (or an admin) may share it; another project's object, seen
    or not, is refused as Neutron refuses it."""
    model = OBJECT_TYPES[object_type]
    obj = txn.session.get(model, object_id)
    if obj is None:
        raise RbacPolicyNotFound(object_type=object_type, id=object_id)
    if not txn.ctx.owns(obj.project_id):
        what = "networks" if object_type == "network" else "objects"
        raise InvalidInput(error_message=f"Only admins can manipulate policies on {what} "
                           "they do not own")
    return obj


def update(txn: Txn, entry_id: str, body: dict) -> dict:
    values = SCHEMA.for_update(body)
    entry = resources.find_owned(txn, KIND, entry_id)
    new_target = values.get("target_tenant") or values.get("target_project_id")
    if new_target and new_target != entry.target_project:
        _wildcard_is_an_admins(txn, "update_rbac_policy", new_target)
        # The projects the old target named lose access: none of them may be using it.
        _check_removable(txn, entry)
        entry.target_project = new_target
        repo.bump_revision(entry)
        _flush_unique(txn)
    return views.rbac_view(entry)


def _flush_unique(txn: Txn) -> None:
    """Flush; an entry that already exists (same object, action, target) is a 409."""
    try:
        with txn.session.begin_nested():
            txn.session.flush()
    except IntegrityError:
        raise DuplicateRbacPolicy() from None


def delete(txn: Txn, entry_id: str) -> None:
    entry = resources.find_owned(txn, KIND, entry_id, "delete_rbac_policy")
    _check_removable(txn, entry)
    txn.session.delete(entry)
    txn.session.flush()


def _check_removable(txn: Txn, entry: RbacEntry) -> None:
    obj = txn.session.get(OBJECT_TYPES[entry.object_type], entry.object_id)
    if obj is None:
        return
    if entry.object_type == "qos_policy":
        usage.check_unshare(txn.session, obj, entry.target_project)
        return
    foreign = select(Port.id).where(Port.network_id == obj.id, Port.project_id != obj.project_id,
                                    Port.project_id != "")
    if entry.target_project != repo.EVERYONE:
        foreign = foreign.where(Port.project_id == entry.target_project)
    if txn.session.scalar(foreign.limit(1)):
        raise usage.RbacPolicyInUse(object_id=obj.id, details="ports of other projects")
