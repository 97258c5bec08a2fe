"""`netqos policy create|list|show|set|delete`."""
from __future__ import annotations

import argparse
import sys

from netqos.cli.client import Api, CannotConnect, CliError
from netqos.cli.common import leaf, rules_text
from netqos.cli.output import Column, emit_list, emit_one

LIST_COLUMNS = (
    Column("ID", "id"),
    Column("Name", "name"),
    Column("Shared", "shared"),
    Column("Default", "is_default"),
    Column("Project", "project_id"),
    Column("Rules", "rules", rules_text),
)
SHOW_COLUMNS = (
    Column("ID", "id"),
    Column("Name", "name"),
    Column("Description", "description"),
    Column("Project", "project_id"),
    Column("Shared", "shared"),
    Column("Default", "is_default"),
    Column("Rules", "rules", rules_text),
    Column("Used by", "used_by", lambda u: ", ".join(f"{n} {k}" for k, n in (u or {}).items()
                                                     if n) or "nothing"),
    Column("Tags", "tags"),
    Column("Revision", "revision_number"),
    Column("Created", "created_at"),
    Column("Updated", "updated_at"),
)


def register(sub) -> None:
    policy = sub.add_parser("policy", help="QoS policies (create, list, show, set, delete)")
    psub = policy.add_subparsers(dest="policy_command", required=True, metavar="ACTION")

    create = leaf(psub, "create", "create a QoS policy")
    create.add_argument("name")
    _attr_flags(create)
    create.add_argument("--project", help="owner project (admin only)")
    create.set_defaults(func=run_create)

    ls = leaf(psub, "list", "list QoS policies")
    ls.add_argument("--shared", action="store_true", default=None, help="only shared ones")
    ls.add_argument("--project", help="only this project's")
    ls.set_defaults(func=run_list)

    show = leaf(psub, "show", "show one QoS policy, its rules and what uses it")
    show.add_argument("policy", help="name or id")
    show.set_defaults(func=run_show)

    st = leaf(psub, "set", "change a QoS policy's attributes")
    st.add_argument("policy", help="name or id")
    st.add_argument("--name", help="new name")
    _attr_flags(st)
    st.set_defaults(func=run_set)

    rm = leaf(psub, "delete", "delete QoS policies (refused while something uses them)",
              output=False)
    rm.add_argument("policies", nargs="+", metavar="POLICY", help="names or ids")
    rm.set_defaults(func=run_delete)


def _attr_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--description")
    share = p.add_mutually_exclusive_group()
    share.add_argument("--share", "--shared", dest="shared", action="store_true", default=None,
                       help="visible to every project")
    share.add_argument("--no-share", "--no-shared", dest="shared", action="store_false")
    default = p.add_mutually_exclusive_group()
    default.add_argument("--default", dest="is_default", action="store_true", default=None,
                         help="the project's default (new networks get it)")
    default.add_argument("--no-default", dest="is_default", action="store_false")


def _body(args: argparse.Namespace) -> dict:
    body = {}
    for key in ("name", "description", "shared", "is_default"):
        value = getattr(args, key, None)
        if value is not None:
            body[key] = value
    return body


def run_create(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    body = _body(args)
    if args.project:
        body["project_id"] = args.project
    policy = api.post("/v2.0/qos/policies", {"policy": body})["policy"]
    emit_one(args, SHOW_COLUMNS[:7] + SHOW_COLUMNS[9:], policy)
    return 0


def run_list(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    params = {}
    if args.shared:
        params["shared"] = "true"
    if args.project:
        params["project_id"] = args.project
    policies = api.get("/v2.0/qos/policies", params)["policies"]
    emit_list(args, LIST_COLUMNS, sorted(policies, key=lambda p: (p["name"], p["id"])))
    return 0


def used_by(api: Api, policy_id: str) -> dict[str, int]:
    """How many ports, networks, floating IPs, router gateways name the policy."""
    counts = {}
    for kind, path in (("ports", "/v2.0/ports"), ("networks", "/v2.0/networks"),
                       ("floating IPs", "/v2.0/floatingips")):
        rows = api.get(path, {"qos_policy_id": policy_id, "fields": "id"})
        counts[kind] = len(next(iter(rows.values())))
    routers = api.get("/v2.0/routers", {"fields": ["id", "external_gateway_info"]})["routers"]
    counts["router gateways"] = sum(1 for r in routers if (r.get("external_gateway_info") or {})
                                    .get("qos_policy_id") == policy_id)
    return counts


def run_show(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    policy = api.find("policy", args.policy)
    policy["used_by"] = used_by(api, policy["id"])
    emit_one(args, SHOW_COLUMNS, policy)
    return 0


def run_set(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    body = _body(args)
    if not body:
        from netqos.cli.client import UsageError
        raise UsageError("nothing to change: give --name, --description, --share/--no-share "
                         "or --default/--no-default")
    policy = api.find("policy", args.policy)
    policy = api.put(f"/v2.0/qos/policies/{policy['id']}", {"policy": body})["policy"]
    emit_one(args, SHOW_COLUMNS[:7] + SHOW_COLUMNS[9:], policy)
    return 0


def run_delete(args: argparse.Namespace) -> int:
    """Deletes each; one refusal does not stop the others, but makes the exit code 1."""
    api = Api.from_args(args)
    failed = 0
    for ident in args.policies:
        try:
            policy = api.find("policy", ident)
            api.delete(f"/v2.0/qos/policies/{policy['id']}")
            print(f"deleted policy {policy['name'] or '-'} ({policy['id']})")
        except CannotConnect:
            raise
        except CliError as exc:
            if len(args.policies) == 1:
                raise
            failed += 1
            print(f"netqos: cannot delete {ident}: {exc}", file=sys.stderr)
    return 1 if failed else 0
