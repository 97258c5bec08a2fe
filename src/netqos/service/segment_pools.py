"""Which segments networks may ride on: the configured pools, and Neutron's checks of a
provider request (the `provider` extension), without any SQL.

A segment is (network_type, physical_network, segmentation_id): flat and VLAN segments
live on a physical network, VXLAN and GRE ones are tunnels identified by a VNI or a GRE key,
local ones stay on one host.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from netqos.qos.errors import InvalidInput

NETWORK_TYPES = ("flat", "vlan", "vxlan", "gre", "local")
TUNNEL_TYPES = ("vxlan", "gre")
VLAN_IDS = (1, 4094)
VXLAN_IDS = (1, 2**24 - 1)
GRE_IDS = (1, 2**32 - 1)        # the GRE key field is 32 bits (Neutron: MAX_GRE_ID)
# Neutron's overheads over IPv4 (VXLAN_ENCAP_OVERHEAD 30 / GRE_ENCAP_OVERHEAD 22, each
# plus the 20-byte IPv4 header):
VXLAN_OVERHEAD = 50   # outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8 bytes
GRE_OVERHEAD = 42     # outer Ethernet 14 + IPv4 20 + GRE with key 8 bytes
ANY_PHYSNET = "*"


@dataclass(frozen=True)
class Segment:
    network_type: str
    physical_network: str | None = None
    segmentation_id: int | None = None


@dataclass(frozen=True)
class SegmentPools:
    tenant_network_types: tuple[str, ...] = ("vxlan",)
    vni_ranges: tuple[tuple[int, int], ...] = (VXLAN_IDS,)
    tunnel_id_ranges: tuple[tuple[int, int], ...] = ()     # GRE keys (Neutron: none)
    vlan_ranges: dict[str, tuple[tuple[int, int], ...]] = field(default_factory=dict)
    flat_networks: frozenset[str] = frozenset({ANY_PHYSNET})
    physnet_mtu: int = 1500

    @classmethod
    def from_settings(cls, settings) -> "SegmentPools":
        return cls(tenant_network_types=tuple(settings.tenant_network_types),
                   vni_ranges=tuple(_range(r, VXLAN_IDS, "vni_ranges")
                                    for r in settings.vni_ranges),
                   tunnel_id_ranges=tuple(_range(r, GRE_IDS, "tunnel_id_ranges")
                                          for r in settings.tunnel_id_ranges),
                   vlan_ranges=parse_vlan_ranges(settings.network_vlan_ranges),
                   flat_networks=frozenset(settings.flat_networks),
                   physnet_mtu=int(settings.global_physnet_mtu))

    def tunnel_ranges(self, network_type: str) -> tuple[tuple[int, int], ...]:
        """The tenant ranges of a tunnel type: VXLAN ids or GRE keys."""
        return self.vni_ranges if network_type == "vxlan" else self.tunnel_id_ranges

    def mtu(self, segment: Segment) -> int:
        """The largest MTU a network on this segment can carry."""
        if segment.network_type == "vxlan":
            return self.physnet_mtu - VXLAN_OVERHEAD
        if segment.network_type == "gre":
            return self.physnet_mtu - GRE_OVERHEAD
        return self.physnet_mtu

    def check_provider(self, segment: Segment) -> None:
        """An admin's provider request, refused in Neutron's words when it cannot be."""
        kind = segment.network_type
        if kind not in NETWORK_TYPES:
            raise _invalid(f"network_type value '{kind}' not supported")
        physnet, seg_id = segment.physical_network, segment.segmentation_id
        if kind == "local":
            for name, value in (("physical_network", physnet), ("segmentation_id", seg_id)):
                if value is not None:
                    raise _invalid(f"{name} prohibited for local provider network")
        elif kind == "flat":
            if physnet is None:
                raise _invalid("physical_network required for flat provider network")
            if seg_id is not None:
                raise _invalid("segmentation_id prohibited for flat provider network")
            if ANY_PHYSNET not in self.flat_networks and physnet not in self.flat_networks:
                raise _invalid(f"physical_network '{physnet}' unknown for flat provider "
                               "network")
        elif kind == "vlan":
            if physnet is None and seg_id is not None:
                raise _invalid("segmentation_id requires physical_network for VLAN provider "
                               "network")
            if physnet is not None and physnet not in self.vlan_ranges:
                raise _invalid(f"physical_network '{physnet}' unknown for VLAN provider "
                               "network")
            _in_range(seg_id, VLAN_IDS)
        else:  # vxlan, gre: Neutron's tunnel type driver's words (its ML2 GRE driver
            # names the type as given; the VXLAN message predates this change)
            if physnet is not None:
                shown = "VXLAN" if kind == "vxlan" else kind
                raise _invalid(f"provider:physical_network specified for {shown} network")
            _in_range(seg_id, VXLAN_IDS if kind == "vxlan" else GRE_IDS)


def parse_vlan_ranges(entries) -> dict[str, tuple[tuple[int, int], ...]]:
    """`physnet1:100:199,physnet2` -> {physnet1: ((100, 199),), physnet2: ()}: a physnet
    without ids takes provider VLANs only."""
    out: dict[str, list[tuple[int, int]]] = {}
    for entry in entries:
        physnet, _, ids = entry.partition(":")
        if not physnet:
            raise ValueError(f"network_vlan_ranges: {entry!r} names no physical network")
        out.setdefault(physnet, [])
        if ids:
            out[physnet].append(_range(ids, VLAN_IDS, "network_vlan_ranges"))
    return {k: tuple(v) for k, v in out.items()}


def _range(text: str, limits: tuple[int, int], setting: str) -> tuple[int, int]:
    try:
        first, last = (int(x) for x in text.split(":"))
    except ValueError:
        raise ValueError(f"{setting}: {text!r} is not FIRST:LAST") from None
    if not limits[0] <= first <= last <= limits[1]:
        raise ValueError(f"{setting}: {text!r} is not FIRST:LAST with "
                         f"{limits[0]} <= FIRST <= LAST <= {limits[1]}")
    return first, last


def _in_range(seg_id: int | None, limits: tuple[int, int]) -> None:
    if seg_id is not None and not limits[0] <= seg_id <= limits[1]:
        raise _invalid(f"segmentation_id out of range ({limits[0]} through {limits[1]})")


def _invalid(message: str) -> InvalidInput:
    return InvalidInput(error_message=message)
