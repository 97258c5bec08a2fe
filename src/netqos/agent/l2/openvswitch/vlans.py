"""Local VLAN allocation, kept in OVSDB (pure).

Each network with a port on this host gets a VLAN id 1-4094 on br-int. The allocation is
read back from the ports' other_config (net_uuid, local_vlan), where the engine writes it
with the tag: a restarted agent finds the same VLANs and retags nothing. A network whose
ports disagree keeps the VLAN most of its ports carry; two networks claiming one VLAN (a
hand edit): the one with more ports keeps it, the other gets a new one. New networks take
the lowest free id. A network with no port left here frees its VLAN.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from netqos.agent.l2.openvswitch.state import NET_KEY, VLAN_KEY, PortRow

MIN_VLAN, MAX_VLAN = 1, 4094


class VlansExhausted(RuntimeError):
    pass


def recorded(ports: Iterable[PortRow]) -> dict[str, Counter[int]]:
    """network id -> Counter(local VLAN -> ports recording it)."""
    seen: dict[str, Counter[int]] = {}
    for port in ports:
        cfg = port.config
        try:
            vlan = int(cfg.get(VLAN_KEY, ""))
        except ValueError:
            continue
        if cfg.get(NET_KEY) and MIN_VLAN <= vlan <= MAX_VLAN:
            seen.setdefault(cfg[NET_KEY], Counter())[vlan] += 1
    return seen


def allocate(networks: Iterable[str], ports: Iterable[PortRow]) -> dict[str, int]:
    """network id -> local VLAN, for the networks that need one here."""
    wanted = sorted(set(networks))
    seen = recorded(ports)
    claims = []   # (ports recording it, network, vlan), strongest first
    for net in wanted:
        for vlan, n in seen.get(net, Counter()).items():
            claims.append((-n, vlan, net))
    out: dict[str, int] = {}
    taken: set[int] = set()
    for _n, vlan, net in sorted(claims):
        if net not in out and vlan not in taken:
            out[net] = vlan
            taken.add(vlan)
    free = (v for v in range(MIN_VLAN, MAX_VLAN + 1) if v not in taken)
    for net in wanted:
        if net not in out:
            spare = next(free, None)
            if spare is None:
                raise VlansExhausted(f"no local VLAN left for network {net}")
            out[net] = spare
    return out
