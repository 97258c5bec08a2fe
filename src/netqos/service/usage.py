"""Who uses a QoS policy: the bindings that keep it from being deleted or unshared, and
the gateway ports whose network node must hear when it changes."""
from __future__ import annotations

from sqlalchemy import bindparam, delete, exists, or_, select
from sqlalchemy.orm import Session

from netqos.db import repo
from netqos.db.models import FloatingIp, Network, Port, QosPolicy, RbacEntry, Router
from netqos.qos.errors import Conflict, QosPolicyInUse
from netqos.service.txn import Txn

OBJECT_TYPE = "qos_policy"

# (object type as Neutron names it, model, its policy column), in the order reported.
BINDINGS = (
    ("port", Port, Port.qos_policy_id),
    ("network", Network, Network.qos_policy_id),
    ("floatingip", FloatingIp, FloatingIp.qos_policy_id),
    ("router", Router, Router.gw_qos_policy_id),
)


class RbacPolicyInUse(Conflict):
    message = ("RBAC policy on object %(object_id)s cannot be removed because other objects "
               "depend on it.\nDetails: %(details)s")


# Built once: composing the statement costs more than running it.
_BOUND = select(or_(*(exists().where(column == bindparam("policy_id"))
                      for _, _, column in BINDINGS)))


def is_bound(session: Session, policy_id: str) -> bool:
    """Is anything (port, network, floating IP, router gateway) bound to the policy? One
    query, so a policy bound to nothing (most writes) costs no more."""
    return bool(session.scalar(_BOUND, {"policy_id": policy_id}))


def check_unused(session: Session, policy_id: str) -> None:
    """Raise QosPolicyInUse naming the first object bound to the policy."""
    if not is_bound(session, policy_id):
        return
    for object_type, model, column in BINDINGS:
        user = session.scalar(select(model.id).where(column == policy_id).limit(1))
        if user is not None:
            raise QosPolicyInUse(policy_id=policy_id, object_type=object_type, object_id=user)


def foreign_users(session: Session, policy: QosPolicy, projects: set[str] | None) -> list[str]:
    """Objects of other projects bound to the policy (of `projects`, or of any if None)."""
    found = []
    for object_type, model, column in BINDINGS:
        stmt = select(model.id, model.project_id).where(
            column == policy.id, model.project_id != policy.project_id)
        for obj_id, project in session.execute(stmt):
            if projects is None or project in projects:
                found.append(f"{object_type} {obj_id} of project {project}")
    return found


def check_unshare(session: Session, policy: QosPolicy, target: str) -> None:
    """Removing the grant to `target` ('*' or a project) must strand no other project:
    a project that still has its own grant keeps its access."""
    granted = set(session.scalars(select(RbacEntry.target_project).where(
        RbacEntry.object_type == OBJECT_TYPE, RbacEntry.object_id == policy.id,
        RbacEntry.action == repo.SHARED, RbacEntry.target_project != target)))
    if repo.EVERYONE in granted:
        return
    users = foreign_users(session, policy, None if target == repo.EVERYONE else {target})
    stranded = [u for u in users if u.rsplit(" ", 1)[-1] not in granted]
    if stranded:
        raise RbacPolicyInUse(object_id=policy.id, details=", ".join(stranded))


def unshare(txn: Txn, policy: QosPolicy) -> None:
    check_unshare(txn.session, policy, repo.EVERYONE)
    txn.session.execute(delete(RbacEntry).where(
        RbacEntry.object_type == OBJECT_TYPE, RbacEntry.object_id == policy.id,
        RbacEntry.action == repo.SHARED, RbacEntry.target_project == repo.EVERYONE))


def gateway_ports_using(session: Session, policy_id: str) -> list[Port]:
    """Gateway ports of routers whose gateway or floating IPs use the policy: their
    network node enforces it."""
    router_ids = set(session.scalars(select(Router.id).where(
        Router.gw_qos_policy_id == policy_id)))
    router_ids |= set(session.scalars(select(FloatingIp.router_id).where(
        FloatingIp.qos_policy_id == policy_id, FloatingIp.router_id.is_not(None))))
    # Floating IPs without a policy of their own follow their floating network's.
    router_ids |= set(session.scalars(
        select(FloatingIp.router_id).join(Network, FloatingIp.floating_network_id == Network.id)
        .where(FloatingIp.qos_policy_id.is_(None), Network.qos_policy_id == policy_id,
               FloatingIp.router_id.is_not(None))))
    if not router_ids:
        return []
    return list(session.scalars(select(Port).join(Router, Router.gw_port_id == Port.id)
                                .where(Router.id.in_(router_ids))))
