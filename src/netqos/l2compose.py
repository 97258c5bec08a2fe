"""Compose a host's "l2" block from what the server knows (the server side of
netqos.agent.l2.model).

Pure and shared, outside agent/ so the server may import it: service/l2.py calls `compose`
when it answers a host pull; the multi-host test harness calls it in place of a server.
Per host: its bound ports, their networks' segments, and per tunnelled (VXLAN or GRE)
network, every other host with ports on it — its tunnel IP (the `local_ip` its agent
reported) and their MACs, which is what Neutron's l2population sends, as a level rather
than as deltas. A host whose agent has not reported a tunnel IP yet cannot be reached and
is left out until it does.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

TUNNELLED = ("vxlan", "gre")     # segment types whose hosts reach each other by local_ip


@dataclass(frozen=True)
class BoundPort:
    port_id: str
    mac_address: str
    network_id: str
    host: str                          # binding:host_id
    admin_state_up: bool = True
    device: str | None = None          # binding:profile device, if any


def compose(host: str, ports: Iterable[BoundPort], segments: Mapping[str, dict],
            tunnel_ips: Mapping[str, str]) -> dict:
    """The "l2" block for `host` (see model.py for its shape).

    segments: network id -> {"network_type", "physical_network", "segmentation_id", "mtu"};
    tunnel_ips: host -> the local_ip its agent reports."""
    ports = list(ports)
    mine = [p for p in ports if p.host == host]
    nets = sorted({p.network_id for p in mine if p.network_id in segments})
    tunnelled = {n for n in nets if segments[n].get("network_type") in TUNNELLED}
    remote: dict[tuple[str, str], list[str]] = {}
    for p in ports:
        if p.host != host and p.network_id in tunnelled and p.host in tunnel_ips:
            remote.setdefault((p.host, p.network_id), []).append(p.mac_address)
    return {
        "networks": [{"network_id": n, **{k: segments[n].get(k) for k in
                      ("network_type", "physical_network", "segmentation_id", "mtu")}}
                     for n in nets],
        "ports": [{"port_id": p.port_id, "mac_address": p.mac_address,
                   "network_id": p.network_id, "admin_state_up": p.admin_state_up,
                   "device": p.device} for p in mine],
        "remote": [{"host": h, "local_ip": tunnel_ips[h], "network_id": n,
                    "macs": sorted(macs)} for (h, n), macs in sorted(remote.items())],
    }
