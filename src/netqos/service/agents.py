"""Agent rows: one per (host, agent type, backend), what each agent reported at its last
heartbeat, and whether it is alive.

A host may run several port agents, one per backend (linuxtc for its taps, sriov for its
VFs), as Neutron runs an Open vSwitch agent beside a NIC Switch agent: each reports its own
row, with the support table the server then enforces for the ports that backend owns.
"""
from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from netqos.db.models import Agent, utcnow
from netqos.qos.attributes import (Boolean, Dict, IntRange, InvalidAttribute, ListOf, Schema,
                                   String)
from netqos.qos.backends import BackendSupport
from netqos.service import changes, l2, views
from netqos.service.txn import Txn

AGENT_TYPE = "netqos"                # the port agents' type (the L3 role's: netqos-l3)
DEAD_AFTER = timedelta(seconds=75)  # Neutron's agent_down_time, for agents that do not
MISSED_HEARTBEATS = 3                # report their heartbeat_interval; else 3 missed ones


class Uplinks(Dict):
    """{device: capacity in kbps} of a host's uplinks (feeds minimum-bandwidth admission)."""

    def _convert(self, value) -> dict[str, int]:
        capacity = IntRange("uplinks", minimum=0, maximum=2**62)
        return {str(k): capacity.convert(v) for k, v in super()._convert(value).items()}


class SupportTable(Dict):
    """A backend's support table (BackendSupport.to_wire), checked before it is stored:
    the server enforces it for the ports of that backend on that host."""

    def _convert(self, value: Any) -> dict[str, Any]:
        try:
            return BackendSupport.from_wire(super()._convert(value)).to_wire()
        except ValueError as exc:
            raise self.invalid("support", str(exc)) from None


AGENT_SCHEMA = Schema("agent", (
    String("agent_type", default=AGENT_TYPE),
    Boolean("started", default=False),
    ListOf("backends", default=None, nullable=True, item=String("backend")),
    SupportTable("support", default=None, nullable=True),
    Dict("capabilities", default=None, nullable=True),
    Uplinks("uplinks", default=None, nullable=True),
    Dict("configurations", default=None, nullable=True),
))


def heartbeat(txn: Txn, host: str, values: dict) -> None:
    """Record an agent's heartbeat in its (host, type, backend) row."""
    info = AGENT_SCHEMA.for_create(values)
    agent_type = info["agent_type"] or AGENT_TYPE
    support = info["support"]
    names = info["backends"] or ([support["name"]] if support else [])
    if support and support["name"] not in names:
        raise InvalidAttribute(attribute="support", reason=f"the table of "
                               f"{support['name']} is not one of backends {names}")
    backend = names[0] if names else ""
    agent = txn.session.scalar(select(Agent).where(Agent.host == host,
                                                   Agent.agent_type == agent_type,
                                                   Agent.backend == backend))
    if agent is None:
        agent = Agent(id=str(uuid.uuid4()), host=host, agent_type=agent_type, backend=backend)
        txn.session.add(agent)
    if info["started"]:
        agent.started_at = utcnow()
    agent.backends = names
    agent.support = support
    agent.capabilities = info["capabilities"] or {}
    agent.uplinks = info["uplinks"] or {}
    old_ip = (agent.configurations or {}).get("local_ip")
    agent.configurations = info["configurations"] or {}
    agent.heartbeat_at = utcnow()
    if agent.configurations.get("local_ip") != old_ip:
        # Its tunnel endpoint is in the "l2" block of every host sharing a network with it.
        changes.touch(txn, "agent", agent.id, [], hosts=l2.hosts_sharing_with(txn, host))


def dead_after(agent: Agent) -> timedelta:
    interval = (agent.configurations or {}).get("heartbeat_interval")
    try:
        return timedelta(seconds=MISSED_HEARTBEATS * float(interval))
    except (TypeError, ValueError, OverflowError):
        return DEAD_AFTER


def is_alive(agent: Agent) -> bool:
    return utcnow() - agent.heartbeat_at < dead_after(agent)


def agent_view(agent: Agent) -> dict:
    alive = is_alive(agent)
    return {"id": agent.id, "host": agent.host, "agent_type": agent.agent_type,
            "binary": "netqos-agent", "alive": alive, "admin_state_up": True,
            "heartbeat_timestamp": views.timestamp(agent.heartbeat_at),
            "started_at": views.timestamp(agent.started_at),
            "backend": agent.backend or None, "backends": agent.backends,
            "support": agent.support, "capabilities": agent.capabilities,
            "uplinks": agent.uplinks, "configurations": agent.configurations}


def list_agents(txn: Txn) -> list[dict]:
    """Admin only (Neutron's get_agent): others see an empty list, as Neutron filters a
    listing by the show rule."""
    if not txn.ctx.is_admin:
        return []
    return [agent_view(a) for a in txn.session.scalars(
        select(Agent).order_by(Agent.host, Agent.agent_type, Agent.backend))]


def reported_tables(txn: Txn) -> list[BackendSupport | str]:
    """The support tables every port agent reported (their names, for agents from before
    tables were reported), for /v2.0/qos/rule-types."""
    out: list[BackendSupport | str] = []
    for agent in txn.session.scalars(select(Agent).where(Agent.agent_type == AGENT_TYPE)
                                     .order_by(Agent.backend)):
        out += tables_of(agent)
    return out


def tables_of(agent: Agent) -> list[BackendSupport | str]:
    """What an agent reported it enforces: its support table, or (an agent from before
    tables were reported) the names of built-in ones."""
    if agent.support:
        return [BackendSupport.from_wire(agent.support)]
    return list(agent.backends or ())
