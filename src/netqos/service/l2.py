"""The "l2" block of a host pull: what a host's L2 agent wires (docs/l2.md).

Composed by netqos.l2compose (the function the multi-host harness tests) from the
host's ports, the other ports bound on their networks and the other hosts' tunnel IPs:
two queries besides the host's own ports, whatever the host's size. Only `normal` vnic
ports are wired (as Neutron's Linux-bridge agent: SR-IOV VFs are not on a bridge).
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from netqos.l2compose import BoundPort, compose
from netqos.db.models import Agent, Port
from netqos.service.txn import Txn

WIRED_VNIC = "normal"


def block(txn: Txn, host: str, ports: list[Port], segment_of) -> dict:
    """`ports`: the host's ports, networks loaded; `segment_of(network)`: its segment."""
    mine = [p for p in ports if p.vnic_type == WIRED_VNIC]
    segments = {p.network_id: segment_of(p.network) for p in mine}
    peers = list(txn.session.execute(
        select(Port.id, Port.mac_address, Port.network_id, Port.host, Port.admin_state_up,
               Port.profile)
        .where(Port.network_id.in_(segments), Port.host != host, Port.host != "",
               Port.host.is_not(None), Port.vnic_type == WIRED_VNIC)))
    bound = [_bound(p.id, p.mac_address, p.network_id, host, p.admin_state_up, p.profile)
             for p in mine]
    bound += [_bound(*row) for row in peers]
    return compose(host, bound, segments, tunnel_ips(txn, {row.host for row in peers}))


def _bound(port_id, mac, network_id, host, admin_state_up, profile) -> BoundPort:
    return BoundPort(port_id, mac, network_id, host, bool(admin_state_up),
                     (profile or {}).get("device"))


def tunnel_ips(txn: Txn, hosts: Iterable[str]) -> dict[str, str]:
    """host -> the local_ip its agent reported in its heartbeat's configurations, alive or
    not. As Neutron's l2population (it keys on ports and the agent's tunnel IP, never on
    liveness): a dead agent leaves its kernel wiring working, so dropping its host from its
    peers' fdb would cut its VMs off for as long as the agent is away."""
    hosts = sorted(set(hosts))
    if not hosts:
        return {}
    found: dict[str, str] = {}
    for row in txn.session.execute(select(Agent.host, Agent.configurations)
                                   .where(Agent.host.in_(hosts))
                                   .order_by(Agent.host, Agent.agent_type)):
        ip = (row.configurations or {}).get("local_ip")
        if isinstance(ip, str) and ip:
            found.setdefault(row.host, ip)
    return found


def peer_hosts(txn: Txn, network_ids: Iterable[str], but: Iterable[str] = ()) -> set[str]:
    """Hosts with a port bound on one of `network_ids` (their l2 block names the others'
    ports and tunnel IPs), except `but`."""
    network_ids = sorted({n for n in network_ids if n})
    if not network_ids:
        return set()
    hosts = set(txn.session.scalars(select(Port.host).distinct()
                                    .where(Port.network_id.in_(network_ids),
                                           Port.host.is_not(None), Port.host != "")))
    return hosts - set(but)


def hosts_sharing_with(txn: Txn, host: str) -> set[str]:
    """Hosts that share a network with `host`'s ports (they hold its tunnel IP)."""
    nets = txn.session.scalars(select(Port.network_id).distinct().where(Port.host == host))
    return peer_hosts(txn, list(nets), but=[host])
