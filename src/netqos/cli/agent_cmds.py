"""`netqos agent` (the daemon; `netqos agent list` lists agents), `netqos agents` and
`netqos plan`."""
from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import threading

from netqos.agent.l2.linuxbridge import options as l2_options
from netqos.agent.l2.openvswitch import options as ovs_l2_options
from netqos.cli.client import CliError
from netqos.cli.common import leaf
from netqos.cli.output import Column, Progress, add_format_flags, add_progress_flag, emit_list
from netqos.cli.units import format_rate

DEFAULT_SERVER = "http://127.0.0.1:9696"


def register(sub) -> None:
    agent = sub.add_parser("agent", help="run the host agent (enforces QoS on this host); "
                           "`netqos agent list` lists the agents")
    agent.add_argument("action", nargs="?", choices=["list"],
                       help="list: show the agents the server knows (instead of running one)")
    agent_flags(agent)
    agent.add_argument("--metrics-bind", metavar="HOST:PORT",
                       help="serve Prometheus metrics at http://HOST:PORT/metrics")
    add_format_flags(agent)
    agent.add_argument("--transport-url",
                       default=os.environ.get("NETQOS_TRANSPORT_URL"),
                       help="message bus, rabbit://user:pass@host:5672/ (env "
                       "NETQOS_TRANSPORT_URL): changes arrive as events, no polling needed")
    agent.add_argument("--poll-interval", type=float, default=None,
                       help="seconds between revision checks; 0 = never "
                       "(2 without a bus, 0 with --transport-url)")
    agent.add_argument("--resync-interval", type=float, default=30.0,
                       help="seconds between full passes that repair drift (30)")
    agent.add_argument("--heartbeat-interval", type=float, default=10.0,
                       help="seconds between heartbeats; the server shows the agent dead "
                       "after three missed ones (10)")
    agent.add_argument("--counters-interval", type=float, default=1.0,
                       help="seconds between per-port counter reports for the console's "
                       "live charts (1; 0 = none)")
    agent.set_defaults(func=run_agent)

    agents = leaf(sub, "agents", "list the agents the server knows (= netqos agent list)")
    agents.set_defaults(func=run_agent_list)

    plan = sub.add_parser("plan", help="print what the agent would change; change nothing")
    agent_flags(plan)
    add_progress_flag(plan)
    plan.set_defaults(func=run_plan)


def agent_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--server", default=None,
                   help="server URL (env NETQOS_URL; http://127.0.0.1:9696)")
    p.add_argument("--host", default=os.environ.get("NETQOS_HOST", socket.gethostname()),
                   help="this host's name, as ports' binding:host_id names it")
    backend_flags(p)
    p.add_argument("--auth-token-file", metavar="FILE",
                   default=os.environ.get("NETQOS_AUTH_TOKEN_FILE"),
                   help="file holding this host's agent token, for a server in tokens mode "
                   "(env NETQOS_AUTH_TOKEN_FILE; or the token itself in NETQOS_AUTH_TOKEN); "
                   "in a Keystone cloud set OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, "
                   "OS_PROJECT_NAME instead (the server URL then comes from the catalog)")
    p.add_argument("--token", action=_NoSecretFlag, default=argparse.SUPPRESS,
                   help=argparse.SUPPRESS)
    l2_options.add_arguments(p)
    ovs_l2_options.add_arguments(p)


def backend_flags(p: argparse.ArgumentParser) -> None:
    """Which backend and how it reaches the host: the same for the agent, `netqos plan`
    and `netqos status`, so that they see what the agent sees."""
    p.add_argument("--netns", help="enforce inside this network namespace")
    p.add_argument("--uplink", action="append", default=[], metavar="IFACE:KBPS",
                   help="uplink and its capacity in kbit/s, for minimum-bandwidth guarantees")
    p.add_argument("--backend", default=None, help="agent backend (linuxtc; "
                   "openvswitch, libvirt, sriov, l3; openvswitch with --l2 openvswitch)")
    p.add_argument("--bridge", help="openvswitch backend: the bridge of the VM ports (br-int)")
    p.add_argument("--ovsdb", help="openvswitch backend: OVSDB address "
                   "(unix:<run directory>/db.sock)")
    p.add_argument("--ovs-rundir", metavar="DIR",
                   help="openvswitch backend: ovs-vswitchd's run directory, which holds "
                   "<bridge>.mgmt and db.sock (env OVS_RUNDIR; /var/run/openvswitch)")


