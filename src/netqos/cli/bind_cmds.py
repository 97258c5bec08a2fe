"""Bindings: `netqos port|network|fip|router set --policy P` / `unset`, and port listings.

    netqos port set vm1 vm2 --policy gold
    netqos port set --policy gold --all-on-network tenant-net --progress
    netqos network set tenant-net --policy silver
    netqos fip set 203.0.113.10 --policy gold
    netqos router set r1 --policy gold        # the gateway's qos_policy_id
    netqos port unset vm1                     # back to the network's policy
"""
from __future__ import annotations

import argparse
import sys
from concurrent.futures import ThreadPoolExecutor

from netqos.cli.client import Api, CannotConnect, CliError, UsageError
from netqos.cli.common import leaf
from netqos.cli.output import Column, Progress, add_progress_flag, emit_list, emit_one

PARALLEL = 8   # bulk updates in flight at once
NOUNS = {"port": "port", "network": "network", "floatingip": "floating IP",
         "router": "router gateway"}


def register(sub) -> None:
    for kind, noun, help_name in (("port", "port", "ports"),
                                  ("network", "network", "networks"),
                                  ("fip", "floatingip", "floating IPs (by id or address)"),
                                  ("router", "router", "routers' external gateways")):
        group = sub.add_parser(kind, help=f"QoS of {help_name}",
                               aliases=["floatingip"] if kind == "fip" else [])
        gsub = group.add_subparsers(dest=f"{kind}_command", required=True, metavar="ACTION")

        st = leaf(gsub, "set", f"bind a QoS policy to {help_name}")
        st.add_argument("targets", nargs="*", metavar=kind.upper(), help="names or ids")
        st.add_argument("--policy", "--qos-policy", required=True, help="policy name or id")
        _bulk_flags(st, kind)
        st.set_defaults(func=run_set, kind=noun, policy_unset=False)

        un = leaf(gsub, "unset", f"detach the QoS policy of {help_name}")
        un.add_argument("targets", nargs="*", metavar=kind.upper(), help="names or ids")
        un.add_argument("--policy", "--qos-policy", dest="unset_flag", action="store_true",
                        help="(accepted for openstackclient habits; unset always means the "
                             "policy)")
        _bulk_flags(un, kind)
        un.set_defaults(func=run_set, kind=noun, policy=None, policy_unset=True)

        if kind in ("port", "network"):
            ls = leaf(gsub, "list", f"{help_name} with their QoS")
            if kind == "port":
                ls.add_argument("--network", help="only ports of this network")
                ls.add_argument("--host", help="only ports bound to this host")
            ls.add_argument("--policy", help="only those bound to this policy")
            ls.set_defaults(func=run_list, kind=noun)
            show = leaf(gsub, "show", f"one of the {help_name} with its QoS")
            show.add_argument("target", metavar=kind.upper())
            show.set_defaults(func=run_show, kind=noun)


def _bulk_flags(p: argparse.ArgumentParser, kind: str) -> None:
    if kind == "port":
        p.add_argument("--all-on-network", metavar="NETWORK",
                       help="every port of this network (as well as those named)")
        p.add_argument("--all-on-host", metavar="HOST",
                       help="every port bound to this host (as well as those named)")
    add_progress_flag(p)


# --- resolving targets ---------------------------------------------------------------------

def _targets(api: Api, args: argparse.Namespace) -> list[dict]:
    found: dict[str, dict] = {}
    for ident in args.targets:
        obj = api.find(args.kind, ident)
        found[obj["id"]] = obj
    net = getattr(args, "all_on_network", None)
    host = getattr(args, "all_on_host", None)
    if net:
        network = api.find("network", net)
        for p in api.get("/v2.0/ports", {"network_id": network["id"]})["ports"]:
            found.setdefault(p["id"], p)
    if host:
        for p in api.get("/v2.0/ports", {"binding:host_id": host})["ports"]:
            found.setdefault(p["id"], p)
    if not found:
        if net or host:
            raise CliError(f"no ports on {'network ' + net if net else 'host ' + host}")
        raise UsageError(f"name at least one {args.kind}"
                         + (" (or --all-on-network / --all-on-host)"
                            if args.kind == "port" else ""))
    return list(found.values())


def _label(obj: dict) -> str:
    name = obj.get("name") or obj.get("floating_ip_address") or ""
    return f"{name} ({obj['id']})" if name else obj["id"]


# --- set / unset ---------------------------------------------------------------------------

def _update(api: Api, kind: str, obj: dict, policy_id: str | None) -> dict:
    if kind == "router":
        gateway = obj.get("external_gateway_info")
        if not gateway:
            raise CliError(f"router {_label(obj)} has no external gateway to put a QoS "
                           f"policy on")
        body = {"external_gateway_info": {"network_id": gateway["network_id"],
                                          "qos_policy_id": policy_id}}
        return api.put(f"/v2.0/routers/{obj['id']}", {"router": body})["router"]
    path = {"port": "ports", "network": "networks", "floatingip": "floatingips"}[kind]
    return api.put(f"/v2.0/{path}/{obj['id']}", {kind: {"qos_policy_id": policy_id}})[kind]


