"""`netqos status`: what a host enforces, port by port, read back from the kernel.

Runs on the host, as root (like `netqos plan`): the server says what each port should have
(its effective policy, the revision the agent applied, drift it repaired); the agent's
backend reads what the kernel holds (observe) and what a pass would still change (plan);
the devices' counters, sampled over --interval seconds, give the live rate beside the
limit. Without root (or with --no-kernel) it shows the server's side only.
"""
from __future__ import annotations

import argparse
import socket

from netqos.cli.agent_cmds import backend_flags
from netqos.cli.client import Api, UsageError
from netqos.cli.common import SHORT_DIRECTION, leaf, rules_text
from netqos.cli.output import emit_data, table
from netqos.cli.units import format_dscp, human_bps, human_bytes, human_pps


def register(sub) -> None:
    st = leaf(sub, "status", "per port on a host: effective policy, rules as enforced by the "
                             "kernel, applied vs desired revision, drift, live rate vs limit")
    st.add_argument("ports", nargs="*", metavar="PORT", help="only these ports (names or ids)")
    st.add_argument("--host", default=None,
                    help="the host (binding:host_id; env NETQOS_HOST, else this machine's name)")
    backend_flags(st)   # the agent's own: status finds what the agent would find
    st.add_argument("--interval", type=float, default=1.0,
                    help="seconds to sample the live rate over (1; 0 = no live rate)")
    st.add_argument("--no-kernel", action="store_true",
                    help="the server's view only (no root needed)")
    st.set_defaults(func=run_status)


def run_status(args: argparse.Namespace) -> int:
    import os

    from netqos import trust
    from netqos.wire import PortQos

    host = args.host or os.environ.get("NETQOS_HOST") or socket.gethostname()
    api = Api.from_args(args)
    doc = api.get(f"/v2.0/netqos/hosts/{host}/ports")
    # as the agent does: a port it would refuse is not read from the kernel either
    desired, _ = trust.decode_all(doc["ports"], PortQos.from_wire, "port_id", "ports")
    if args.ports:
        wanted = set()
        for ident in args.ports:
            port = api.find("port", ident)
            if port["id"] not in {p.port_id for p in desired}:
                raise UsageError(f"port {ident} is bound to host "
                                 f"{port.get('binding:host_id') or '(none)'}, not {host}")
            wanted.add(port["id"])
        desired = [p for p in desired if p.port_id in wanted]
    views = {p["id"]: p for p in api.get("/v2.0/ports", {"binding:host_id": host})["ports"]}
    names = {r["id"]: r["name"] for r in
             api.get("/v2.0/qos/policies", {"fields": ["id", "name"]})["policies"]}

    agents = [] if args.no_kernel else api.get("/v2.0/agents")["agents"]
    kernel = None if args.no_kernel else read_kernel(args, desired, agents, host)
    ports = [port_status(p, views.get(p.port_id, {}), names, kernel) for p in desired]
    data = {"host": host, "revision": doc["revision"], "netns": args.netns,
            "sampled_seconds": kernel["seconds"] if kernel else None,
            "kernel_error": kernel["error"] if kernel else "not read (--no-kernel)",
            "ports": ports}
    emit_data(args, data, lambda: human(data))
    return 0


# --- the kernel side -------------------------------------------------------------------------

def read_kernel(args: argparse.Namespace, desired: list, agents: list[dict], host: str
                ) -> dict:
    """{"here": {port_id: PortQos with device}, "enforced": {port_id: dict},
    "pending": {port_id: [str]}, "live": {device: rates}, "seconds", "error"}.
    Reads only: the backend is never prepared and takes the agent's reported
    capabilities instead of probing (a probe creates throw-away devices)."""
    from netqos.agent.metrics import sample_rates
    from netqos.agent.backends.base import PortBackend
    from netqos.cli.agent_cmds import make_backend, capabilities_of

    out = {"here": {}, "enforced": {}, "pending": {}, "live": {}, "seconds": None,
           "error": None}
    try:
        backend = make_backend(args)
        if not isinstance(backend, PortBackend):
            out["error"] = (f"the {args.backend} backend enforces routers, not ports "
                            f"(see `netqos plan --backend {args.backend}`)")
            return out
        backend.use_reported(capabilities_of(agents, host, backend))
        # The backend's own discovery: libvirt domains' taps, OVS interfaces by iface-id;
        # only the ports it owns (by vnic type): another backend's are not its to read.
        here, _missing = backend.locate([p for p in desired if backend.owns(p)])
        out["here"] = {p.port_id: p for p in here}
        state = backend.observe(here)
        out["enforced"] = backend.enforced(here, state)
        try:
            for change in backend.plan(here, state):
                out["pending"].setdefault(change.port_id, []).append(str(change).strip())
        except Exception as exc:   # the plan is a bonus; the readings stand without it
            out["plan_error"] = str(exc)
        if args.interval > 0 and here:
            out["live"] = sample_rates(args.netns, [p.device for p in here], args.interval)
            out["seconds"] = args.interval
    except PermissionError as exc:
        out["error"] = f"cannot read the kernel state (run as root): {exc}"
    except Exception as exc:
        out["error"] = f"cannot read the kernel state: {exc}"
    return out


# --- one port --------------------------------------------------------------------------------

