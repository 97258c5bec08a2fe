"""`netqos vm limit|show`: QoS of a libvirt domain's NICs, by domain name, on this host.

    netqos vm limit web1 --max 10mbit                       # its only NIC, both directions
    netqos vm limit web1 --nic 1 --max 50mbit --direction in
    netqos vm limit web1 --mac 52:54:00:12:34:56 --max 1gbit --burst 10mbit
    netqos vm show web1                                     # NICs, ports, policies, rates

The NIC's port is found through the API: the port bound to this host (--host, env
NETQOS_HOST, else the host name) whose MAC is the NIC's (or that the domain's netqos
metadata names, or whose tap the NIC is). `limit` binds the port to the domain's own
policy `vm-<domain>` (`vm-<domain>-<mac>` for a domain with several NICs), creating it if
needed; a policy the port had before is left alone, its other rules copied over. The agent
applies it; nothing on the host is changed by this command.

`show` reads the domain from libvirt (read-only), the ports and policies from the API, and
the limits the kernel enforces now (tc on the tap and the IFB), plus the traffic rate of
each tap over --sample seconds. Directions are the VM's: in = into the VM.
"""
from __future__ import annotations

import argparse
import os
import socket
import time
from pathlib import Path

from netqos.cli.client import Api, CliError, NotFound, UsageError
from netqos.cli.common import burst_arg, leaf, rate_arg, rules_text
from netqos.cli.output import Column, emit_list
from netqos.cli.units import format_rate, human_bps

DIRECTIONS = {"in": ("ingress",), "out": ("egress",), "both": ("ingress", "egress"),
              "ingress": ("ingress",), "egress": ("egress",)}


def register(sub) -> None:
    vm = sub.add_parser("vm", help="QoS of libvirt domains' NICs on this host (limit, show)")
    vsub = vm.add_subparsers(dest="vm_command", required=True, metavar="ACTION")

    lim = leaf(vsub, "limit", "limit a domain's NIC: binds its port to the domain's policy",
               output=False)
    lim.add_argument("domain", help="libvirt domain name or UUID")
    which = lim.add_mutually_exclusive_group()
    which.add_argument("--nic", help="NIC index (0, 1, … in the domain XML) or its tap name")
    which.add_argument("--mac", help="the NIC's MAC address")
    lim.add_argument("--max", required=True, type=rate_arg, help="the limit, e.g. 10mbit")
    lim.add_argument("--burst", type=burst_arg, default=0, help="burst, e.g. 1mbit (0)")
    lim.add_argument("--direction", choices=["in", "out", "both"], default="both",
                     help="in (to the VM), out (from the VM) or both (both)")
    _host_flags(lim)
    lim.set_defaults(func=run_limit)

    show = leaf(vsub, "show", "a domain's NICs, their ports, policies and live rates")
    show.add_argument("domain", help="libvirt domain name or UUID")
    show.add_argument("--sample", type=float, default=1.0,
                      help="seconds to measure each tap's traffic over (1; 0: don't)")
    _host_flags(show)
    show.set_defaults(func=run_show)


def _host_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default=os.environ.get("NETQOS_HOST", socket.gethostname()),
                   help="this host's name, as ports' binding:host_id names it")
    p.add_argument("--libvirt-uri", default=os.environ.get("LIBVIRT_DEFAULT_URI",
                                                           "qemu:///system"),
                   help="libvirt URI (qemu:///system)")


# ---- libvirt ---------------------------------------------------------------------------

def domain_nics(uri: str, name: str):
    """(domain name, its NICs, running?) from libvirt, read-only."""
    try:
        import libvirt
    except ImportError:
        raise CliError("netqos vm needs libvirt-python: pip install 'netqos[libvirt]'") from None
    from netqos.agent.libvirt.domains import parse_domain

    libvirt.registerErrorHandler(lambda *_: None, None)   # no libvirt noise on stderr
    try:
        conn = libvirt.openReadOnly(uri)
    except libvirt.libvirtError as exc:
        raise CliError(f"cannot connect to libvirt at {uri}: {exc}") from None
    try:
        try:
            dom = conn.lookupByName(name)
        except libvirt.libvirtError:
            try:
                dom = conn.lookupByUUIDString(name)
            except libvirt.libvirtError:
                raise NotFound(f"no libvirt domain named or with UUID {name!r} at {uri}"
                               ) from None
        running = bool(dom.isActive())
        return dom.name(), parse_domain(dom.XMLDesc(0)), running
    finally:
        conn.close()


