"""The whole path: a policy set through the API, enforced by a real `netqos agent` process
on veth ports in a host namespace, measured with real traffic.

These complement the backend tests (test_tc_*.py), which drive TcBackend directly: here
nothing is applied except by the agent reacting to the server.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from tests.harness.agentproc import AgentProcess
from tests.harness.netns import sh
from tests.harness.traffic import iperf3
from tests.harness.util import wait_until

WIRE = 0.9564    # TCP payload per wire bit with a 1500-byte MTU


class Api:
    def __init__(self, url: str):
        self.http = httpx.Client(base_url=url + "/v2.0", timeout=30)

    def post(self, path: str, key: str, body: dict) -> dict:
        r = self.http.post(path, json={key: body})
        assert r.status_code == 201, r.text
        return r.json()[key]

    def put(self, path: str, key: str, body: dict) -> dict:
        r = self.http.put(path, json={key: body})
        assert r.status_code == 200, r.text
        return r.json()[key]

    def port(self, port_id: str) -> dict:
        return self.http.get(f"/ports/{port_id}").json()["port"]

    def policy(self, name: str, rules: list[tuple[str, dict]]) -> dict:
        policy = self.post("/qos/policies", "policy", {"name": name})
        for rule_type, body in rules:
            self.post(f"/qos/policies/{policy['id']}/{rule_type}_rules", f"{rule_type}_rule",
                      body)
        return policy

    def network(self) -> dict:
        net = self.post("/networks", "network", {"name": "dp-" + uuid.uuid4().hex[:6],
                                                 "qos_policy_id": None})
        self.post("/subnets", "subnet", {"network_id": net["id"], "ip_version": 4,
                                         "cidr": "198.18.0.0/16"})
        return net

    def bound_port(self, net: dict, host: str, policy: dict | None) -> dict:
        return self.post("/ports", "port", {"network_id": net["id"], "binding:host_id": host,
                                            "qos_policy_id": policy and policy["id"]})


@pytest.fixture
def api(sqlite_server):
    return Api(sqlite_server.url)


@pytest.fixture
def agent_factory(sqlite_server, tmp_path):
    agents: list[AgentProcess] = []

    def start(host: str, netns: str, resync: float = 3, env: dict | None = None) -> AgentProcess:
        agent = AgentProcess(sqlite_server.url, host, netns, tmp_path / f"agent-{host}.log",
                             resync, env).start()
        agents.append(agent)
        return agent

    yield start
    for agent in agents:
        agent.stop()


def plug_vm(lab, port: dict):
    """A VM namespace on the port's tap, using the MAC the API gave the port (as Nova
    does; the shaper classifies by tap, test_port_classification.py tries other MACs)."""
    vm = lab.add_vm(port_id=port["id"])
    sh("ip", "-n", vm.ns, "link", "set", "eth0", "address", port["mac_address"])
    vm.mac = port["mac_address"]
    return vm


def applied(api: Api, port_id: str):
    """The port's state once its agent has applied the latest revision."""
    port = api.port(port_id)
    state = port["netqos:qos_state"]
    return port if state["applied_revision"] == state["desired_revision"] \
        and port["status"] == "ACTIVE" else None


def goodput_ratio(lab, vm, direction: str, kbps: int) -> float:
    return iperf3(lab, vm, direction, seconds=4)["bps"] / (kbps * 1000)


def test_api_policy_is_enforced_and_changed_live(api, lab, agent_factory):
    host = "dp-" + uuid.uuid4().hex[:8]
    policy = api.policy("live", [("bandwidth_limit", {"max_kbps": 20000, "direction": d})
                                 for d in ("egress", "ingress")])
    port = api.bound_port(api.network(), host, policy)
    vm = plug_vm(lab, port)
    agent_factory(host, lab.host)
    wait_until(lambda: applied(api, port["id"]), 15, "the agent to apply the policy")
    for direction in ("egress", "ingress"):
        ratio = goodput_ratio(lab, vm, direction, 20000)
        assert 0.90 <= ratio <= 1.02, f"{direction} at 20 Mbit/s: goodput/limit {ratio:.3f}"

    # Change both rules through the API; the running agent follows, nothing restarts.
    rules = api.http.get(f"/qos/policies/{policy['id']}").json()["policy"]["rules"]
    for rule in rules:
        api.put(f"/qos/policies/{policy['id']}/bandwidth_limit_rules/{rule['id']}",
                "bandwidth_limit_rule", {"max_kbps": 50000})
    wait_until(lambda: applied(api, port["id"]), 15, "the agent to apply the change")
    for direction in ("egress", "ingress"):
        ratio = goodput_ratio(lab, vm, direction, 50000)
        assert 0.90 <= ratio <= 1.02, f"{direction} at 50 Mbit/s: goodput/limit {ratio:.3f}"


def root_qdisc(ns: str, dev: str) -> dict:
    qdiscs = json.loads(sh("tc", "-n", ns, "-j", "qdisc", "show", "dev", dev).stdout)
    return next((q for q in qdiscs if q.get("root")), {})


