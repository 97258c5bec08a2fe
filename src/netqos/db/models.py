"""SQLAlchemy models. The database is the truth of the whole system.

Revision numbers use SQLAlchemy's version counter: every UPDATE of a policy row checks and
bumps it in the same statement, so two writers can never both win (no lost update).
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (JSON, BigInteger, Boolean, DateTime, ForeignKey, Index, Integer,
                        String, UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


class Base(DeclarativeBase):
    pass


class StandardAttrs:
    """revision_number, created_at and updated_at, as every Neutron resource has them."""

    revision_number: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    @declared_attr.directive
    def __mapper_args__(cls):
        # The service bumps revision_number itself (repo.bump_revision); SQLAlchemy still
        # checks the old value in the UPDATE's WHERE clause, so of two concurrent writers
        # one raises StaleDataError: no lost update.
        return {"version_id_col": cls.__table__.c.revision_number,
                "version_id_generator": False}


class QosPolicy(StandardAttrs, Base):
    __tablename__ = "qos_policies"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(String(255), default="")

    rules: Mapped[list["QosRule"]] = relationship(
        back_populates="policy", cascade="all, delete-orphan", passive_deletes=True,
        order_by="(QosRule.type, QosRule.direction)")
    default_of: Mapped["QosPolicyDefault | None"] = relationship(
        cascade="all, delete-orphan", passive_deletes=True)


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


# A GRE key is 32 bits, beyond PostgreSQL's INTEGER; SQLite's INTEGER holds 64 bits already
# (and changing its type would rebuild the table, cascading to its subnets and ports).
SEGMENTATION_ID = BigInteger().with_variant(Integer(), "sqlite")


class Network(StandardAttrs, Base):
    __tablename__ = "networks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(String(255), default="")
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    router_external: Mapped[bool] = mapped_column(Boolean, default=False)
    mtu: Mapped[int] = mapped_column(Integer, default=1500)
    qos_policy_id: Mapped[str | None] = mapped_column(ForeignKey("qos_policies.id"),
                                                      index=True)
    # The segment the network rides on (Neutron's provider attributes).
    network_type: Mapped[str] = mapped_column(String(16), default="local")
    physical_network: Mapped[str | None] = mapped_column(String(64))
    segmentation_id: Mapped[int | None] = mapped_column(SEGMENTATION_ID)

    subnets: Mapped[list["Subnet"]] = relationship(
        back_populates="network", cascade="all, delete-orphan", passive_deletes=True,
        order_by="Subnet.created_at")


class SegmentAllocation(Base):
    """A flat physnet, VLAN id, VXLAN id or GRE key held by a network: the primary key makes a
    double allocation impossible, even between concurrent creates on PostgreSQL.
    physical_network is "" for VXLAN and GRE (a NULL would not collide); flat holds id 0."""

    __tablename__ = "segment_allocations"

    network_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    physical_network: Mapped[str] = mapped_column(String(64), primary_key=True)
    segmentation_id: Mapped[int] = mapped_column(SEGMENTATION_ID, primary_key=True)
    network_id: Mapped[str] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"),
                                            unique=True)


class Subnet(StandardAttrs, Base):
    __tablename__ = "subnets"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    network_id: Mapped[str] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"),
                                            index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(String(255), default="")
    ip_version: Mapped[int] = mapped_column(Integer)
    cidr: Mapped[str] = mapped_column(String(64))
    gateway_ip: Mapped[str | None] = mapped_column(String(64))
    allocation_pools: Mapped[list] = mapped_column(JSON, default=list)
    enable_dhcp: Mapped[bool] = mapped_column(Boolean, default=True)

    network: Mapped[Network] = relationship(back_populates="subnets")


class Port(StandardAttrs, Base):
    __tablename__ = "ports"
    __table_args__ = (UniqueConstraint("network_id", "mac_address",
                                       name="uniq_ports0network_id0mac_address"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    network_id: Mapped[str] = mapped_column(ForeignKey("networks.id"), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(String(255), default="")
    mac_address: Mapped[str] = mapped_column(String(32))
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    device_owner: Mapped[str] = mapped_column(String(255), default="")
    device_id: Mapped[str] = mapped_column(String(255), default="", index=True)
    host: Mapped[str] = mapped_column(String(255), default="", index=True)
    vnic_type: Mapped[str] = mapped_column(String(64), default="normal")
    profile: Mapped[dict] = mapped_column(JSON, default=dict)
    qos_policy_id: Mapped[str | None] = mapped_column(ForeignKey("qos_policies.id"),
                                                      index=True)
    # The change sequence (see RevisionCounter) of the last change to this port's
    # effective QoS: what the agent compares with what it has applied.
    qos_revision: Mapped[int] = mapped_column(BigInteger, default=0)
    # What the port's agent last reported.
    qos_applied_revision: Mapped[int | None] = mapped_column(BigInteger)
    qos_status: Mapped[str] = mapped_column(String(16), default="DOWN")
    qos_status_reason: Mapped[str] = mapped_column(String(1024), default="")
    qos_drift: Mapped[list] = mapped_column(JSON, default=list)
    qos_drift_at: Mapped[datetime | None] = mapped_column(DateTime)

    network: Mapped[Network] = relationship()
    fixed_ips: Mapped[list["IpAllocation"]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="IpAllocation.ip_address")


class IpAllocation(Base):
    __tablename__ = "ip_allocations"

    port_id: Mapped[str] = mapped_column(ForeignKey("ports.id", ondelete="CASCADE"),
                                         primary_key=True)
    subnet_id: Mapped[str] = mapped_column(ForeignKey("subnets.id", ondelete="CASCADE"),
                                           primary_key=True)
    ip_address: Mapped[str] = mapped_column(String(64), primary_key=True)
    network_id: Mapped[str] = mapped_column(String(36))

    __table_args__ = (UniqueConstraint("subnet_id", "ip_address",
                                       name="uniq_ip_allocations0subnet0ip"),)


class Router(StandardAttrs, Base):
    __tablename__ = "routers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(String(255), default="")
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    gw_port_id: Mapped[str | None] = mapped_column(ForeignKey("ports.id"))
    enable_snat: Mapped[bool] = mapped_column(Boolean, default=True)
    gw_qos_policy_id: Mapped[str | None] = mapped_column(ForeignKey("qos_policies.id"),
                                                         index=True)

    gw_port: Mapped[Port | None] = relationship()


class FloatingIp(StandardAttrs, Base):
    __tablename__ = "floatingips"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    floating_network_id: Mapped[str] = mapped_column(ForeignKey("networks.id"))
    floating_port_id: Mapped[str] = mapped_column(ForeignKey("ports.id"))
    floating_ip_address: Mapped[str] = mapped_column(String(64))
    port_id: Mapped[str | None] = mapped_column(ForeignKey("ports.id"), index=True)
    fixed_ip_address: Mapped[str | None] = mapped_column(String(64))
    router_id: Mapped[str | None] = mapped_column(ForeignKey("routers.id"), index=True)
    qos_policy_id: Mapped[str | None] = mapped_column(ForeignKey("qos_policies.id"),
                                                      index=True)


class Agent(Base):
    """One row per agent, i.e. per (host, agent type, backend): what it reported at its
    last heartbeat."""

    __tablename__ = "agents"
    __table_args__ = (UniqueConstraint("host", "agent_type", "backend",
                                       name="uniq_agents0host0type0backend"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    agent_type: Mapped[str] = mapped_column(String(64))
    backend: Mapped[str] = mapped_column(String(64), default="", server_default="")
    backends: Mapped[list] = mapped_column(JSON, default=list)
    support: Mapped[dict | None] = mapped_column(JSON, nullable=True)   # its support table
    capabilities: Mapped[dict] = mapped_column(JSON, default=dict)
    uplinks: Mapped[dict] = mapped_column(JSON, default=dict)   # name -> capacity kbit/s
    configurations: Mapped[dict] = mapped_column(JSON, default=dict)
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class RevisionCounter(Base):
    """A change sequence that commits in order.

    Every change that alters some port's effective QoS takes the next value under a row
    lock, so values become visible in increasing order: an agent that has seen value N
    can safely ask "what changed after N" (a database SEQUENCE would not give that, as
    transactions may commit out of order).
    """

    __tablename__ = "revision_counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class HostRevision(Base):
    """The last change sequence that touched any port of a host (for cheap polling)."""

    __tablename__ = "host_revisions"

    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger, default=0)
