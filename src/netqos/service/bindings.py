"""Which ports a policy governs, and whether their backends and hosts can honour it.

Checks run on the resulting state, after the change is flushed and before it commits:
whatever path led there (a new rule, a port bound to a host, a network given a policy),
a port whose backend cannot enforce its effective rules, or a host whose uplink cannot
carry its guarantees, rolls the whole change back with a 409.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, selectinload

from netqos.db.models import Agent, Network, Port, QosPolicy
from netqos.qos import backends
from netqos.qos.errors import Conflict, QosRuleNotSupported
from netqos.qos.policy import effective_policy_id
from netqos.service import views
from netqos.service.agents import AGENT_TYPE, is_alive, tables_of


class QosPlacementAllocationConflict(Conflict):
    message = ("Minimum bandwidth of port %(port_id)s does not fit on host %(host)s: "
               "%(direction)s guarantees would total %(total)s kbps, above the uplink "
               "capacity of %(capacity)s kbps.")


def effective_id(port: Port) -> str | None:
    return effective_policy_id(port.qos_policy_id, port.network.qos_policy_id,
                               port.device_owner)


def ports_governed_by(session: Session, policy_id: str) -> list[Port]:
    """Ports whose effective policy is `policy_id` (their own, or their network's)."""
    candidates = session.scalars(
        select(Port).join(Network, Port.network_id == Network.id)
        .options(selectinload(Port.network), selectinload(Port.fixed_ips))
        .where(or_(Port.qos_policy_id == policy_id,
                   and_(Port.qos_policy_id.is_(None), Network.qos_policy_id == policy_id))))
    return [p for p in candidates if effective_id(p) == policy_id]


def rules_by_policy(session: Session, policy_ids: Iterable[str]) -> dict[str, list[dict]]:
    ids = {i for i in policy_ids if i}
    if not ids:
        return {}
    policies = session.scalars(select(QosPolicy).options(selectinload(QosPolicy.rules))
                               .where(QosPolicy.id.in_(ids)))
    return {p.id: [views.rule_values(r) for r in p.rules] for p in policies}


def host_agents(session: Session, hosts: Iterable[str]) -> dict[str, list[Agent]]:
    """The port agents of each host (one per backend), live ones first."""
    hosts = {h for h in hosts if h}
    if not hosts:
        return {}
    found: dict[str, list[Agent]] = defaultdict(list)
    for agent in session.scalars(select(Agent).where(Agent.host.in_(hosts),
                                                     Agent.agent_type == AGENT_TYPE)
                                 .order_by(Agent.backend)):
        found[agent.host].append(agent)
    for agents in found.values():
        agents.sort(key=lambda a: not is_alive(a))
    return dict(found)


def agent_of(port: Port, agents: list[Agent]) -> Agent | None:
    """The agent of its host whose backend owns the port (by vnic type)."""
    vnic = port.vnic_type or "normal"
    return next((a for a in agents for t in backends.tables(tables_of(a))
                 if vnic in t.vnic_types), None)


def backend_of(port: Port, agents: list[Agent]) -> backends.BackendSupport:
    """The support table that governs the port: what its host's agents reported, else
    (a host with no agent yet, or none serving its vnic type) the built-in choice."""
    return backends.backend_for_port(
        port.vnic_type, [t for a in agents for t in tables_of(a)])


def check_ports(session: Session, ports: Iterable[Port]) -> None:
    """Every port's backend supports its effective rules; every host's uplink holds."""
    ports = list(ports)
    rules = rules_by_policy(session, (effective_id(p) for p in ports))
    agents = host_agents(session, (p.host for p in ports))
    for port in ports:
        if not port.host:
            continue  # unbound: its backend is known, and checked, once it is bound
        refused = backend_of(port, agents.get(port.host, [])).first_refused(
            rules.get(effective_id(port), []))
        if refused is not None:
            raise QosRuleNotSupported(rule_type=_describe(refused), port_id=port.id)
    for host in {p.host for p in ports if p.host}:
        check_host_capacity(session, host, agents.get(host, []), changed=ports)


def _describe(rule: dict) -> str:
    return f"{rule['type']} ({rule['direction']})" if rule.get("direction") else rule["type"]


def check_host_capacity(session: Session, host: str, agents: list[Agent],
                        changed: list[Port]) -> None:
    """Minimum-bandwidth admission: guarantees on a host fit in its uplink capacity.

    Capacity is what the host's agents reported (the sum of their uplinks, each uplink
    counted once); a host whose capacity is unknown admits everything, since nothing can
    be checked there.
    """
    uplinks: dict[str, int] = {}
    for agent in agents:
        uplinks.update(agent.uplinks or {})
    capacity = sum(uplinks.values())
    if not capacity:
        return
    ports = list(session.scalars(select(Port).options(selectinload(Port.network))
                                 .where(Port.host == host)))
    rules = rules_by_policy(session, (effective_id(p) for p in ports))
    totals: dict[str, int] = defaultdict(int)
    for port in ports:
        for rule in rules.get(effective_id(port), []):
            if rule["type"] == "minimum_bandwidth":
                totals[rule["direction"]] += rule["min_kbps"]
    for direction, total in totals.items():
        if total > capacity:
            culprit = next((p.id for p in changed if p.host == host), ports[0].id)
            raise QosPlacementAllocationConflict(port_id=culprit, host=host,
                                                 direction=direction, total=total,
                                                 capacity=capacity)