def test_agent_repairs_a_hand_deleted_qdisc_and_reports_it(api, lab, agent_factory):
    host = "dp-" + uuid.uuid4().hex[:8]
    policy = api.policy("drift", [("bandwidth_limit", {"max_kbps": 10000,
                                                       "direction": "ingress"})])
    port = api.bound_port(api.network(), host, policy)
    vm = plug_vm(lab, port)
    agent_factory(host, lab.host, resync=3)
    wait_until(lambda: applied(api, port["id"]), 15, "the agent to apply the policy")
    assert root_qdisc(lab.host, vm.device).get("kind") == "tbf"

    sh("tc", "-n", lab.host, "qdisc", "del", "dev", vm.device, "root")
    assert root_qdisc(lab.host, vm.device).get("kind") != "tbf"
    # Within one resync interval (3 s) plus a pass, the shaper is back …
    wait_until(lambda: root_qdisc(lab.host, vm.device).get("kind") == "tbf", 6,
             "the agent to restore the deleted shaper")
    # … and the server has heard what was repaired.
    state = wait_until(lambda: api.port(port["id"])["netqos:qos_state"]["drift_repaired"], 5,
                     "the drift report")
    assert any("shaper" in line for line in state), state


def _taps(ns: str, port_ids: list[str]) -> None:
    lines = []
    for pid in port_ids:
        dev = "tap" + pid[:11]
        lines += [f"link add {dev} type veth peer name p{pid[:11]}", f"link set {dev} up",
                  f"link set p{pid[:11]} up"]
    sh("ip", "-n", ns, "-batch", "-", input="\n".join(lines) + "\n")


def kernel_objects(ns: str) -> dict[str, int]:
    qdiscs = json.loads(sh("tc", "-n", ns, "-j", "qdisc", "show").stdout)
    links = json.loads(sh("ip", "-n", ns, "-j", "link", "show").stdout)
    ifbs = [link for link in links if link.get("linkinfo", {}).get("info_kind") == "ifb"
            or link["ifname"].startswith("nq-ifb")]
    ifb = ifbs[0]["ifname"] if ifbs else None
    # `tc -j class show` prints plain text with this iproute2; class ids are field 3.
    classes = sh("tc", "-n", ns, "class", "show", "dev", ifb).stdout.splitlines() if ifb else []
    class_ids = [line.split()[2] for line in classes if line.startswith("class htb")]
    chains = json.loads(sh("ip", "netns", "exec", ns, "nft", "-j", "list", "chains").stdout)
    port_chains = [c["chain"] for c in chains["nftables"]
                   if "chain" in c and c["chain"]["name"].startswith("p-")]
    return {"tbf": sum(q["kind"] == "tbf" for q in qdiscs),
            "nft port chains": len(port_chains),
            "clsact": sum(q["kind"] == "clsact" for q in qdiscs),
            "ifb": len(ifbs),
            # every class but the IFB's default one (minor 1) belongs to a port
            "port classes": sum(not cid.endswith(":1") for cid in class_ids)}


SLOW_TC = """#!{python}
import subprocess, sys, time
real = "{real}"
if "-batch" not in sys.argv:
    sys.exit(subprocess.call([real] + sys.argv[1:]))
lines = sys.stdin.read().splitlines(keepends=True)
tc = subprocess.Popen([real] + sys.argv[1:], stdin=subprocess.PIPE, text=True)
for line in lines:
    tc.stdin.write(line)
    tc.stdin.flush()
    time.sleep(0.005)
tc.stdin.close()
sys.exit(tc.wait())
"""


def slow_tc_env(tmp_path: Path) -> dict:
    bindir = tmp_path / "slow-bin"
    bindir.mkdir(exist_ok=True)
    wrapper = bindir / "tc"
    wrapper.write_text(SLOW_TC.format(python=sys.executable, real=shutil.which("tc")))
    wrapper.chmod(0o755)
    return {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}"}


def test_sigkill_during_apply_of_200_ports_then_restart_converges(api, lab, agent_factory,
                                                                  tmp_path):
    host = "dp-" + uuid.uuid4().hex[:8]
    policy = api.policy("crash", [("bandwidth_limit", {"max_kbps": 10000, "direction": d})
                                  for d in ("egress", "ingress")] +
                        [("dscp_marking", {"dscp_mark": 26})])
    net = api.network()
    ports = [api.bound_port(net, host, policy) for _ in range(200)]
    _taps(lab.host, [p["id"] for p in ports])

    # An apply of 200 ports takes milliseconds (one tc batch, one nft transaction): too
    # quick to hit. A `tc` on PATH that feeds the real one its batch slowly stretches
    # the apply to seconds, and the kill lands while the kernel holds part of it.
    agent = agent_factory(host, lab.host, resync=300, env=slow_tc_env(tmp_path))
    wait_until(lambda: 0 < kernel_objects(lab.host)["tbf"] < 150, 30, "the apply under way",
             interval=0.02)
    agent.kill()
    partial = kernel_objects(lab.host)
    assert 0 < partial["tbf"] < 200, partial

    agent_factory(host, lab.host, resync=300)
    want = {"tbf": 200, "nft port chains": 400, "clsact": 200, "ifb": 1, "port classes": 200}
    wait_until(lambda: kernel_objects(lab.host) == want, 60, "convergence after the restart")
    wait_until(lambda: all(applied(api, p["id"]) for p in ports), 30, "every port reported")
    assert kernel_objects(lab.host) == want   # and nothing duplicated meanwhile
