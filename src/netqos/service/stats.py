"""Counts over the whole database for the server's /metrics gauges (admins only)."""
from __future__ import annotations

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from netqos.db.models import Agent, Port, QosPolicy, QosRule

PORT_STATUSES = ("ACTIVE", "BUILD", "DOWN", "ERROR")


def counts(session: Session) -> dict:
    """{"policies": n, "agents": n, "rules": {type: n}, "ports": {status: n}}: every
    port status is present, zero or not."""
    # The same rule as views.port_status, in SQL: one grouped query.
    status = case(
        ((Port.host.is_(None)) | (Port.host == "") | Port.qos_applied_revision.is_(None),
         "DOWN"),
        (Port.qos_applied_revision < Port.qos_revision, "BUILD"),
        else_=func.coalesce(Port.qos_status, "DOWN"))
    ports = dict.fromkeys(PORT_STATUSES, 0)
    for value, n in session.execute(select(status, func.count()).group_by(status)):
        ports[value] = ports.get(value, 0) + n
    return {
        "policies": session.scalar(select(func.count()).select_from(QosPolicy)),
        "agents": session.scalar(select(func.count()).select_from(Agent)),
        "rules": dict(session.execute(select(QosRule.type, func.count())
                                      .group_by(QosRule.type)).all()),
        "ports": ports,
    }
