"""What crosses server -> agent, typed, shared by both sides.

`PortQos` is what the agent is told to enforce on one port:
`GET /v2.0/netqos/hosts/{host}/ports` returns {"revision": R, "ports": [PortQos dicts]};
the server builds them (service/hosts.py) and the agent decodes them, checking every value
it will format (netqos.trust). `Event` is the hint the bus carries after a commit
(service/txn.py publishes, bus/ delivers, the agent re-pulls).

Neither side's internals are imported here: only the domain (qos/) through netqos.trust.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from netqos import trust


@dataclass(frozen=True)
class PortQos:
    port_id: str
    revision: int                       # bumps whenever this port's effective QoS changes
    mac_address: str = ""
    fixed_ips: tuple[str, ...] = ()     # IP addresses only
    vnic_type: str = "normal"
    device: str | None = None           # from binding:profile, else derived by discovery
    policy_id: str | None = None        # effective policy (own, else the network's)
    rules: tuple[dict[str, Any], ...] = ()   # rule dicts with "type" and their value fields
    profile: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    admin_state_up: bool = True         # False: its link is held down, its QoS kept
    # The port's network and its segment, for the L2 role: {"network_id", "network_type",
    # "physical_network", "segmentation_id", "mtu"}; None from a server that predates it.
    network: dict[str, Any] | None = field(default=None, compare=False, hash=False)

    @property
    def tap_name(self) -> str:
        """Neutron's host-side device name: tap + the first 11 characters of the id."""
        return "tap" + self.port_id[:11]

    def rules_of(self, rule_type: str) -> list[dict[str, Any]]:
        return [r for r in self.rules if r["type"] == rule_type]

    def rule(self, rule_type: str, direction: str | None = None) -> dict[str, Any] | None:
        return next((r for r in self.rules_of(rule_type)
                     if direction is None or r.get("direction") == direction), None)

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> "PortQos":
        """Decode and check a pulled port (netqos.trust): raises trust.Untrusted for
        any value the agent would not format."""
        return cls(port_id=trust.identifier(d.get("port_id"), "port_id"),
                   revision=trust.integer(d.get("revision"), "revision",
                                          maximum=trust.MAX_REVISION),
                   mac_address=trust.mac(d["mac_address"]) if d.get("mac_address") else "",
                   fixed_ips=trust.each(d.get("fixed_ips", ()), trust.ip_address,
                                        "fixed_ips"),
                   vnic_type=trust.word(d.get("vnic_type", "normal"), "vnic_type"),
                   device=trust.optional(trust.device_name, d.get("device") or None, "device"),
                   policy_id=trust.optional(trust.identifier, d.get("policy_id"),
                                            "policy_id"),
                   rules=trust.rules(d.get("rules", ())),
                   profile=trust.profile(d.get("profile")),
                   admin_state_up=trust.boolean(d.get("admin_state_up", True),
                                                "admin_state_up"),
                   network=trust.optional(trust.segment, d.get("network"),
                                          "network"))

    def to_wire(self) -> dict[str, Any]:
        return {"port_id": self.port_id, "revision": self.revision,
                "mac_address": self.mac_address, "fixed_ips": list(self.fixed_ips),
                "vnic_type": self.vnic_type, "device": self.device,
                "policy_id": self.policy_id, "rules": list(self.rules),
                "profile": self.profile, "admin_state_up": self.admin_state_up,
                "network": self.network}


@dataclass(frozen=True)
class Event:
    """A hint for agents: `resource` `id` changed to `revision`; `ports` on `hosts` are
    affected. Agents re-pull what the database holds; the event carries no state."""

    resource: str
    id: str
    revision: int
    hosts: tuple[str, ...] = ()
    ports: tuple[str, ...] = ()

    def to_wire(self) -> dict[str, Any]:
        return {"resource": self.resource, "id": self.id, "revision": self.revision,
                "hosts": list(self.hosts), "ports": list(self.ports)}
