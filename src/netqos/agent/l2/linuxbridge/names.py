"""Device names, as Neutron's Linux-bridge agent gives them (the kernel allows 15 chars)."""
from __future__ import annotations

BRIDGE_PREFIX = "brq"
VXLAN_PREFIX = "vxlan-"
TAP_PREFIX = "tap"
IFNAMSIZ = 15


def bridge(network_id: str) -> str:
    return BRIDGE_PREFIX + network_id[:11]


def vxlan(vni: int) -> str:
    return f"{VXLAN_PREFIX}{vni}"


def vlan(interface: str, vid: int) -> str:
    """`<iface>.<vid>`, the interface name shortened so that the whole fits."""
    suffix = f".{vid}"
    return interface[:IFNAMSIZ - len(suffix)] + suffix


def ours(name: str) -> bool:
    """A device netqos creates and may delete when no port needs it."""
    return name.startswith((BRIDGE_PREFIX, VXLAN_PREFIX))