def make_backend(args: argparse.Namespace):
    """The backend the flags name, connected to the host; nothing on the host changes
    (the agent then calls `prepare`)."""
    from netqos.agent.registry import load
    from netqos.cli.client import UsageError

    uplinks = parse_uplinks(args.uplink)
    args.backend = backend_name(args)
    options = {name: value for flag, name in OVS_OPTIONS
               if (value := getattr(args, flag, None))}
    if "," in args.backend:
        raise UsageError(f"--backend {args.backend}: one backend per agent; run one `netqos "
                         f"agent --backend NAME` per backend of the host (README: Backends)")
    if getattr(args, "l2", None) == "openvswitch":
        # --ovsdb/--ovs-rundir name the switch the OVS L2 role wires; the QoS backend
        # shares them only when it is the switch's own (openvswitch, on br-int).
        if args.backend == "openvswitch":
            options.setdefault("bridge", args.integration_bridge)
        else:
            options = {}
    try:
        backend_cls = load(args.backend)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    try:
        return backend_cls(netns=args.netns, uplink=next(iter(uplinks.items()), None),
                           **options)
    except TypeError:
        if not options:
            raise
        raise UsageError(f"{', '.join('--' + f.replace('_', '-') for f, _ in OVS_OPTIONS)} "
                         f"are options of the openvswitch backend, not "
                         f"{args.backend}") from None


def backend_name(args: argparse.Namespace) -> str:
    """--backend, else the QoS backend of the L2 role's ports: openvswitch on OVS ports
    (meters, queues, DSCP flows on br-int), linuxtc on taps."""
    if args.backend:
        return args.backend
    return "openvswitch" if getattr(args, "l2", None) == "openvswitch" else "linuxtc"


# --flag (argparse dest) -> the openvswitch backend's keyword
OVS_OPTIONS = (("bridge", "bridge"), ("ovsdb", "ovsdb"), ("ovs_rundir", "rundir"))


class _NoSecretFlag(argparse.Action):
    """`--token T` would show the secret to every user of the host (ps, /proc)."""

    def __call__(self, parser, namespace, values, option_string=None):
        parser.error("--token is not accepted: a token on the command line is visible to "
                     "every user of this host; use --auth-token-file FILE or the "
                     "NETQOS_AUTH_TOKEN environment variable")


def parse_uplinks(values: list[str]) -> dict[str, int]:
    uplinks = {}
    for value in values:
        name, sep, kbps = value.rpartition(":")
        if not sep or not name or not kbps.isdigit():
            raise SystemExit(f"netqos: --uplink {value!r}: expected IFACE:KBPS, e.g. eth0:1000000")
        uplinks[name] = int(kbps)
    return uplinks


def server_url(args: argparse.Namespace) -> str:
    return args.server or os.environ.get("NETQOS_URL", DEFAULT_SERVER)


def build_agent(args: argparse.Namespace, **intervals):
    from netqos.agent import keystone_auth
    from netqos.agent.client import ServerClient
    from netqos.agent.loop import Agent, AgentConfig

    uplinks = parse_uplinks(args.uplink)
    backend = make_backend(args)
    config = AgentConfig(host=args.host, netns=args.netns, uplinks=uplinks, **intervals)
    token = agent_token(args)
    keystone = None if token else keystone_auth.from_environment()
    url = args.server or os.environ.get("NETQOS_URL") or (
        keystone.network_endpoint() if keystone else DEFAULT_SERVER)
    agent = Agent(config, ServerClient(url, token, auth=keystone), backend)
    engine = l2_engine(args)
    if engine is not None:
        from netqos.agent.l2.linuxbridge.role import L2Role

        agent.l2 = L2Role(engine, on_change=agent.wake,
                          resync_interval=intervals.get("resync_interval", 30.0))
    return agent


def agent_token(args: argparse.Namespace) -> str | None:
    from netqos.agent.client import TokenError, read_token
    from netqos.cli.client import UsageError

    try:
        return read_token(args.auth_token_file)
    except TokenError as exc:
        raise UsageError(str(exc)) from None


def l2_engine(args: argparse.Namespace):
    """The L2 engine --l2 asks for, or None."""
    kind = getattr(args, "l2", None)
    if kind == "linuxbridge":
        from netqos.agent.l2.linuxbridge.engine import LinuxBridgeL2

        return LinuxBridgeL2(l2_options.from_args(args), netns=args.netns)
    if kind == "openvswitch":
        from netqos.agent.l2.openvswitch.engine import OvsL2

        return OvsL2(ovs_l2_options.from_args(args), ovsdb=getattr(args, "ovsdb", None),
                     rundir=getattr(args, "ovs_rundir", None))
    return None


