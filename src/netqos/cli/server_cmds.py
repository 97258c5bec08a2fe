"""`netqos server`, `netqos up` and `netqos db upgrade`."""
from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import secrets
import socket
import sys
import threading
from pathlib import Path

from netqos.cli.client import UsageError
from netqos.config import Settings
from netqos.service.context import Context


def register(sub) -> None:
    server = sub.add_parser("server", help="run the API server")
    _server_flags(server)
    server.set_defaults(func=run_server)

    up = sub.add_parser("up", help="run the embedded single-host system (server + agent)")
    _server_flags(up)
    up.add_argument("--agent-host", default=socket.gethostname(),
                    help="the host name the local agent serves (this machine's name)")
    up.add_argument("--uplink", action="append", default=[], metavar="IFACE:KBPS",
                    help="uplink and its capacity in kbit/s, for minimum-bandwidth guarantees")
    up.add_argument("--netns", help="the local agent enforces inside this network namespace")
    up.set_defaults(func=run_up)

    sample = sub.add_parser("policy-sample", help="print the default policy rules (Neutron's "
                            "names), commented out, as a starting policy.yaml")
    sample.set_defaults(func=run_policy_sample)

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_sub.add_parser("upgrade", help="migrate the database to the latest schema")
    upgrade.add_argument("--database", help="SQLAlchemy URL (env NETQOS_DATABASE)")
    upgrade.add_argument("--config", help="INI config file (env NETQOS_CONFIG)")
    upgrade.set_defaults(func=run_db_upgrade)


def _server_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bind", help="HOST:PORT to listen on (env NETQOS_BIND; 127.0.0.1:9696)")
    p.add_argument("--database", help="SQLAlchemy URL: sqlite:///FILE or "
                   "postgresql+psycopg://… (env NETQOS_DATABASE)")
    p.add_argument("--auth", choices=("noauth", "tokens", "keystone"),
                   help="identity mode (noauth): noauth trusts every caller, so it listens "
                   "on loopback only; keystone reads [keystone_authtoken] from the config "
                   "file or NETQOS_KEYSTONE_* (never the password from a flag)")
    p.add_argument("--policy-file", help="policy.yaml overriding Neutron's default rules "
                   "(env NETQOS_POLICY_FILE; `netqos policy-sample` prints the defaults)")
    p.add_argument("--token-file", help="tokens mode: YAML mapping tokens to identities")
    p.add_argument("--insecure-noauth", action="store_true", default=None,
                   help="let --auth noauth listen on a non-loopback --bind: anyone who "
                   "can connect is then an admin")
    p.add_argument("--max-body-size", type=int, metavar="BYTES",
                   help="largest request body accepted; larger ones get a 413 (1048576)")
    p.add_argument("--workers", type=int, help="server processes (1)")
    p.add_argument("--transport-url", help="message bus for agents, "
                   "rabbit://user:pass@host:5672/ (env NETQOS_TRANSPORT_URL); "
                   "without it, the in-process bus (agents then poll)")
    p.add_argument("--log-level", help="debug, info, warning (info)")
    p.add_argument("--config", help="INI config file (env NETQOS_CONFIG)")
    segments = p.add_argument_group("network segments (as Neutron's ML2 options)")
    segments.add_argument("--tenant-network-types", metavar="TYPES",
                          help="segment types for tenant networks, tried in order: vxlan, "
                          "gre, vlan, local (env NETQOS_TENANT_NETWORK_TYPES; vxlan)")
    segments.add_argument("--vni-ranges", metavar="FIRST:LAST,…",
                          help="VXLAN ids for tenant networks (1:16777215)")
    segments.add_argument("--tunnel-id-ranges", metavar="FIRST:LAST,…",
                          help="GRE keys for tenant networks, within 1:4294967295 "
                          "(env NETQOS_TUNNEL_ID_RANGES; none)")
    segments.add_argument("--network-vlan-ranges", metavar="PHYSNET[:FIRST:LAST],…",
                          help="physical networks for VLANs, with the ids tenant networks "
                          "get (none)")
    segments.add_argument("--flat-networks", metavar="PHYSNET,…",
                          help="physical networks flat networks may use; * for any (*)")
    segments.add_argument("--global-physnet-mtu", type=int, metavar="BYTES",
                          help="MTU of the underlay; VXLAN networks get 50 less, GRE 42 "
                          "(1500)")


