"""Port names as Neutron's OVS agent gives them (ports are devices: 15 characters)."""
from __future__ import annotations

import hashlib
import ipaddress

PATCH_TUN = "patch-tun"        # on br-int, peer of PATCH_INT
PATCH_INT = "patch-int"        # on br-tun
IFNAMSIZ = 15


def _fit(prefix: str, name: str) -> str:
    """prefix + name, or prefix + a hash of name when that is too long (as Neutron does)."""
    if len(prefix + name) <= IFNAMSIZ:
        return prefix + name
    return prefix + hashlib.sha1(name.encode()).hexdigest()[:IFNAMSIZ - len(prefix)]


def int_patch(bridge: str) -> str:
    """The br-int side of the patch to a physical bridge: int-br-physnet1."""
    return _fit("int-", bridge)


def phy_patch(bridge: str) -> str:
    """The physical bridge's side: phy-br-physnet1."""
    return _fit("phy-", bridge)


def tunnel(kind: str, remote_ip: str) -> str:
    """vxlan-c6126402 for 198.18.100.2 (IPv6: a hash of the address)."""
    ip = ipaddress.ip_address(remote_ip)
    if ip.version == 4:
        return f"{kind}-{int(ip):08x}"
    return f"{kind}-{hashlib.sha1(ip.packed).hexdigest()[:IFNAMSIZ - len(kind) - 1]}"
