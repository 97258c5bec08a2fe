"""Who uses a QoS policy: the bindings that keep it from being deleted or unshared, and
the hosts whose agents must hear when it changes."""
from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.orm import Session

from netqos.db import repo
from netqos.db.models import QosPolicy, RbacEntry
from netqos.service.txn import Txn

OBJECT_TYPE = "qos_policy"


def check_unused(session: Session, policy_id: str) -> None:
    """Raise QosPolicyInUse naming the first user. Bindings arrive with ports, networks,
    floating IPs and routers; until a policy can be bound, it is never in use."""


def hosts_using(session: Session, policy_id: str) -> list[str]:
    """Hosts with a port whose effective policy is this one."""
    return []


def unshare(txn: Txn, policy: QosPolicy) -> None:
    txn.session.execute(delete(RbacEntry).where(
        RbacEntry.object_type == OBJECT_TYPE, RbacEntry.object_id == policy.id,
        RbacEntry.action == repo.SHARED, RbacEntry.target_project == repo.EVERYONE))
