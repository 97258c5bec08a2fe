"""What the agent's L3 role pulls: the routers whose gateway lives on a host, with the QoS
of their gateway and floating IPs.

A router belongs to the host its gateway port is bound to (binding:host_id, set by an
admin as Neutron's L3 scheduler does: PUT /v2.0/ports/{gw_port_id}). Every change that
matters to it (a floating IP's policy or association, the gateway's policy, a rule of
either, the external network's policy) stamps the gateway port and raises that host's
revision (service.changes), so the L3 agent wakes on the same revision as a port agent.

Policies: a floating IP's own, else its floating network's (Neutron's
qos_network_policy_id); the gateway's is the router's external_gateway_info.qos_policy_id
only. Only bandwidth_limit rules are enforced there (qos.backends.L3_FIP); the others are
named in `ignored_rule_types`, never an error.

One request returns a whole host, in a fixed number of queries.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from netqos.db.models import FloatingIp, Network, Port, Router
from netqos.qos import backends
from netqos.service import bindings, changes
from netqos.service.hosts import authorize
from netqos.service.txn import Txn

GW_DEVICE_PREFIX = "qg-"
NAMESPACE_PREFIX = "qrouter-"


def gw_device(gw_port_id: str) -> str:
    """Neutron's name of the router's external device: qg- + the port id's first 11."""
    return GW_DEVICE_PREFIX + gw_port_id[:11]


def namespace(router_id: str) -> str:
    return NAMESPACE_PREFIX + router_id


def _enforced(rules: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "id"} for r in rules
            if backends.L3_FIP.allows(r)]


def routers(txn: Txn, host: str, router_id: str | None = None) -> dict:
    """{"host", "revision", "routers": [...]}: every router whose gateway is on `host`."""
    authorize(txn, host, "get_host_routers")
    session = txn.session
    stmt = (select(Router).join(Port, Router.gw_port_id == Port.id)
            .options(selectinload(Router.gw_port).selectinload(Port.fixed_ips))
            .where(Port.host == host).order_by(Router.id))
    if router_id:
        stmt = stmt.where(Router.id == router_id)
    rows = list(session.scalars(stmt))
    fips: dict[str, list[FloatingIp]] = {r.id: [] for r in rows}
    if rows:
        for fip in session.scalars(select(FloatingIp).where(
                FloatingIp.router_id.in_(list(fips))).order_by(FloatingIp.id)):
            fips[fip.router_id].append(fip)
    net_ids = {f.floating_network_id for group in fips.values() for f in group}
    net_policy = dict(session.execute(select(Network.id, Network.qos_policy_id)
                                      .where(Network.id.in_(net_ids))).tuples().all()) \
        if net_ids else {}
    wanted = {r.gw_qos_policy_id for r in rows}
    wanted |= {f.qos_policy_id or net_policy.get(f.floating_network_id)
               for group in fips.values() for f in group}
    rules = bindings.rules_by_policy(session, wanted)
    return {"host": host, "revision": changes.host_revision(txn, host),
            "routers": [_router(r, fips[r.id], net_policy, rules) for r in rows]}


def _router(router: Router, fips: list[FloatingIp], net_policy: dict,
            rules: dict[str, list[dict]]) -> dict:
    gw = router.gw_port
    gw_rules = rules.get(router.gw_qos_policy_id, [])
    return {
        "router_id": router.id,
        "revision": gw.qos_revision,
        "admin_state_up": router.admin_state_up,
        "gw_port_id": gw.id,
        "gw_device": gw_device(gw.id),
        "namespace": namespace(router.id),
        "gw_ips": [a.ip_address for a in gw.fixed_ips],
        "enable_snat": router.enable_snat,
        "gw_policy_id": router.gw_qos_policy_id,
        "gw_rules": _enforced(gw_rules),
        "gw_ignored_rule_types": backends.l3_ignored_rule_types(gw_rules),
        "floatingips": [_fip(f, net_policy, rules) for f in fips],
    }


def _fip(fip: FloatingIp, net_policy: dict, rules: dict[str, list[dict]]) -> dict:
    network_policy = net_policy.get(fip.floating_network_id)
    policy_id = fip.qos_policy_id or network_policy
    policy_rules = rules.get(policy_id, [])
    return {
        "id": fip.id,
        "floating_ip_address": fip.floating_ip_address,
        "fixed_ip_address": fip.fixed_ip_address,
        "port_id": fip.port_id,
        "policy_id": policy_id,
        "policy_source": None if policy_id is None else (
            "floatingip" if fip.qos_policy_id else "network"),
        "rules": _enforced(policy_rules),
        "ignored_rule_types": backends.l3_ignored_rule_types(policy_rules),
        "revision": fip.revision_number,
    }
