"""Pieces every command group shares: leaf parsers with the common flags, argparse types
for human units, and rule descriptions."""
from __future__ import annotations

import argparse

from netqos.cli import units
from netqos.cli.client import add_connection_flags
from netqos.cli.output import add_format_flags

# CLI rule type names -> Neutron's, and back.
RULE_TYPES = {
    "bw-limit": "bandwidth_limit",
    "dscp": "dscp_marking",
    "min-bw": "minimum_bandwidth",
    "pps-limit": "packet_rate_limit",
    "min-pps": "minimum_packet_rate",
}
SHORT_TYPE = {v: k for k, v in RULE_TYPES.items()}
DIRECTIONS = {"in": "ingress", "ingress": "ingress", "out": "egress", "egress": "egress",
              "any": "any", "both": "both"}
SHORT_DIRECTION = {"ingress": "in", "egress": "out", "any": "any"}


def leaf(sub, name: str, help: str, *, output: bool = True, aliases=()) -> argparse.ArgumentParser:
    """A subcommand that talks to the server: connection flags (and -f/-c)."""
    p = sub.add_parser(name, help=help, description=help, aliases=list(aliases))
    add_connection_flags(p, suppress=True)
    if output:
        add_format_flags(p)
    return p


def _arg_type(parse, name):
    def convert(text: str):
        try:
            return parse(text)
        except units.UnitError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    convert.__name__ = name
    return convert


rate_arg = _arg_type(units.parse_rate, "rate")
burst_arg = _arg_type(units.parse_burst, "burst")
pps_arg = _arg_type(units.parse_pps, "packet rate")
dscp_arg = _arg_type(units.parse_dscp, "DSCP mark")


def rule_type_arg(text: str) -> str:
    t = text.strip().lower()
    if t in RULE_TYPES:
        return RULE_TYPES[t]
    if t.removesuffix("_rules").removesuffix("_rule") in SHORT_TYPE:
        return t.removesuffix("_rules").removesuffix("_rule")
    raise argparse.ArgumentTypeError(
        f"unknown rule type {text!r}; use one of {', '.join(RULE_TYPES)}")


def direction_arg(text: str) -> str:
    d = text.strip().lower()
    if d not in DIRECTIONS:
        raise argparse.ArgumentTypeError(f"direction {text!r}: use in, out, both (or any for "
                                         f"min-pps)")
    return DIRECTIONS[d]


def describe_rule(rule: dict) -> str:
    """One line a person reads: 'bw-limit in 100mbit burst 2mbit', 'dscp AF31 (26)'."""
    t = rule.get("type")
    short = SHORT_TYPE.get(t, t)
    direction = SHORT_DIRECTION.get(rule.get("direction"), rule.get("direction") or "")
    return f"{short} {direction} {rule_value(rule)}".replace("  ", " ").strip()


def rule_value(rule: dict) -> str:
    t = rule.get("type")
    if t == "bandwidth_limit":
        burst = rule.get("max_burst_kbps")
        return units.format_rate(rule["max_kbps"]) + (
            f" burst {units.format_rate(burst)}" if burst else "")
    if t == "packet_rate_limit":
        burst = rule.get("max_burst_kpps")
        return units.format_pps(rule["max_kpps"]) + (
            f" burst {units.format_pps(burst)}" if burst else "")
    if t == "minimum_bandwidth":
        return units.format_rate(rule["min_kbps"])
    if t == "minimum_packet_rate":
        return units.format_pps(rule["min_kpps"])
    if t == "dscp_marking":
        return units.format_dscp(rule["dscp_mark"])
    return ", ".join(f"{k}={v}" for k, v in rule.items() if k not in ("id", "type"))


def rules_text(rules: list[dict]) -> str:
    order = list(SHORT_TYPE)
    return "\n".join(describe_rule(r) for r in sorted(
        rules, key=lambda r: (order.index(r["type"]) if r.get("type") in order else 99,
                              _DIR_ORDER.get(r.get("direction"), 3))))


_DIR_ORDER = {"ingress": 0, "egress": 1, "any": 2}
