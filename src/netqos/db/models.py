"""SQLAlchemy models. The database is the truth of the whole system.

Revision numbers use SQLAlchemy's version counter: every UPDATE of a policy row checks and
bumps it in the same statement, so two writers can never both win (no lost update).
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (Boolean, DateTime, ForeignKey, Integer, String, UniqueConstraint,
                        Index)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


class Base(DeclarativeBase):
    pass


class QosPolicy(Base):
    __tablename__ = "qos_policies"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(String(255), default="")
    revision_number: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    rules: Mapped[list["QosRule"]] = relationship(
        back_populates="policy", cascade="all, delete-orphan", passive_deletes=True,
        order_by="(QosRule.type, QosRule.direction)")
    default_of: Mapped["QosPolicyDefault | None"] = relationship(
        cascade="all, delete-orphan", passive_deletes=True)

    # The service bumps revision_number itself (bump_revision); SQLAlchemy still checks the
    # old value in the UPDATE's WHERE clause, so a concurrent writer raises StaleDataError.
    __mapper_args__ = {"version_id_col": revision_number, "version_id_generator": False}


class QosPolicyDefault(Base):
    """At most one default policy per project: the primary key makes it race-free."""

    __tablename__ = "qos_policy_defaults"

    project_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    qos_policy_id: Mapped[str] = mapped_column(
        ForeignKey("qos_policies.id", ondelete="CASCADE"), unique=True)


class QosRule(Base):
    """Every rule type in one table; columns a type lacks stay NULL.

    The unique key (policy, type, direction) makes "one rule per type and direction" hold
    even under concurrent creates; direction is "" for types without one.
    """

    __tablename__ = "qos_rules"
    __table_args__ = (UniqueConstraint("qos_policy_id", "type", "direction",
                                       name="uniq_qos_rules0policy0type0direction"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    qos_policy_id: Mapped[str] = mapped_column(
        ForeignKey("qos_policies.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(32))
    direction: Mapped[str] = mapped_column(String(16), default="")
    max_kbps: Mapped[int | None] = mapped_column(Integer)
    max_burst_kbps: Mapped[int | None] = mapped_column(Integer)
    min_kbps: Mapped[int | None] = mapped_column(Integer)
    dscp_mark: Mapped[int | None] = mapped_column(Integer)
    max_kpps: Mapped[int | None] = mapped_column(Integer)
    max_burst_kpps: Mapped[int | None] = mapped_column(Integer)
    min_kpps: Mapped[int | None] = mapped_column(Integer)

    policy: Mapped[QosPolicy] = relationship(back_populates="rules")


class Tag(Base):
    """Standard-attribute tags of any resource."""

    __tablename__ = "tags"

    resource_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tag: Mapped[str] = mapped_column(String(255), primary_key=True)


class RbacEntry(Base):
    """Who may use another project's object: target_project '*' means everyone (shared)."""

    __tablename__ = "rbac_policies"
    __table_args__ = (UniqueConstraint("object_type", "object_id", "action", "target_project",
                                       name="uniq_rbac0object0action0target"),
                      Index("ix_rbac_object", "object_type", "object_id"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(36))
    action: Mapped[str] = mapped_column(String(32), default="access_as_shared")
    target_project: Mapped[str] = mapped_column(String(255))
    revision_number: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
