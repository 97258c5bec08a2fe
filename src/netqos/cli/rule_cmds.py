"""`netqos rule add|list|set|delete` and `netqos rule-types`.

    netqos rule add gold --type bw-limit --max 100mbit --burst 2mbit --direction both
    netqos rule add gold --type dscp --dscp AF31
    netqos rule set gold --type bw-limit --direction in --max 200mbit
    netqos rule delete gold --type dscp
"""
from __future__ import annotations

import argparse

from netqos.cli.client import Api, UsageError
from netqos.cli.common import (RULE_TYPES, SHORT_DIRECTION, SHORT_TYPE, UNIT_ARGS,
                               describe_rule, direction_arg, leaf, rule_type_arg, rule_value)
from netqos.cli.output import Column, emit_list
from netqos.qos import rules as registry

# The value flags (--max, --burst, --min, --dscp): one per word the registry's quantities use.
FLAGS = tuple(dict.fromkeys(q.word for rt in registry.RULE_TYPES.values()
                            for q in rt.quantities))
UNIT_HELP = {"kbps": "rate (100mbit, 1gbit)", "kbit": "burst (2mbit, 64kbyte)",
             "kpps": "packet rate (10kpps)", "dscp": "AF11..AF43, CS0..CS7, EF or a number"}

RULE_COLUMNS = (
    Column("ID", "id"),
    Column("Type", "type", lambda t: SHORT_TYPE.get(t, t)),
    Column("Direction", "direction", lambda d: SHORT_DIRECTION.get(d, d or "")),
    Column("Value", "value", row_fmt=rule_value),
)
RULE_TYPE_COLUMNS = (
    Column("Type", "type"),
    Column("CLI name", "cli", row_fmt=lambda r: SHORT_TYPE.get(r["type"], "")),
)


def register(sub) -> None:
    rule = sub.add_parser("rule", help="rules of a QoS policy (add, list, set, delete)")
    rsub = rule.add_subparsers(dest="rule_command", required=True, metavar="ACTION")

    add = leaf(rsub, "add", "add a rule (--direction both adds two)", aliases=["create"])
    add.add_argument("policy", help="policy name or id")
    _value_flags(add, required_type=True)
    add.set_defaults(func=run_add)

    ls = leaf(rsub, "list", "list a policy's rules")
    ls.add_argument("policy", help="policy name or id")
    ls.add_argument("--type", type=rule_type_arg, help="only this type")
    ls.set_defaults(func=run_list)

    st = leaf(rsub, "set", "change a rule: by id, or by --type [--direction]")
    st.add_argument("policy", help="policy name or id")
    st.add_argument("rule", nargs="?", help="rule id (or a unique prefix); without it "
                                            "--type/--direction select the rule(s)")
    _value_flags(st, required_type=False)
    st.add_argument("--new-direction", type=direction_arg,
                    help="move the rule to this direction (in, out)")
    st.set_defaults(func=run_set)

    rm = leaf(rsub, "delete", "delete rules: by id, or by --type [--direction]",
              output=False, aliases=["remove"])
    rm.add_argument("policy", help="policy name or id")
    rm.add_argument("rule", nargs="*", help="rule ids (or unique prefixes)")
    rm.add_argument("--type", type=rule_type_arg, help="delete the rules of this type")
    rm.add_argument("--direction", type=direction_arg, help="in, out, both")
    rm.set_defaults(func=run_delete)

    types = leaf(sub, "rule-types", "rule types the server's backends support")
    types.add_argument("type", nargs="?", type=rule_type_arg,
                       help="show one type's parameters (admin)")
    types.add_argument("--all", action="store_true",
                       help="every type any loaded backend supports")
    types.set_defaults(func=run_rule_types)


def _value_flags(p: argparse.ArgumentParser, required_type: bool) -> None:
    p.add_argument("--type", type=rule_type_arg, required=required_type,
                   help=f"{', '.join(RULE_TYPES)} (or Neutron's names)")
    for flag in FLAGS:   # parsed per rule type in _values: --max is a rate or a packet rate
        p.add_argument(f"--{flag}", help="; ".join(
            f"{rt.short}: {UNIT_HELP[q.unit]}" for rt in registry.RULE_TYPES.values()
            for q in rt.quantities if q.word == flag))
    p.add_argument("--direction", type=direction_arg,
                   help="the VM's view: in, out, both (two rules); min-pps also any (out)")


def _values(args: argparse.Namespace, rule_type: str, creating: bool) -> dict:
    """Wire fields from the flags, in kbit/kpps; usage errors for misplaced ones."""
    rt = registry.RULE_TYPES[rule_type]
    quantities = {q.word: q for q in rt.quantities}
    body = {}
    for flag in FLAGS:
        value = getattr(args, flag, None)
        if value is None:
            continue
        if flag not in quantities:
            raise UsageError(f"--{flag} does not apply to {rt.short} rules "
                             f"(they take {', '.join('--' + f for f in quantities)})")
        q = quantities[flag]
        try:
            body[q.field] = UNIT_ARGS[q.unit](value)
        except argparse.ArgumentTypeError as exc:
            raise UsageError(f"--{flag}: {exc}") from None
    if creating:
        missing = [q.word for q in rt.quantities if q.field in rt.required
                   and q.field not in body]
        if missing:
            raise UsageError(f"{rt.short} rules need {', '.join('--' + m for m in missing)}")
    return body


