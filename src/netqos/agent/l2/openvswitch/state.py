"""What observe reads back from OVSDB and the switches: plain data.

Local VLANs live in OVSDB, on the VM ports' rows, as Neutron keeps them: Port other_config
net_uuid, network_type, physical_network, segmentation_id and local_vlan (and the port's
`tag`). A restarted agent rebuilds its allocation from them and changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field

NET_KEY = "net_uuid"
VLAN_KEY = "local_vlan"
SEGMENT_KEYS = ("network_type", "physical_network", "segmentation_id")
OWN_KEYS = (NET_KEY, VLAN_KEY, *SEGMENT_KEYS)


@dataclass(frozen=True)
class PortRow:
    name: str
    iface_type: str = ""                 # "", "internal", "patch", "vxlan", ...
    ofport: int = -1                     # -1 / 0: not attached (yet)
    options: tuple[tuple[str, str], ...] = ()   # the Interface's options, sorted (key, value)
    iface_id: str | None = None          # external_ids:iface-id (VM ports)
    tag: int | None = None
    other_config: tuple[tuple[str, str], ...] = ()   # our keys only, sorted (key, value)

    @property
    def opts(self) -> dict[str, str]:
        return dict(self.options)

    @property
    def config(self) -> dict[str, str]:
        return dict(self.other_config)


@dataclass
class BridgeRow:
    name: str
    datapath_type: str = ""
    fail_mode: str | None = None
    ports: dict[str, PortRow] = field(default_factory=dict)    # by Port name


@dataclass
class OvsL2State:
    bridges: dict[str, BridgeRow] = field(default_factory=dict)
    cookies: dict[str, set[int]] = field(default_factory=dict)  # bridge -> flow cookies
    userspace_tso: bool = False
    ovs_version: str = ""                # Open_vSwitch ovs_version (ovs-vswitchd's)

    def ports(self, bridge: str) -> dict[str, PortRow]:
        row = self.bridges.get(bridge)
        return row.ports if row else {}

    def ofport(self, bridge: str, port: str) -> int:
        row = self.ports(bridge).get(port)
        return row.ofport if row else -1
