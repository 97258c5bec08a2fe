"""The rule-type registry: the five QoS rule types, their fields, defaults and ranges.

Units as on the wire: bandwidth in kbit/s, burst in kbit, packet rates in kpps.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

from netqos.qos.attributes import REQUIRED, Choice, Field, IntRange, Schema

DIRECTIONS = ("egress", "ingress")
VALID_DSCP_MARKS = (0, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36, 38, 40,
                    44, 46, 48, 56)


@dataclass(frozen=True)
class Quantity:
    """A value field as people give and read it (the CLI's flags and columns)."""

    field: str   # the wire field: "max_kbps"
    word: str    # what people call it, the CLI flag: "max", "burst", "min", "dscp"
    unit: str    # "kbps" (a rate), "kbit" (a burst), "kpps" (a packet rate or burst), "dscp"


class Rule:
    """One rule's values, typed: the base of each rule type's frozen dataclass below (what
    the agent decodes a pulled rule into, netqos.wire). Its fields are its type's value
    fields, in the registry's order, with the same defaults."""

    __slots__ = ()
    type: ClassVar[str]

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """Its value fields, in order (the registry's `field_names`)."""
        return tuple(f.name for f in fields(cls))  # type: ignore[arg-type]

    def to_wire(self) -> dict[str, Any]:
        """The rule as it crosses (and as the registry names its fields), with its type."""
        return {"type": self.type, **{name: getattr(self, name) for name in self.names()}}


@dataclass(frozen=True, slots=True)
class BandwidthLimit(Rule):
    type: ClassVar[str] = "bandwidth_limit"
    max_kbps: int
    max_burst_kbps: int = 0
    direction: str = "egress"


@dataclass(frozen=True, slots=True)
class DscpMarking(Rule):
    type: ClassVar[str] = "dscp_marking"
    dscp_mark: int


@dataclass(frozen=True, slots=True)
class MinimumBandwidth(Rule):
    type: ClassVar[str] = "minimum_bandwidth"
    min_kbps: int
    direction: str = "egress"


@dataclass(frozen=True, slots=True)
class MinimumPacketRate(Rule):
    type: ClassVar[str] = "minimum_packet_rate"
    min_kpps: int
    direction: str = "egress"


@dataclass(frozen=True, slots=True)
class PacketRateLimit(Rule):
    type: ClassVar[str] = "packet_rate_limit"
    max_kpps: int
    max_burst_kpps: int = 0
    direction: str = "egress"


@dataclass(frozen=True)
class RuleType:
    name: str                   # "bandwidth_limit"
    fields: tuple[Field, ...]   # value fields, without id and qos_policy_id
    short: str = ""             # the CLI's name: "bw-limit"
    quantities: tuple[Quantity, ...] = ()   # its value fields, the main one first
    value: type[Rule] = Rule    # its typed values (what the agent's specs read)

    @property
    def collection(self) -> str:
        """URL segment and list key: bandwidth_limit_rules."""
        return f"{self.name}_rules"

    @property
    def member(self) -> str:
        """JSON root key of one rule: bandwidth_limit_rule."""
        return f"{self.name}_rule"

    @property
    def has_direction(self) -> bool:
        return any(f.name == "direction" for f in self.fields)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def schema(self) -> Schema:
        return Schema(self.member, self.fields, read_only=frozenset({"id", "qos_policy_id",
                                                                     "type", "tenant_id",
                                                                     "project_id"}))

    @property
    def directions(self) -> tuple[str, ...]:
        """The directions a rule of this type may have (none for dscp_marking)."""
        field = next((f for f in self.fields if f.name == "direction"), None)
        return tuple(field.choices) if isinstance(field, Choice) else ()

    @property
    def required(self) -> tuple[str, ...]:
        """Value fields a new rule must give."""
        return tuple(f.name for f in self.fields if f.default is REQUIRED)

    def direction_of(self, rule: dict[str, Any]) -> str:
        """The key that makes two rules of this type duplicates ('' if one per policy)."""
        return rule.get("direction", "") if self.has_direction else ""


def _direction(choices: tuple[str, ...] = DIRECTIONS) -> Choice:
    return Choice("direction", default="egress", choices=choices)


BANDWIDTH_LIMIT = RuleType("bandwidth_limit", (
    IntRange("max_kbps", default=REQUIRED),
    IntRange("max_burst_kbps", default=0),
    _direction(),
), "bw-limit", (Quantity("max_kbps", "max", "kbps"), Quantity("max_burst_kbps", "burst", "kbit")),
    BandwidthLimit)
DSCP_MARKING = RuleType("dscp_marking", (
    Choice("dscp_mark", default=REQUIRED, choices=VALID_DSCP_MARKS),
), "dscp", (Quantity("dscp_mark", "dscp", "dscp"),), DscpMarking)
MINIMUM_BANDWIDTH = RuleType("minimum_bandwidth", (
    IntRange("min_kbps", default=REQUIRED),
    _direction(),
), "min-bw", (Quantity("min_kbps", "min", "kbps"),), MinimumBandwidth)
MINIMUM_PACKET_RATE = RuleType("minimum_packet_rate", (
    IntRange("min_kpps", default=REQUIRED),
    _direction(("any", "egress", "ingress")),
), "min-pps", (Quantity("min_kpps", "min", "kpps"),), MinimumPacketRate)
PACKET_RATE_LIMIT = RuleType("packet_rate_limit", (
    IntRange("max_kpps", default=REQUIRED),
    IntRange("max_burst_kpps", default=0),
    _direction(),
), "pps-limit", (Quantity("max_kpps", "max", "kpps"), Quantity("max_burst_kpps", "burst", "kpps")),
    PacketRateLimit)

RULE_TYPES: dict[str, RuleType] = {rt.name: rt for rt in (
    BANDWIDTH_LIMIT, DSCP_MARKING, MINIMUM_BANDWIDTH, MINIMUM_PACKET_RATE, PACKET_RATE_LIMIT)}

# Every column a rule of any type may carry; storage keeps one row per rule.
ALL_RULE_FIELDS: tuple[str, ...] = tuple(dict.fromkeys(
    f.name for rt in RULE_TYPES.values() for f in rt.fields))


def rule_type_by_collection(collection: str) -> RuleType | None:
    """bandwidth_limit_rules -> BANDWIDTH_LIMIT; None for anything else."""
    return next((rt for rt in RULE_TYPES.values() if rt.collection == collection), None)
