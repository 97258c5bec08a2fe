"""What crosses server -> agent, typed, shared by both sides.

`PortQos` is what the agent is told to enforce on one port:
`GET /v2.0/netqos/hosts/{host}/ports` returns {"revision": R, "ports": [PortQos dicts]};
the server builds them (service/hosts.py) and the agent decodes them, checking every value
it will format (netqos.trust). `Event` is the hint the bus carries after a commit
(service/txn.py publishes, bus/ delivers, the agent re-pulls).

Rules cross as dicts and are decoded once, here, into the frozen dataclass of their rule
type (`BandwidthLimit`, ...; each defined beside its `RuleType` in the registry,
qos/rules.py, with exactly its fields, order and defaults: tests/unit/test_wire_rules.py
holds them to it): what the agent's specs read are attributes, not dict keys.

Neither side's internals are imported here: only the domain (qos/), also through netqos.trust.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from netqos import trust
from netqos.qos.rules import (RULE_TYPES, BandwidthLimit, DscpMarking, MinimumBandwidth,
                              MinimumPacketRate, PacketRateLimit, Rule)

__all__ = ["BandwidthLimit", "DscpMarking", "Event", "MinimumBandwidth", "MinimumPacketRate",
           "PacketRateLimit", "PortQos", "RULE_CLASSES", "Rule", "decode_rules", "find_rule",
           "rule_of", "typed_rules"]


# ---- rules, typed: the classes live with their rule types in the registry ----
RULE_CLASSES: dict[str, type[Rule]] = {rt.name: rt.value for rt in RULE_TYPES.values()}
R = TypeVar("R", bound=Rule)


def rule_of(value: Rule | Mapping[str, Any]) -> Rule:
    """A typed rule from its wire dict (a known "type" and its fields; other keys such as
    "id" are dropped, None takes the default); a typed rule as it is. Checks nothing:
    `decode_rules` is the agent's checked path, this one serves the server's own rows
    and tests."""
    if isinstance(value, Rule):
        return value
    cls = RULE_CLASSES[value["type"]]
    return cls(**{name: value[name] for name in cls.names()
                  if value.get(name) is not None})   # None: the type's default


def typed_rules(values: Iterable[Rule | Mapping[str, Any]]) -> tuple[Rule, ...]:
    return tuple(rule_of(v) for v in values)


def decode_rules(value: Any, field_name: str = "rules") -> tuple[Rule, ...]:
    """Pulled rules, checked (netqos.trust: raises trust.Untrusted) and typed."""
    return typed_rules(trust.rules(value, field_name))


def find_rule(rules: Iterable[Rule], kind: type[R], direction: str | None = None) -> R | None:
    """The first rule of this kind (and direction, if given) among `rules`."""
    return next((r for r in rules if isinstance(r, kind)
                 and (direction is None or getattr(r, "direction", None) == direction)),
                None)


@dataclass(frozen=True)
class PortQos:
    port_id: str
    revision: int                       # bumps whenever this port's effective QoS changes
    mac_address: str = ""
    fixed_ips: tuple[str, ...] = ()     # IP addresses only
    vnic_type: str = "normal"
    device: str | None = None           # from binding:profile, else derived by discovery
    policy_id: str | None = None        # effective policy (own, else the network's)
    rules: tuple[Rule, ...] = ()        # typed; dicts given here are typed on construction
    profile: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    admin_state_up: bool = True         # False: its link is held down, its QoS kept
    # The port's network and its segment, for the L2 role: {"network_id", "network_type",
    # "physical_network", "segmentation_id", "mtu"}; None from a server that predates it.
    network: dict[str, Any] | None = field(default=None, compare=False, hash=False)

    @property
    def tap_name(self) -> str:
        """Neutron's host-side device name: tap + the first 11 characters of the id."""
        return "tap" + self.port_id[:11]

    def __post_init__(self) -> None:
        # Rules given as wire dicts (the server's rows, tests, benches) are typed once here.
        if any(not isinstance(r, Rule) for r in self.rules):
            object.__setattr__(self, "rules", typed_rules(self.rules))

    def rule(self, kind: type[R], direction: str | None = None) -> R | None:
        return find_rule(self.rules, kind, direction)

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
                   rules=decode_rules(d.get("rules", ())),
                   profile=trust.profile(d.get("profile")),
                   admin_state_up=trust.boolean(d.get("admin_state_up", True),
                                                "admin_state_up"),
                   network=trust.optional(trust.segment, d.get("network"),
                                          "network"))

    def to_wire(self) -> dict[str, Any]:
        return {"port_id": self.port_id, "revision": self.revision,
                "mac_address": self.mac_address, "fixed_ips": list(self.fixed_ips),
                "vnic_type": self.vnic_type, "device": self.device,
                "policy_id": self.policy_id,
                "rules": [r.to_wire() for r in self.rules],
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
