"""Effective-policy resolution: which policy governs a port.

A port's own policy wins; otherwise its network's — except on the network's own service
ports (device_owner network:* or neutron:*), where a network policy would throttle the
router or DHCP agent of every tenant. Router gateway ports are the exception to the
exception: operators limit a router's external traffic through the gateway network.
"""
from __future__ import annotations

SERVICE_OWNER_PREFIXES = ("network:", "neutron:")
GATEWAY_OWNERS = frozenset({"network:router_gateway", "network:floatingip_agent_gateway"})


def network_policy_applies(device_owner: str | None) -> bool:
    owner = device_owner or ""
    return owner in GATEWAY_OWNERS or not owner.startswith(SERVICE_OWNER_PREFIXES)


def effective_policy_id(port_policy_id: str | None, network_policy_id: str | None,
                        device_owner: str | None) -> str | None:
    if port_policy_id:
        return port_policy_id
    if network_policy_id and network_policy_applies(device_owner):
        return network_policy_id
    return None