def run_set(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    policy = None if args.policy_unset else api.find("policy", args.policy)
    policy_id = policy["id"] if policy else None
    targets = _targets(api, args)
    verb = f"policy {policy['name'] or policy['id']}" if policy else "no policy"
    noun = NOUNS[args.kind]
    progress = Progress.for_args(args, len(targets), f"{noun}s -> {verb}")
    errors: list[tuple[dict, CliError]] = []

    def one(obj: dict):
        try:
            return _update(api, args.kind, obj, policy_id), None
        except CannotConnect:
            raise
        except CliError as exc:
            return obj, exc

    results = []
    try:
        if len(targets) == 1:
            results.append(one(targets[0]))
            progress.step()
        else:
            with ThreadPoolExecutor(PARALLEL) as pool:
                for res in pool.map(one, targets):
                    results.append(res)
                    progress.step()
    finally:
        progress.close()
    for obj, err in results:
        if err is not None:
            errors.append((obj, err))
    done = [obj for obj, err in results if err is None]
    if len(targets) == 1 and errors:
        raise errors[0][1]
    for obj, err in errors:
        print(f"netqos: {noun} {_label(obj)}: {err}", file=sys.stderr)
    if getattr(args, "format", "table") == "table":
        what = f"bound {verb} to" if policy else "detached the policy of"
        print(f"{what} {len(done)} {noun}{'s' if len(done) != 1 else ''}"
              + (f"; {len(errors)} failed" if errors else ""))
        if len(done) <= 20:
            for obj in done:
                print(f"  {_label(obj)}")
    else:
        emit_list(args, (Column("ID", "id"), Column("Name", "name"),
                         Column("Policy", "qos_policy_id")), [_flat(o) for o in done])
    return 1 if errors else 0


def _flat(obj: dict) -> dict:
    if "external_gateway_info" in obj:
        return {**obj, "qos_policy_id": (obj.get("external_gateway_info") or {})
                .get("qos_policy_id")}
    return obj


# --- list / show ---------------------------------------------------------------------------

def policy_names(api: Api) -> dict[str, str]:
    rows = api.get("/v2.0/qos/policies", {"fields": ["id", "name"]})["policies"]
    return {r["id"]: r["name"] or r["id"][:8] for r in rows}


def _port_row(port: dict, names: dict[str, str]) -> dict:
    state = port.get("netqos:qos_state") or {}
    own, net = port.get("qos_policy_id"), port.get("qos_network_policy_id")
    effective = own or (net if not (port.get("device_owner") or "").startswith(
        ("network:", "neutron:")) or port.get("device_owner") in (
        "network:router_gateway", "network:floatingip_agent_gateway") else None)
    return {**port, "effective_policy_id": effective,
            "policy": names.get(effective, effective or "") + (
                " (network)" if effective and not own else ""),
            "revision": f"{_or_dash(state.get('applied_revision'))}"
                        f"/{state.get('desired_revision', '-')}",
            "qos_status": state.get("status"),
            "drift": len(state.get("drift_repaired") or [])}


PORT_COLUMNS = (
    Column("ID", "id"),
    Column("Name", "name"),
    Column("Host", "binding:host_id"),
    Column("Policy", "policy"),
    Column("Status", "status"),
    Column("Applied/Desired", "revision"),
)
PORT_SHOW = (
    Column("ID", "id"), Column("Name", "name"), Column("Network", "network_id"),
    Column("Host", "binding:host_id"), Column("MAC", "mac_address"),
    Column("Own policy", "qos_policy_id"), Column("Network policy", "qos_network_policy_id"),
    Column("Effective policy", "policy"), Column("Status", "status"),
    Column("Applied/Desired", "revision"),
    Column("Reason", "reason", row_fmt=lambda r: (r.get("netqos:qos_state") or {})
           .get("reason") or ""),
    Column("Drift repaired", "drift_repaired", row_fmt=lambda r: "\n".join(
        (r.get("netqos:qos_state") or {}).get("drift_repaired") or [])),
    Column("Drift repaired at", "drift_repaired_at", row_fmt=lambda r: (
        r.get("netqos:qos_state") or {}).get("drift_repaired_at") or ""),
)
NETWORK_COLUMNS = (Column("ID", "id"), Column("Name", "name"), Column("Policy", "policy"),
                   Column("Project", "project_id"))


def run_list(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    names = policy_names(api)
    params: dict = {}
    if args.policy:
        params["qos_policy_id"] = api.find("policy", args.policy)["id"]
    if args.kind == "port":
        if args.network:
            params["network_id"] = api.find("network", args.network)["id"]
        if args.host:
            params["binding:host_id"] = args.host
        rows = [_port_row(p, names) for p in api.get("/v2.0/ports", params)["ports"]]
        emit_list(args, PORT_COLUMNS, rows)
    else:
        rows = [{**n, "policy": names.get(n["qos_policy_id"], n["qos_policy_id"] or "")}
                for n in api.get("/v2.0/networks", params)["networks"]]
        emit_list(args, NETWORK_COLUMNS, rows)
    return 0


def run_show(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    obj = api.find(args.kind, args.target)
    names = policy_names(api)
    if args.kind == "port":
        emit_one(args, PORT_SHOW, _port_row(obj, names))
    else:
        emit_one(args, NETWORK_COLUMNS, {**obj, "policy": names.get(obj["qos_policy_id"],
                                                                   obj["qos_policy_id"] or "")})
    return 0


def _or_dash(value) -> str:
    return "-" if value is None else str(value)