def port_status(port, view: dict, names: dict, kernel: dict | None) -> dict:
    from netqos.agent.metrics import limits

    state = view.get("netqos:qos_state") or {}
    here = (kernel or {}).get("here", {}).get(port.port_id)
    device = here.device if here else None
    live = (kernel or {}).get("live", {}).get(device) if device else None
    lim = limits(port.rules)
    usage = {}
    for direction, rate in (live or {}).items():
        if lim.get(direction, {}).get("bps"):
            usage[direction] = round(rate["bps"] / lim[direction]["bps"], 3)
    return {
        "port_id": port.port_id, "name": view.get("name", ""), "device": device,
        "present": here is not None if kernel and not kernel.get("error") else None,
        "policy_id": port.policy_id, "policy_name": names.get(port.policy_id),
        "policy_from": ("port" if view.get("qos_policy_id") else "network")
        if port.policy_id else None,
        "status": view.get("status"), "qos_status": state.get("status"),
        "reason": state.get("reason") or "",
        "desired_revision": port.revision, "applied_revision": state.get("applied_revision"),
        "drift_repaired": state.get("drift_repaired") or [],
        "drift_repaired_at": state.get("drift_repaired_at"),
        "rules": [r.to_wire() for r in port.rules],
        "enforced": (kernel or {}).get("enforced", {}).get(port.port_id),
        "in_sync": (port.port_id not in kernel["pending"]) if here is not None
        and kernel and not kernel.get("error") and "plan_error" not in kernel else None,
        "pending": (kernel or {}).get("pending", {}).get(port.port_id, []),
        "limit": lim, "live": live, "usage": usage,
    }


# --- for people ------------------------------------------------------------------------------

def _enforced_text(p: dict) -> str:
    e = p["enforced"]
    if p["present"] is False:
        return "(no device on this host)"
    if e is None:
        return ""
    lines = []
    for direction in ("ingress", "egress"):
        s = e.get(direction)
        if s:
            extra = "" if s.get("redirected", True) else " (not redirected!)"
            lines.append(f"{SHORT_DIRECTION[direction]:<3} {human_bps(s['rate_kbps'] * 1000)}"
                         f" burst {human_bytes(s['burst_bytes'])}{extra}")
    for direction, lim in (e.get("packet_rate") or {}).items():
        lines.append(f"{SHORT_DIRECTION[direction]:<3} {human_pps(lim['pps'])} "
                     f"burst {lim['burst_packets']}p")
    if e.get("dscp_mark") is not None:
        lines.append(f"dscp {format_dscp(e['dscp_mark'])}")
    if e.get("min_egress_kbps"):
        lines.append(f"out min {human_bps(e['min_egress_kbps'] * 1000)}")
    return "\n".join(lines) or "nothing"


def _live_text(p: dict) -> str:
    if not p["live"]:
        return ""
    lines = []
    for direction in ("ingress", "egress"):
        rate = p["live"][direction]
        pct = p["usage"].get(direction)
        lines.append(f"{SHORT_DIRECTION[direction]:<3} {human_bps(rate['bps']):>9} "
                     f"{human_pps(rate['pps']):>8}" + (f" {pct:>4.0%}" if pct is not None
                                                       else ""))
    return "\n".join(lines)


def _state_text(p: dict) -> str:
    sync = {True: "in sync", False: "PENDING", None: ""}[p["in_sync"]]
    text = p["status"] or ""
    if p["qos_status"] and p["qos_status"] != p["status"]:
        text += f" ({p['qos_status']})"
    return "\n".join(x for x in (text, sync, p["reason"]) if x)


def human(data: dict) -> str:
    rows = []
    for p in data["ports"]:
        policy = p["policy_name"] or (p["policy_id"] or "-")
        if p["policy_id"] and p["policy_from"] == "network":
            policy += "\n(network)"
        applied = "-" if p["applied_revision"] is None else p["applied_revision"]
        drift = "\n".join(p["drift_repaired"][:3]) if p["drift_repaired"] else "-"
        if p["drift_repaired_at"]:
            drift += f"\nat {p['drift_repaired_at']}"
        rows.append([f"{p['port_id'][:13]}\n{p['device'] or ''}", p["name"] or "", policy,
                     rules_text(p["rules"]) or "-",
                     _enforced_text(p), _live_text(p), f"{applied}/{p['desired_revision']}",
                     _state_text(p), drift])
    head = (f"host {data['host']}{' (netns ' + data['netns'] + ')' if data['netns'] else ''}"
            f": revision {data['revision']}, {len(data['ports'])} port(s)")
    if data["sampled_seconds"]:
        head += f"; live rates over {data['sampled_seconds']:g} s (in = into the VM)"
    out = head + "\n"
    if data["kernel_error"]:
        out += f"kernel: {data['kernel_error']}\n"
    out += table(["Port", "Name", "Policy", "Rules (desired)", "Enforced (kernel)",
                  "Live rate / limit", "Rev applied/desired", "Status", "Drift repaired"],
                 rows)
    pending = [(p["port_id"], c) for p in data["ports"] for c in p["pending"]]
    if pending:
        out += "pending changes (the agent's next pass):\n" + "".join(
            f"  {c}\n" for _, c in pending)
    return out

