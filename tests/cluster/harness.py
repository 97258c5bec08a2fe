"""A simulated cluster: `netqos server --workers N` on PostgreSQL with RabbitMQ, and "hosts"
that are network namespaces, each with its own `netqos agent` process.

    cluster = Cluster(pg_url, rabbit_url, workdir, workers=2)
    cluster.start_server()
    host = cluster.add_host(ports=50)            # a namespace with 50 tap veths, ports bound
    host.start_agent()
    cluster.wait_enforced({port_id: kbps, ...})  # reads `tc -n NS -j qdisc show`, per host

The server runs `--auth tokens`, as the README's cluster does: the harness talks to it as
an admin (`cluster.client()`, `cluster.api`) and every agent holds its own host's token
(`{roles: [agent], host: NAME}`), so the cluster also proves that scoped agents converge.

Each host namespace holds, for every port, a veth pair: `tap<port_id[:11]>` (the host side,
where the agent enforces QoS) and `vm<port_id[:11]>` (the VM's side, left in the same
namespace: the cluster tests check the kernel's configuration, not traffic). Agents run in
the root namespace with --netns, as the server listens on 127.0.0.1 there.

Used by tests/cluster and bench/propagation.py. Everything it creates (namespaces,
processes) is removed by close(), and by atexit as a last resort.
"""
from __future__ import annotations

import atexit
import json
import os
import secrets
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from tests.harness.netns import Netns, run, unique_name
from tests.harness.server import ServerProcess, netqos_command
from tests.harness.util import tail

POLICIES = "/v2.0/qos/policies"
BW_RULES = "bandwidth_limit_rules"
MAX_HOSTS = 32   # agent tokens are written before the server starts, one per future host


def kbps_to_tc_rate(kbps: int) -> int:
    """TBF's rate as `tc -j` shows it (bytes/s) for a max_kbps (1 kbit = 1000 bit)."""
    return kbps * 125


def tap(port_id: str) -> str:
    return "tap" + port_id[:11]


@dataclass
class SimHost:
    cluster: "Cluster"
    name: str
    ns: Netns
    ports: list[str] = field(default_factory=list)
    agent: subprocess.Popen | None = None
    agent_args: tuple[str, ...] = ()

    @property
    def logfile(self) -> Path:
        return self.cluster.workdir / f"agent-{self.name}.log"

    # -- devices ------------------------------------------------------------------
    def plug(self, port_ids: list[str]) -> None:
        """Create the tap veths of these ports in the namespace, in one `ip -batch`."""
        lines = []
        for pid in port_ids:
            lines += [f"link add {tap(pid)} type veth peer name vm{pid[:11]}",
                      f"link set {tap(pid)} up", f"link set vm{pid[:11]} up"]
        res = subprocess.run(["ip", "-n", self.ns.name, "-batch", "-"], input="\n".join(lines)
                             + "\n", capture_output=True, text=True, timeout=120)
        if res.returncode != 0:
            raise RuntimeError(f"ip -batch in {self.ns.name}: {res.stderr.strip()}")
        self.ports.extend(port_ids)

    def tbf_rates(self) -> dict[str, int | None]:
        """{device: TBF root rate in bytes/s, or None} for every tap of the namespace,
        from one `tc -j qdisc show` (the kernel's state, not the agent's word)."""
        out = run("ip", "netns", "exec", self.ns.name, "tc", "-j", "qdisc", "show").stdout
        rates: dict[str, int | None] = {}
        for q in json.loads(out or "[]"):
            dev = q.get("dev", "")
            if not dev.startswith("tap"):
                continue
            if q.get("root") and q.get("kind") == "tbf":
                rates[dev] = int(q["options"]["rate"])
            else:
                rates.setdefault(dev, None)
        return rates

    # -- the agent process ---------------------------------------------------------
    def start_agent(self, *extra: str, resync: float = 300, heartbeat: float = 2,
                    poll: float = 0, bus: bool = True) -> None:
        """`netqos agent` for this host. Defaults prove the bus path: no revision poll and
        a 300 s resync, so a change arrives in time only through RabbitMQ."""
        assert self.agent is None or self.agent.poll() is not None, "agent already running"
        argv = [str(netqos_command()), "agent", "--server", self.cluster.server.url,
                "--host", self.name, "--netns", self.ns.name,
                "--auth-token-file", str(self.cluster.agent_token_file(self.name)),
                "--resync-interval", str(resync), "--heartbeat-interval", str(heartbeat),
                "--poll-interval", str(poll), *extra]
        if bus:
            argv += ["--transport-url", self.cluster.transport_url]
        self.agent_args = tuple(argv)
        log = open(self.logfile, "ab")
        log.write(f"\n--- start: {' '.join(argv)}\n".encode())
        log.flush()
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.agent = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                      stderr=subprocess.STDOUT, env=env,
                                      start_new_session=True)
        log.close()

    def kill_agent(self, sig: int = signal.SIGKILL) -> None:
        if self.agent is None:
            return
        if self.agent.poll() is None:
            self.agent.send_signal(sig)
            try:
                self.agent.wait(10)
            except subprocess.TimeoutExpired:
                self.agent.kill()
                self.agent.wait()
        self.agent = None

    def agent_log(self, lines: int = 30) -> str:
        return tail(self.logfile, lines)

    def close(self) -> None:
        self.kill_agent(signal.SIGTERM)
        self.ns.delete()