def run_agent(args: argparse.Namespace) -> int:
    if args.action == "list":
        return run_agent_list(args)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per poll is noise
    poll = args.poll_interval
    if poll is None:
        poll = 0.0 if args.transport_url else 2.0
    agent = build_agent(args, poll_interval=poll, resync_interval=args.resync_interval,
                        heartbeat_interval=args.heartbeat_interval)
    try:
        agent.backend.prepare()
    except Exception as exc:   # a host not ready for this backend: say why, no traceback
        raise CliError(f"the {args.backend} backend cannot start here: {exc}") from None
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    log = logging.getLogger(__name__)
    log.info("agent for host %s (backend %s, capabilities %s)",
             args.host, args.backend, agent.backend.capabilities)
    if args.metrics_bind:
        from netqos.agent.metrics import AgentMetrics

        agent.metrics = AgentMetrics(agent)
        log.info("metrics at http://%s/metrics", agent.metrics.serve(args.metrics_bind))
    if args.counters_interval > 0:
        from netqos.agent.telemetry import Telemetry

        Telemetry(agent, args.counters_interval).start(stop)
    subscriber = None
    if args.transport_url:
        from netqos.bus.rabbit import RabbitSubscriber, redact

        agent.bus_info = redact(args.transport_url)
        subscriber = RabbitSubscriber(args.transport_url, args.host, agent.notify,
                                      on_connect=agent.resync_now).start()
    try:
        agent.run(stop)
    finally:
        if subscriber is not None:
            subscriber.stop()
    return 0


def run_plan(args: argparse.Namespace) -> int:
    """Agent.plan(), step by step, so that a big host shows where the time goes."""
    from netqos.agent.client import ServerRefused
    from netqos.cli.client import ApiError

    progress = Progress(4, f"plan {args.host}", True if args.progress else None)
    try:
        agent = build_agent(args)
        progress.stage(f"plan {args.host}: pulling the desired state from {server_url(args)}")
        try:
            # Read-only: what the host's agent found its kernel/switch can do, not a probe.
            agent.backend.use_reported(capabilities_of(reported_agents(agent.client),
                                                       args.host, agent.backend))
            progress.stage(f"plan {args.host}: finding the host's ports or routers here")
            _, here, missing = agent.backend.pull(agent.client, args.host)
        except ServerRefused as exc:
            raise ApiError(exc.response.status_code, "", str(exc)) from None
        progress.stage(f"plan {args.host}: reading the kernel state of {len(here)} item(s)")
        try:
            actual = agent.backend.observe(here)
        except OSError as exc:   # the switch or namespace is not there: say so, no traceback
            raise CliError(f"cannot read the state of host {args.host} ({args.backend} "
                           f"backend): {exc}") from None
        progress.stage(f"plan {args.host}: comparing {len(here)} port(s)")
        changes = agent.backend.plan(here, actual)
    finally:
        progress.close()
    for change in changes:
        print(change)
    for port in agent.client.refused:
        print(f"port {port.port_id}: {port.reason}", file=sys.stderr)
    if missing:
        print(f"{len(missing)} port(s) of host {args.host} have no device here: "
              f"{', '.join(p.port_id for p in missing[:5])}{' …' if len(missing) > 5 else ''}",
              file=sys.stderr)
    print(f"{len(changes)} change(s) planned for host {args.host}" if changes
          else f"host {args.host} is at the desired state: nothing to change")
    return 0


def reported_agents(client) -> list[dict]:
    """/v2.0/agents, or [] if the credential may not list agents."""
    import httpx

    try:
        response = client.http.get(client.http.base_url.join("/v2.0/agents"))
    except httpx.HTTPError:
        return []
    return response.json().get("agents", []) if response.status_code == 200 else []


def capabilities_of(agents: list[dict], host: str, backend) -> dict:
    """The capabilities the agent of `host` running `backend` reported in its heartbeat
    (any agent of the host if none runs it): {} if none did (the planners then read
    every ability as present, as on a complete kernel)."""
    mine = [a for a in agents if a.get("host") == host]
    same = [a for a in mine if backend.support.name in (a.get("backends") or ())]
    merged: dict = {}
    for agent in same or mine:
        merged.update(agent.get("capabilities") or {})
    return merged


AGENT_COLUMNS = (
    Column("ID", "id"),
    Column("Host", "host"),
    Column("Type", "agent_type"),
    Column("Alive", "alive", lambda a: ":-)" if a else "XXX"),
    Column("Backends", "backends", lambda b: ", ".join(b or [])),
    Column("Uplinks", "uplinks", lambda u: ", ".join(f"{k} {format_rate(v)}"
                                                     for k, v in (u or {}).items())),
    Column("Heartbeat", "heartbeat_timestamp"),
)


def run_agent_list(args: argparse.Namespace) -> int:
    from netqos.cli.client import Api, settings_from

    settings = settings_from(args)
    if getattr(args, "server", None):
        settings.url = args.server
    api = Api(settings)
    agents = api.get("/v2.0/agents")["agents"]
    emit_list(args, AGENT_COLUMNS, sorted(agents, key=lambda a: a["host"]))
    return 0
