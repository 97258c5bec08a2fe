"""What agents pull and report: the effective QoS of every port bound to a host.

One request returns a whole host (a fixed number of queries, whatever its size); the
host's revision lets an agent ask cheaply whether anything changed since it last pulled.
"""
from __future__ import annotations


from sqlalchemy import select
from sqlalchemy.orm import selectinload

from netqos.db.models import Port, utcnow
from netqos.qos.attributes import Dict, IntRange, ListOf, Schema, String
from netqos.qos.errors import PolicyNotAuthorized
from netqos.service import agents, bindings, changes, l2, views
from netqos.service.txn import Txn
from netqos.wire import PortQos, typed_rules

REPORT_SCHEMA = Schema("report", (
    Dict("agent", default=None, nullable=True),
    ListOf("ports", default=None, nullable=True, item=Dict("port")),
))
PORT_REPORT = Schema("port", (
    String("port_id"),
    IntRange("revision", minimum=0, maximum=2**62),
    String("status", default="ACTIVE"),
    String("reason", default="", max_length=1024),
    ListOf("drift", default=None, nullable=True),
))


def authorize(txn: Txn, host: str, action: str) -> None:
    """The agent endpoints of `host`: its own agent's credential, or an admin."""
    if not txn.ctx.acts_for_host(host):
        raise PolicyNotAuthorized(rule=f"rule:{action}")


def bound_port_ids(txn: Txn, host: str) -> list[str]:
    """The ports bound to `host`, for its own agent (or an admin)."""
    authorize(txn, host, "update_host_counters")
    return list(txn.session.scalars(select(Port.id).where(Port.host == host)))


def desired(txn: Txn, host: str, port_id: str | None = None) -> dict:
    """{"host", "revision", "ports": [PortQos wire dicts], "l2": the host's wiring} for
    every port on the host. The "l2" block goes to every agent (one without --l2 ignores
    it) but only in a whole-host pull: one port's pull must not make an agent unplug the
    others."""
    authorize(txn, host, "get_host_ports")
    stmt = (select(Port).options(selectinload(Port.network), selectinload(Port.fixed_ips))
            .where(Port.host == host).order_by(Port.id))
    if port_id:
        stmt = stmt.where(Port.id == port_id)
    ports = list(txn.session.scalars(stmt))
    rules = bindings.rules_by_policy(txn.session, (bindings.effective_id(p) for p in ports))
    doc = {"host": host, "revision": changes.host_revision(txn, host),
           "ports": [port_qos(p, rules).to_wire() for p in ports]}
    if not port_id:
        doc["l2"] = l2.block(txn, host, ports, network_segment)
    return doc


def port_qos(port: Port, rules: dict[str, list[dict]]) -> PortQos:
    policy_id = bindings.effective_id(port)
    # An administratively down port keeps its QoS: the agent holds its link down, and
    # nothing is removed that would let its traffic pass unshaped.
    enforce = rules.get(policy_id, [])
    return PortQos(port_id=port.id, revision=port.qos_revision, mac_address=port.mac_address,
                   fixed_ips=tuple(a.ip_address for a in port.fixed_ips),
                   vnic_type=port.vnic_type, device=(port.profile or {}).get("device"),
                   policy_id=policy_id,
                   rules=typed_rules(enforce),
                   profile=port.profile or {}, admin_state_up=port.admin_state_up,
                   network=network_segment(port.network))


def network_segment(net) -> dict:
    """What an L2 agent needs to plug a port into its network."""
    return {"network_id": net.id, "mtu": net.mtu,
            **{k.split(":", 1)[1]: v for k, v in views.segment_view(net).items()}}


def revision(txn: Txn, host: str) -> dict:
    authorize(txn, host, "get_host_revision")
    return {"host": host, "revision": changes.host_revision(txn, host)}


def report(txn: Txn, host: str, body: dict) -> dict:
    """An agent's heartbeat and per-port results; it touches `host`'s rows only."""
    authorize(txn, host, "report_host")
    values = REPORT_SCHEMA.for_create(body)
    if values["agent"] is not None:
        agents.heartbeat(txn, host, values["agent"])
    reports = [PORT_REPORT.for_create(r) for r in values["ports"] or []]
    ports = {p.id: p for p in txn.session.scalars(
        select(Port).where(Port.host == host, Port.id.in_([r["port_id"] for r in reports])))}
    events = []
    for r in reports:
        port = ports.get(r["port_id"])
        if port is None:
            continue  # unbound or deleted meanwhile: the next pull tells the agent
        events += _events(host, port, r)
        port.qos_applied_revision = r["revision"]
        port.qos_status = r["status"]
        port.qos_status_reason = r["reason"]
        if r["drift"]:
            port.qos_drift = r["drift"]
            port.qos_drift_at = utcnow()
    txn.session.flush()
    return {"host": host, "accepted": len(reports), "events": events}


def _events(host: str, port: Port, r: dict) -> list[dict]:
    """What this report changed, for the console's history (service/live.py)."""
    base = {"host": host, "port_id": port.id, "project_id": port.project_id,
            "revision": r["revision"]}
    out = []
    if r["status"] == "ACTIVE" and port.qos_applied_revision != r["revision"]:
        out.append({**base, "kind": "applied", "detail": f"revision {r['revision']} applied"})
    if r["status"] in ("ERROR", "DOWN") and (port.qos_status, port.qos_status_reason) != (
            r["status"], r["reason"]):
        out.append({**base, "kind": r["status"].lower(), "detail": r["reason"]})
    if r["drift"]:
        out.append({**base, "kind": "drift", "detail": "; ".join(map(str, r["drift"]))})
    return out