def _directions(args: argparse.Namespace, rule_type: str) -> list[str | None]:
    d = args.direction
    rt = registry.RULE_TYPES[rule_type]
    if not rt.directions:
        if d not in (None,):
            raise UsageError(f"{rt.short} rules have no direction (they mark traffic "
                             f"leaving the VM)")
        return [None]
    if d == "any" and "any" not in rt.directions:
        only = [t.short for t in registry.RULE_TYPES.values() if "any" in t.directions]
        raise UsageError(f"direction any is only for {', '.join(only)} rules")
    if d == "both":
        return ["ingress", "egress"]
    return [d]


def rules_path(policy_id: str, rule_type: str) -> str:
    return f"/v2.0/qos/policies/{policy_id}/{rule_type}_rules"


def run_add(args: argparse.Namespace) -> int:
    base = _values(args, args.type, creating=True)     # usage errors before any request
    directions = _directions(args, args.type)
    api = Api.from_args(args)
    policy = api.find("policy", args.policy)
    created = []
    for direction in directions:
        body = dict(base)
        if direction:
            body["direction"] = direction
        rule = api.post(rules_path(policy["id"], args.type),
                        {f"{args.type}_rule": body})[f"{args.type}_rule"]
        created.append({**rule, "type": args.type, "qos_policy_id": policy["id"]})
    emit_list(args, RULE_COLUMNS, created)
    return 0


def run_list(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    policy = api.find("policy", args.policy)
    rules = [r for r in policy["rules"] if not args.type or r["type"] == args.type]
    emit_list(args, RULE_COLUMNS, rules)
    return 0


def select_rules(policy: dict, ids: list[str], rule_type: str | None,
                 direction: str | None) -> list[dict]:
    rules = policy["rules"]
    name = policy.get("name") or policy["id"]
    if ids:
        chosen = []
        for ident in ids:
            match = [r for r in rules if r["id"] == ident or r["id"].startswith(ident.lower())]
            if not match:
                raise UsageError(f"policy {name} has no rule {ident!r}; its rules:\n"
                                 + _listing(rules))
            if len(match) > 1:
                raise UsageError(f"{ident!r} matches several rules of {name}:\n"
                                 + _listing(match))
            chosen.append(match[0])
        return chosen
    if not rule_type:
        raise UsageError("say which rule: its id, or --type [--direction]")
    wanted = {"both": ("ingress", "egress"), None: None}.get(direction, (direction,))
    chosen = [r for r in rules if r["type"] == rule_type
              and (wanted is None or r.get("direction") in wanted)]
    if not chosen:
        raise UsageError(f"policy {name} has no {SHORT_TYPE[rule_type]} rule"
                         f"{' ' + direction if direction else ''}; its rules:\n"
                         + _listing(rules))
    return chosen


def _listing(rules: list[dict]) -> str:
    return "\n".join(f"  {r['id']}  {describe_rule(r)}" for r in rules) or "  (none)"


def run_set(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    policy = api.find("policy", args.policy)
    if args.rule:
        if args.direction and args.new_direction:
            raise UsageError("with a rule id, give --direction or --new-direction, not both")
        targets = select_rules(policy, [args.rule], None, None)
        new_direction = args.new_direction or args.direction
    else:
        targets = select_rules(policy, [], args.type, args.direction)
        new_direction = args.new_direction
    updated = []
    for rule in targets:
        if args.type and rule["type"] != args.type:
            raise UsageError(f"rule {rule['id']} is a {SHORT_TYPE[rule['type']]} rule, "
                             f"not {SHORT_TYPE[args.type]}")
        body = _values(args, rule["type"], creating=False)
        if new_direction:
            if not registry.RULE_TYPES[rule["type"]].directions:
                raise UsageError(f"{SHORT_TYPE[rule['type']]} rules have no direction")
            body["direction"] = new_direction
        if not body:
            raise UsageError(f"nothing to change: give {', '.join('--' + f for f in FLAGS)} "
                             f"or a direction")
        done = api.put(f"{rules_path(policy['id'], rule['type'])}/{rule['id']}",
                       {f"{rule['type']}_rule": body})[f"{rule['type']}_rule"]
        updated.append({**done, "type": rule["type"], "qos_policy_id": policy["id"]})
    emit_list(args, RULE_COLUMNS, updated)
    return 0


def run_delete(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    policy = api.find("policy", args.policy)
    targets = select_rules(policy, args.rule, args.type, args.direction)
    for rule in targets:
        api.delete(f"{rules_path(policy['id'], rule['type'])}/{rule['id']}")
        print(f"deleted {describe_rule(rule)} ({rule['id']})")
    return 0


def run_rule_types(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    if args.type:
        detail = api.get(f"/v2.0/qos/rule-types/{args.type}")["rule_type"]
        rows = [{"driver": d["name"], "parameter": p["parameter_name"],
                 "kind": p["parameter_type"], "values": p["parameter_values"]}
                for d in detail.get("drivers", []) for p in d.get("supported_parameters", [])]
        emit_list(args, (Column("Driver", "driver"), Column("Parameter", "parameter"),
                         Column("Kind", "kind"), Column("Values", "values", _values_text)),
                  rows)
        return 0
    params = {"all_supported": "true"} if args.all else None
    emit_list(args, RULE_TYPE_COLUMNS, api.get("/v2.0/qos/rule-types", params)["rule_types"])
    return 0


def _values_text(values) -> str:
    if isinstance(values, dict) and "start" in values:
        return f"{values['start']}..{values['end']}"
    if isinstance(values, list):
        return ", ".join(map(str, values))
    return str(values)