def pick_nic(nics, nic: str | None, mac: str | None):
    if mac:
        found = [n for n in nics if n.mac == mac.lower()]
        if not found:
            raise NotFound(f"the domain has no NIC with MAC {mac}; it has "
                           f"{', '.join(n.mac for n in nics) or 'none'}")
        return found[0]
    if nic is not None:
        found = [n for n in nics if str(n.index) == nic or n.tap == nic]
        if not found:
            raise NotFound(f"the domain has no NIC {nic!r} (index or tap); it has "
                           f"{', '.join(f'{n.index} ({n.tap or n.mac})' for n in nics)}")
        return found[0]
    if len(nics) != 1:
        raise UsageError(f"the domain has {len(nics)} NICs: name one with --nic or --mac")
    return nics[0]


# ---- the API ---------------------------------------------------------------------------

def port_of(api: Api, nic, host: str) -> dict | None:
    """The port of this host behind the NIC: by metadata, tap name, then MAC."""
    if nic.port_id:
        try:
            return api.get(f"/v2.0/ports/{nic.port_id}")["port"]
        except CliError:
            pass
    mine = [p for p in api.get("/v2.0/ports", {"mac_address": nic.mac})["ports"]
            if p.get("binding:host_id") == host]
    if nic.tap and nic.tap.startswith("tap"):
        named = [p for p in api.get("/v2.0/ports", {"binding:host_id": host})["ports"]
                 if p["id"].startswith(nic.tap[3:])]
        if len(named) == 1:
            return named[0]
    if len(mine) > 1:
        raise CliError(f"{len(mine)} ports on host {host} have MAC {nic.mac}: "
                       f"{', '.join(p['id'] for p in mine)}")
    return mine[0] if mine else None


def vm_policy_name(domain: str, nic, nics) -> str:
    return f"vm-{domain}" if len(nics) == 1 else f"vm-{domain}-{nic.mac.replace(':', '')}"


def _rule_body(rule: dict) -> dict:
    return {k: v for k, v in rule.items() if k not in ("id", "type", "tenant_id", "project_id")}


def run_limit(args: argparse.Namespace) -> int:
    domain, nics, _ = domain_nics(args.libvirt_uri, args.domain)
    nic = pick_nic(nics, args.nic, args.mac)
    api = Api.from_args(args)
    port = port_of(api, nic, args.host)
    if port is None:
        raise NotFound(f"no port on host {args.host} for {domain} NIC {nic.index} "
                       f"(MAC {nic.mac}); is the port bound (binding:host_id)?")
    name = vm_policy_name(domain, nic, nics)
    directions = DIRECTIONS[args.direction]
    current = (api.get(f"/v2.0/qos/policies/{port['qos_policy_id']}")["policy"]
               if port.get("qos_policy_id") else None)
    if current is not None and current["name"] == name:
        policy = current
    else:
        existing = api.get("/v2.0/qos/policies", {"name": name})["policies"]
        policy = existing[0] if existing else api.post("/v2.0/qos/policies", {"policy": {
            "name": name, "description": f"netqos vm limit: domain {domain}, NIC {nic.mac}"}}
        )["policy"]
        if current is not None and not existing:   # keep what the old policy also did
            for rule in current.get("rules", []):
                if rule["type"] == "bandwidth_limit" and rule.get("direction") in directions:
                    continue
                api.post(f"/v2.0/qos/policies/{policy['id']}/{rule['type']}_rules",
                         {f"{rule['type']}_rule": _rule_body(rule)})
        policy = api.get(f"/v2.0/qos/policies/{policy['id']}")["policy"]
    for direction in directions:
        body = {"max_kbps": args.max, "max_burst_kbps": args.burst}
        rule = next((r for r in policy.get("rules", []) if r["type"] == "bandwidth_limit"
                     and r.get("direction") == direction), None)
        if rule is None:
            api.post(f"/v2.0/qos/policies/{policy['id']}/bandwidth_limit_rules",
                     {"bandwidth_limit_rule": {**body, "direction": direction}})
        else:
            api.put(f"/v2.0/qos/policies/{policy['id']}/bandwidth_limit_rules/{rule['id']}",
                    {"bandwidth_limit_rule": body})
    if port.get("qos_policy_id") != policy["id"]:
        api.put(f"/v2.0/ports/{port['id']}", {"port": {"qos_policy_id": policy["id"]}})
    what = " and ".join({"ingress": "in", "egress": "out"}[d] for d in directions)
    print(f"{domain} NIC {nic.index} ({nic.mac}{', ' + nic.tap if nic.tap else ''}): port "
          f"{port['id']} -> policy {name}: {format_rate(args.max)} {what}")
    return 0


