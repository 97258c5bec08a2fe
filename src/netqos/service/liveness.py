"""Whether an agent is alive: its last heartbeat is recent enough (Neutron's
agent_down_time). Shared by the agent views, the ports' status and the l2 block, which
hands out only alive agents' tunnel IPs."""
from __future__ import annotations

from datetime import timedelta

from netqos.db.models import Agent, utcnow

DEAD_AFTER = timedelta(seconds=75)  # Neutron's agent_down_time, for agents that do not
MISSED_HEARTBEATS = 3                # report their heartbeat_interval; else 3 missed ones


def dead_after(agent: Agent) -> timedelta:
    interval = (agent.configurations or {}).get("heartbeat_interval")
    try:
        return timedelta(seconds=MISSED_HEARTBEATS * float(interval))
    except (TypeError, ValueError, OverflowError):
        return DEAD_AFTER


def is_alive(agent: Agent) -> bool:
    return utcnow() - agent.heartbeat_at < dead_after(agent)
