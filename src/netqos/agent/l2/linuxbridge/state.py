"""What the kernel holds, as far as the Linux-bridge L2 role cares: links and vxlan fdb."""
from __future__ import annotations

from dataclasses import dataclass, field

FLOOD_MAC = "00:00:00:00:00:00"


@dataclass(frozen=True)
class Link:
    name: str
    kind: str | None = None          # "bridge", "vxlan", "vlan", "veth", "tun", ...
    master: str | None = None        # the bridge it is enslaved to
    up: bool = False                 # administratively up (IFF_UP)
    mtu: int = 1500
    vni: int | None = None           # vxlan
    local: str | None = None         # vxlan
    learning: bool | None = None     # vxlan
    dstport: int | None = None       # vxlan
    tos_inherit: bool = False        # vxlan: the outer TOS copies the inner one
    vlan_id: int | None = None       # vlan
    parent: str | None = None        # vlan: the link it rides on


@dataclass(frozen=True)
class Fdb:
    """A static forwarding entry of a vxlan device: frames for `mac` go to `dst`."""
    device: str
    mac: str
    dst: str


@dataclass
class L2State:
    links: dict[str, Link] = field(default_factory=dict)
    fdb: set[Fdb] = field(default_factory=set)

    def slaves(self, bridge: str) -> list[Link]:
        return [link for link in self.links.values() if link.master == bridge]