def settings_from(args: argparse.Namespace) -> Settings:
    from netqos.cli.client import CliError
    from netqos.service.segment_pools import SegmentPools

    settings = Settings.load(vars(args))
    try:   # a bad range is the operator's to fix before anything starts
        SegmentPools.from_settings(settings)
    except ValueError as exc:
        raise CliError(f"bad segment setting: {exc}") from None
    return settings


def prepare_database(settings: Settings) -> None:
    """Create the SQLite directory and bring the schema up to date."""
    from netqos.db.engine import make_engine
    from netqos.db.migrate import upgrade

    if settings.database.startswith("sqlite:///"):
        Path(settings.database[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def run_db_upgrade(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    prepare_database(settings)
    print(f"database {settings.database} is at the latest schema")
    return 0


def run_policy_sample(args: argparse.Namespace) -> int:
    from netqos.policy.sample import sample_yaml

    print(sample_yaml(), end="")
    return 0


def run_server(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    check_exposure(settings)
    try:
        serve(settings)
    except ValueError as exc:   # a setting the server cannot start with (auth, policy file)
        print(f"netqos: error: {exc}", file=sys.stderr)
        return 2
    return 0


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False   # a name: it may resolve to anything


def check_exposure(settings: Settings) -> None:
    """noauth believes whatever identity a request claims: served beyond loopback, anyone
    who can connect is an admin. Refuse that unless the operator says so in words."""
    host, _ = settings.host_port
    if settings.auth == "noauth" and not is_loopback(host) and not settings.insecure_noauth:
        raise UsageError(
            f"--auth noauth trusts every caller's identity headers, so it serves loopback "
            f"only; --bind {settings.bind} is not a loopback address. Use --auth tokens "
            f"--token-file FILE (or keystone), or pass --insecure-noauth to serve noauth "
            f"there anyway.")
    if settings.auth == "tokens":
        from netqos.api.auth import TokenFile, TokenFileError

        if not settings.token_file:
            raise UsageError("--auth tokens needs --token-file FILE")
        try:
            TokenFile(settings.token_file)
        except TokenFileError as exc:
            raise UsageError(str(exc)) from None


def run_up(args: argparse.Namespace) -> int:
    """The embedded system: one process holds the server and this host's agent, joined
    by the in-process bus, so a change reaches the kernel without polling."""
    from netqos.agent.client import ServerClient
    from netqos.agent.loop import Agent, AgentConfig
    from netqos.agent.registry import load
    from netqos.agent.telemetry import Telemetry
    from netqos.bus.inproc import InProcessBus
    from netqos.cli.agent_cmds import parse_uplinks

    settings = settings_from(args)
    check_exposure(settings)
    if settings.workers > 1:
        raise UsageError("netqos up runs one process (its agent shares it); use "
                         "netqos server --workers N and netqos agent for more")
    bus = InProcessBus()
    host, port = settings.host_port
    uplinks = parse_uplinks(args.uplink)
    backend = load("linuxtc")(netns=args.netns, uplink=next(iter(uplinks.items()), None))
    # The agent's credential acts for this host only, in every auth mode; it lives in
    # this process's memory and nowhere else.
    token = secrets.token_urlsafe(32)
    local_tokens = {token: Context.for_host(args.agent_host)}
    agent = Agent(AgentConfig(host=args.agent_host, netns=args.netns, uplinks=uplinks),
                  ServerClient(f"http://{_connectable(host)}:{port}", token), backend)
    bus.subscribe(args.agent_host, agent.wake)
    stop = threading.Event()
    threading.Thread(target=agent.run, args=(stop,), name="netqos-agent", daemon=True).start()
    Telemetry(agent).start(stop)   # live counters for the console at /ui
    try:
        serve(settings, bus, local_tokens)
    finally:
        stop.set()
    return 0


def _connectable(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "") else ("[::1]" if host == "::" else host)


def serve(settings: Settings, bus=None, local_tokens=None) -> None:
    import uvicorn

    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    prepare_database(settings)
    host, port = settings.host_port
    # uvloop and httptools (uvicorn[standard]), named so a missing one fails loudly instead
    # of falling back to the asyncio loop and h11, which cost more CPU per request
    # (README, "Choosing the server stack").
    common = dict(host=host, port=port, log_level=settings.log_level, access_log=False,
                  loop="uvloop", http="httptools")
    if settings.workers > 1:
        # Workers are separate processes: they rebuild the settings from the environment.
        os.environ.update(settings.to_env())
        uvicorn.run("netqos.api.app:create_app_from_env", factory=True,
                    workers=settings.workers, **common)
    else:
        from netqos.api.app import create_app
        uvicorn.run(create_app(settings, bus, local_tokens), **common)