class Cluster:
    def __init__(self, database_url: str, transport_url: str, workdir: Path,
                 workers: int = 2):
        self.database_url = database_url
        self.transport_url = transport_url
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.hosts: list[SimHost] = []
        self.api: httpx.Client | None = None
        self._prefix = unique_name("nqc")
        self.admin_token = secrets.token_urlsafe(16)
        self._agent_tokens = {self.host_name(i): secrets.token_urlsafe(16)
                              for i in range(MAX_HOSTS)}
        token_file = self.workdir / "tokens.yaml"
        token_file.write_text(yaml.safe_dump({"tokens": {
            self.admin_token: {"project_id": "ops", "user_id": "harness", "roles": ["admin"]},
            **{token: {"roles": ["agent"], "host": host}
               for host, token in self._agent_tokens.items()}}}))
        token_file.chmod(0o600)
        self.server = ServerProcess(database_url, auth="tokens", extra_args=(
            "--token-file", str(token_file), "--workers", str(workers),
            "--transport-url", transport_url, "--log-level", "info"), log_dir=self.workdir)
        atexit.register(self.close)

    def host_name(self, index: int) -> str:
        return f"{self._prefix}-h{index}"

    def agent_token_file(self, host: str) -> Path:
        """The file holding `host`'s agent token (mode 0600), as an operator installs it."""
        path = self.workdir / f"agent-{host}.token"
        if not path.exists():
            path.write_text(self._agent_tokens[host] + "\n")
            path.chmod(0o600)
        return path

    def client(self, **kw) -> httpx.Client:
        """A new HTTP client of the server, as the admin."""
        kw.setdefault("timeout", 30)
        return httpx.Client(base_url=self.server.url,
                            headers={"X-Auth-Token": self.admin_token}, **kw)

    # -- lifecycle ---------------------------------------------------------------
    def start_server(self) -> "Cluster":
        self.server.start(timeout=60)
        self.api = self.client()
        return self

    def add_host(self, ports: int = 0, network_id: str | None = None,
                 **port_attrs) -> SimHost:
        if len(self.hosts) >= MAX_HOSTS:
            raise ValueError(f"the cluster has agent tokens for {MAX_HOSTS} hosts")
        name = self.host_name(len(self.hosts))
        host = SimHost(self, name, Netns(name))
        self.hosts.append(host)
        if ports:
            ids = self.create_ports(network_id, name, ports, **port_attrs)
            host.plug(ids)
        return host

    def close(self) -> None:
        for host in self.hosts:
            try:
                host.close()
            except Exception:
                pass
        self.hosts = []
        if self.api is not None:
            self.api.close()
            self.api = None
        self.server.stop()

    # -- API helpers ---------------------------------------------------------------
    def ok(self, resp: httpx.Response, status: int = 200) -> dict:
        assert resp.status_code == status, (resp.request.method, str(resp.request.url),
                                            resp.status_code, resp.text)
        return resp.json() if status != 204 else {}

    def policy(self, kbps: int, name: str = "cluster") -> tuple[dict, dict]:
        """A policy with one ingress bandwidth limit (the tap's TBF): (policy, rule)."""
        policy = self.ok(self.api.post(POLICIES, json={"policy": {"name": name}}), 201)["policy"]
        rule = self.ok(self.api.post(f"{POLICIES}/{policy['id']}/{BW_RULES}", json={
            "bandwidth_limit_rule": {"max_kbps": kbps, "max_burst_kbps": kbps // 10,
                                     "direction": "ingress"}}), 201)["bandwidth_limit_rule"]
        return policy, rule

    def set_rate(self, policy_id: str, rule_id: str, kbps: int, **headers) -> httpx.Response:
        return self.api.put(f"{POLICIES}/{policy_id}/{BW_RULES}/{rule_id}", headers=headers,
                            json={"bandwidth_limit_rule": {"max_kbps": kbps,
                                                           "max_burst_kbps": kbps // 10}})

    def network(self, policy_id: str | None = None) -> dict:
        return self.ok(self.api.post("/v2.0/networks", json={"network": {
            "name": "cluster", "qos_policy_id": policy_id}}), 201)["network"]

    def create_ports(self, network_id: str, host: str, count: int, clients: int = 8,
                     **attrs) -> list[str]:
        def one(i: int) -> str:
            with self.client(timeout=60) as c:
                return self.ok(c.post("/v2.0/ports", json={"port": {
                    "network_id": network_id, "name": f"{host}-{i}",
                    "binding:host_id": host, "device_owner": "compute:nova", **attrs}}),
                    201)["port"]["id"]
        with ThreadPoolExecutor(clients) as pool:
            return list(pool.map(one, range(count)))

    def agents(self) -> dict[str, dict]:
        return {a["host"]: a for a in self.ok(self.api.get("/v2.0/agents"))["agents"]}

    # -- the kernel's state --------------------------------------------------------
    def kernel_rates(self) -> dict[str, int | None]:
        """{tap device: TBF rate bytes/s or None} across all hosts (one dump per host)."""
        rates: dict[str, int | None] = {}
        for host in self.hosts:
            rates.update(host.tbf_rates())
        return rates

    def mismatches(self, want: dict[str, int | None]) -> dict[str, tuple]:
        """{port_id: (wanted kbps, kernel bytes/s)} where the kernel differs."""
        rates = self.kernel_rates()
        bad = {}
        for pid, kbps in want.items():
            have = rates.get(tap(pid), "no device")
            expect = None if kbps is None else kbps_to_tc_rate(kbps)
            if have != expect:
                bad[pid] = (kbps, have)
        return bad

    def wait_enforced(self, want: dict[str, int | None], timeout: float = 30,
                      interval: float = 0.05) -> float:
        """Wait until every port's tap has its TBF at the wanted rate (None: no TBF);
        returns the seconds it took. On timeout, fails with what differs and the agents'
        logs."""
        start = time.monotonic()
        while True:
            bad = self.mismatches(want)
            if not bad:
                return time.monotonic() - start
            if time.monotonic() - start > timeout:
                sample = dict(list(bad.items())[:5])
                logs = "\n".join(f"--- agent {h.name} (running: "
                                 f"{h.agent is not None and h.agent.poll() is None})\n"
                                 f"{h.agent_log(15)}" for h in self.hosts)
                raise AssertionError(
                    f"{len(bad)} of {len(want)} ports not enforced after {timeout:.0f} s, "
                    f"e.g. {sample}\n{logs}\n--- server\n{self.server.log_tail(20)}")
            time.sleep(interval)
