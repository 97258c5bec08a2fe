"""Agents authenticate as their host, end to end: a real `netqos agent` with host A's token
converges host A's ports in the kernel and is refused host B's; `netqos up --auth tokens`
gives its embedded agent its own host credential and converges without the operator
writing one."""
from __future__ import annotations

import json
import uuid

import pytest
import yaml

from tests.harness.netns import sh
from tests.harness.agentproc import NETQOS, AgentProcess
from tests.dataplane.test_agent_api import Api, applied
from tests.harness.server import ServerProcess, token_server
from tests.harness.util import wait_until

ADMIN = "t-admin"


def tbf_rate(ns: str, dev: str) -> int | None:
    """The root TBF's rate (bytes/s) on `dev`, as the kernel holds it."""
    qdiscs = json.loads(sh("tc", "-n", ns, "-j", "qdisc", "show", "dev", dev).stdout)
    root = next((q for q in qdiscs if q.get("root")), {})
    return int(root["options"]["rate"]) if root.get("kind") == "tbf" else None


def admin_api(url: str) -> Api:
    api = Api(url)
    api.http.headers["X-Auth-Token"] = ADMIN
    return api


def limited_port(api: Api, host: str, kbps: int) -> dict:
    policy = api.policy("cred", [("bandwidth_limit", {"max_kbps": kbps,
                                                      "direction": "ingress"})])
    return api.bound_port(api.network(), host, policy)


@pytest.fixture(scope="module")
def hosts():
    return {"a": "cred-a-" + uuid.uuid4().hex[:6], "b": "cred-b-" + uuid.uuid4().hex[:6]}


@pytest.fixture(scope="module")
def agent_server(tmp_path_factory, hosts):
    with token_server(tmp_path_factory.mktemp("agent-cred"), {
            ADMIN: {"project_id": "ops", "roles": ["admin"]},
            "t-host-a": {"roles": ["agent"], "host": hosts["a"]}}) as srv:
        yield srv


def test_agent_with_a_host_token_converges_its_host_only(agent_server, hosts, lab, tmp_path):
    api = admin_api(agent_server.url)
    port_a = limited_port(api, hosts["a"], 8000)
    port_b = limited_port(api, hosts["b"], 8000)
    vm_a, vm_b = lab.add_vm(port_id=port_a["id"]), lab.add_vm(port_id=port_b["id"])
    token = tmp_path / "host-a.token"
    token.write_text("t-host-a\n")
    token.chmod(0o600)

    agents = []
    try:
        for host in (hosts["a"], hosts["b"]):   # both hold host A's token
            agent = AgentProcess(agent_server.url, host, lab.host,
                                 tmp_path / f"agent-{host}.log")
            agent.argv += ["--auth-token-file", str(token), "--heartbeat-interval", "1"]
            agents.append(agent.start())
        wait_until(lambda: applied(api, port_a["id"]), 15, "host A's agent to apply")
        assert tbf_rate(lab.host, vm_a.device) == 8000 * 125
        # Host B's agent, with A's credential, is refused every call: its port stays
        # unshaped and unreported, and it never appears as an agent.
        log_b = agents[1].log
        wait_until(lambda: "403 PolicyNotAuthorized" in log_b.read_text(), 15,
                 "host B's agent to be refused")
        assert agents[1].proc.poll() is None, "a refused agent keeps retrying, it does not die"
        state = api.port(port_b["id"])["netqos:qos_state"]
        assert state["applied_revision"] is None, state
        assert tbf_rate(lab.host, vm_b.device) is None
        listed = {a["host"] for a in api.http.get("/agents").json()["agents"]}
        assert hosts["a"] in listed and hosts["b"] not in listed
    finally:
        for agent in agents:
            agent.stop()


class UpProcess(ServerProcess):
    """`netqos up` (server and its embedded agent in one process) instead of `server`."""

    def __init__(self, *args, agent_host: str, netns: str, **kw):
        super().__init__(*args, **kw)
        self.agent_host, self.netns = agent_host, netns

    @property
    def argv(self) -> list[str]:
        return [NETQOS, "up", "--bind", f"127.0.0.1:{self.port}", "--database",
                self.database_url, "--auth", self.auth, "--agent-host", self.agent_host,
                "--netns", self.netns, *self.extra_args]


@pytest.mark.parametrize("auth", ["tokens", "noauth"])
def test_up_gives_its_agent_a_host_credential(lab, tmp_path, auth):
    """Under tokens the file holds the operator's tokens only, none for the agent; under
    noauth (loopback) the agent still uses its minted host credential."""
    host = "up-" + uuid.uuid4().hex[:8]
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(yaml.safe_dump({"tokens": {ADMIN: {"project_id": "ops",
                                                         "roles": ["admin"]}}}))
    up = UpProcess(f"sqlite:///{tmp_path / 'netqos.sqlite'}", auth=auth,
                   extra_args=["--token-file", str(tokens)] if auth == "tokens" else [],
                   log_dir=tmp_path, agent_host=host, netns=lab.host)
    with up:
        api = admin_api(up.url)
        port = limited_port(api, host, 12000)
        vm = lab.add_vm(port_id=port["id"])
        wait_until(lambda: applied(api, port["id"]), 20, "the embedded agent to apply")
        assert tbf_rate(lab.host, vm.device) == 12000 * 125
        agents = api.http.get("/agents").json()["agents"]
        assert [a["host"] for a in agents if a["alive"]] == [host], agents
        guessed = api.http.get("/ports", headers={"X-Auth-Token": "guess"}).status_code
        assert guessed == (401 if auth == "tokens" else 200)
        log = up.log_tail(200)
        # (its first pass may race the server's start: "connection refused" is no finding)
        for refusal in ("NotAuthenticated", "PolicyNotAuthorized", "Traceback"):
            assert refusal not in log, log
