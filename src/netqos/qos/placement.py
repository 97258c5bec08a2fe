"""A port's `resource_request`: what Nova asks Placement for when it schedules the port's
VM, in the `port-resource-request-groups` format Neutron gives it.

One request group for the minimum-bandwidth rules (bandwidth resources on a device of the
port's physical network, or of the tunnel provider, for its vnic type), one for the
minimum-packet-rate rules (packet-rate resources for its vnic type); `same_subtree` asks
that both land under one resource provider. Group ids are Neutron's: a UUIDv5 of the rule
ids, in the port's id namespace, so they are stable across reads.
"""
from __future__ import annotations

from typing import Any

import re
import uuid

BANDWIDTH = {"egress": "NET_BW_EGR_KILOBIT_PER_SEC", "ingress": "NET_BW_IGR_KILOBIT_PER_SEC"}
PACKET_RATE = {"egress": "NET_PACKET_RATE_EGR_KILOPACKET_PER_SEC",
               "ingress": "NET_PACKET_RATE_IGR_KILOPACKET_PER_SEC",
               "any": "NET_PACKET_RATE_KILOPACKET_PER_SEC"}
TUNNEL_TRAIT = "CUSTOM_NETWORK_TUNNEL_PROVIDER"


def trait(prefix: str, name: str) -> str:
    """os-traits' normalize_name: upper case, anything else than A-Z0-9 as '_'."""
    return "CUSTOM_" + re.sub(r"[^A-Z0-9_]", "_", f"{prefix}{name}".upper())


def resource_request(port_id: str, vnic_type: str, physical_network: str | None,
                     rules: list[dict[str, Any]]) -> dict[str, Any] | None:
    """None when the port's effective policy guarantees nothing."""
    vnic = trait("VNIC_TYPE_", vnic_type or "normal")
    network = trait("PHYSNET_", physical_network) if physical_network else TUNNEL_TRAIT
    groups = [g for g in (
        _group(port_id, rules, "minimum_bandwidth", "min_kbps", BANDWIDTH, [network, vnic]),
        _group(port_id, rules, "minimum_packet_rate", "min_kpps", PACKET_RATE, [vnic]),
    ) if g]
    if not groups:
        return None
    return {"request_groups": groups, "same_subtree": [g["id"] for g in groups]}


def _group(port_id: str, rules: list[dict[str, Any]], rule_type: str, field: str,
           classes: dict[str, str], required: list[str]) -> dict[str, Any] | None:
    chosen = sorted((r for r in rules if r["type"] == rule_type), key=lambda r: r["id"])
    if not chosen:
        return None
    return {"id": str(uuid.uuid5(uuid.UUID(port_id), ":".join(r["id"] for r in chosen))),
            "required": required,
            "resources": {classes[r["direction"]]: r[field] for r in chosen}}
