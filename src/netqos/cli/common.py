"""Pieces every command group shares: leaf parsers with the common flags, argparse types
for human units, and rule descriptions."""
from __future__ import annotations

import argparse

from netqos.cli import units
from netqos.cli.client import add_connection_flags
from netqos.cli.output import add_format_flags
from netqos.qos import rules as registry

# CLI rule type names -> Neutron's, and back: from the rule-type registry (qos/rules.py).
RULE_TYPES = {rt.short: rt.name for rt in registry.RULE_TYPES.values()}
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

# A quantity's unit (qos.rules.Quantity.unit) -> how people write it and how it is shown.
UNIT_ARGS = {"kbps": rate_arg, "kbit": burst_arg, "kpps": pps_arg, "dscp": dscp_arg}
UNIT_FORMATS = {"kbps": units.format_rate, "kbit": units.format_rate,
                "kpps": units.format_pps, "dscp": units.format_dscp}


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
    """'100mbit burst 2mbit': the main quantity, then the others that are set, by name."""
    rule_type = registry.RULE_TYPES.get(rule.get("type"))
    if rule_type is None or not rule_type.quantities:
        return ", ".join(f"{k}={v}" for k, v in rule.items() if k not in ("id", "type"))
    main, *others = rule_type.quantities
    text = UNIT_FORMATS[main.unit](rule[main.field])
    for q in others:
        if rule.get(q.field):
            text += f" {q.word} {UNIT_FORMATS[q.unit](rule[q.field])}"
    return text


def rules_text(rules: list[dict]) -> str:
    order = list(SHORT_TYPE)
    return "\n".join(describe_rule(r) for r in sorted(
        rules, key=lambda r: (order.index(r["type"]) if r.get("type") in order else 99,
                              _DIR_ORDER.get(r.get("direction"), 3))))


_DIR_ORDER = {"ingress": 0, "egress": 1, "any": 2}