# ---- show ------------------------------------------------------------------------------

def enforced(nics) -> dict[str, tuple[int | None, int | None]]:
    """tap -> (kbit/s into the VM, kbit/s out of it) as the kernel enforces them now."""
    taps = [n for n in nics if n.tap]
    if not taps:
        return {}
    from netqos.agent.backends.tc import TcBackend
    try:
        state = TcBackend().observe()
    except Exception:   # not root, or no tc: show what the API says only
        return {}
    out = {}
    for n in taps:
        tbf = state.root_tbf.get(n.tap)
        cls = state.egress_class(n.tap)
        out[n.tap] = (tbf.rate_bytes_per_s * 8 // 1000 if tbf else None,
                      cls.rate_bytes_per_s * 8 // 1000 if cls and n.tap in state.redirected
                      else None)
    return out


def _counters(tap: str) -> tuple[int, int] | None:
    base = Path("/sys/class/net") / tap / "statistics"
    try:
        return int((base / "tx_bytes").read_text()), int((base / "rx_bytes").read_text())
    except OSError:
        return None


def live_rates(nics, seconds: float) -> dict[str, tuple[float, float]]:
    """tap -> (bit/s into the VM (tap tx), bit/s out of it (tap rx)) over `seconds`."""
    if seconds <= 0:
        return {}
    before = {n.tap: _counters(n.tap) for n in nics if n.tap}
    t0 = time.monotonic()
    time.sleep(seconds)
    span = time.monotonic() - t0
    out = {}
    for tap, b in before.items():
        a = _counters(tap)
        if a and b:
            out[tap] = ((a[0] - b[0]) * 8 / span, (a[1] - b[1]) * 8 / span)
    return out


SHOW_COLUMNS = (
    Column("NIC", "nic"),
    Column("Tap", "tap"),
    Column("MAC", "mac"),
    Column("Port", "port"),
    Column("Policy", "policy"),
    Column("Rules", "rules", lambda r: rules_text(r or [])),
    Column("Enforced in", "enforced_in_kbps", lambda v: format_rate(v) if v else "-"),
    Column("Enforced out", "enforced_out_kbps", lambda v: format_rate(v) if v else "-"),
    Column("Rate in", "rate_in_bps", lambda v: human_bps(v) if v is not None else ""),
    Column("Rate out", "rate_out_bps", lambda v: human_bps(v) if v is not None else ""),
)


def run_show(args: argparse.Namespace) -> int:
    domain, nics, running = domain_nics(args.libvirt_uri, args.domain)
    api = Api.from_args(args)
    limits = enforced(nics) if running else {}
    rates = live_rates(nics, args.sample) if running else {}
    rows = []
    for nic in nics:
        port = port_of(api, nic, args.host)
        policy = None
        if port and (port.get("qos_policy_id") or port.get("qos_network_policy_id")):
            pid = port.get("qos_policy_id") or port.get("qos_network_policy_id")
            policy = api.get(f"/v2.0/qos/policies/{pid}")["policy"]
        lim = limits.get(nic.tap, (None, None))
        rate = rates.get(nic.tap)
        rows.append({"domain": domain, "nic": nic.index, "tap": nic.tap, "mac": nic.mac,
                     "source": nic.source, "port": port["id"] if port else None,
                     "policy": policy["name"] if policy else None,
                     "policy_id": policy["id"] if policy else None,
                     "rules": policy["rules"] if policy else [],
                     "enforced_in_kbps": lim[0], "enforced_out_kbps": lim[1],
                     "rate_in_bps": rate[0] if rate else None,
                     "rate_out_bps": rate[1] if rate else None})
    emit_list(args, SHOW_COLUMNS, rows)
    return 0
