"""`netqos status` and the agent's metrics with a real agent, real namespaces and real
traffic: the limit is read back from the kernel, the live rate from the device counters.

Needs root, iperf3, tc and nft (marked dataplane: skipped without them, failed in CI).
"""
from __future__ import annotations

import re
import threading
import time
import uuid

import httpx
import pytest

from tests.harness.lab import Lab
from tests.harness.netns import sh
from tests.harness.traffic import iperf3
from tests.cli.conftest import metric, ok, scrape, uniq
from tests.harness.agentproc import AgentProcess
from tests.harness.util import free_port, require_root, wait_until

pytestmark = pytest.mark.dataplane


@pytest.fixture(autouse=True)
def _requirements():
    require_root("netqos status with an agent", "iperf3", "tc", "nft", "ip")



@pytest.fixture
def lab():
    with Lab() as lab:
        yield lab


@pytest.fixture
def agent(sqlite_server, lab, tmp_path):
    """`netqos agent --server URL --host H --netns NS` (as operators run it), with metrics."""
    metrics_port = free_port()
    agent = AgentProcess(sqlite_server.url, "cli-" + uuid.uuid4().hex[:8], lab.host,
                         tmp_path / "agent.log",
                         extra=("--metrics-bind", f"127.0.0.1:{metrics_port}")).start()
    agent.metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    yield agent
    agent.stop()


def test_status_shows_the_kernel_limit_and_the_live_rate(nq, http, lab, agent):
    name = uniq("ten")
    ok(nq("policy", "create", name))
    ok(nq("rule", "add", name, "--type", "bw-limit", "--max", "10mbit", "--direction", "both"))
    ok(nq("rule", "add", name, "--type", "dscp", "--dscp", "AF31"))
    net = http.post("/v2.0/networks", json={"network": {"name": uniq("n"),
                                                        "qos_policy_id": None}}).json()["network"]
    port = http.post("/v2.0/ports", json={"port": {
        "network_id": net["id"], "name": uniq("vm"),
        "binding:host_id": agent.host}}).json()["port"]
    vm = lab.add_vm(port_id=port["id"])
    sh("ip", "-n", vm.ns, "link", "set", "eth0", "address", port["mac_address"])
    vm.mac = port["mac_address"]

    ok(nq("port", "set", port["name"], "--policy", name))

    def applied():
        p = http.get(f"/v2.0/ports/{port['id']}").json()["port"]
        s = p["netqos:qos_state"]
        return p["status"] == "ACTIVE" and s["applied_revision"] == s["desired_revision"]
    wait_until(applied, 20, f"the agent to apply the policy (log: {agent.log})")

    # Traffic into the VM for ~4 s; status samples the counters in the middle of it.
    result = {}
    traffic = threading.Thread(target=lambda: result.update(
        iperf3(lab, vm, "ingress", seconds=4)))
    traffic.start()
    try:
        time.sleep(1.5)
        res = ok(nq("status", "--host", agent.host, "--netns", lab.host, "-f", "json"))
        samples = scrape(agent.metrics_url)
        human = ok(nq("status", "--host", agent.host, "--netns", lab.host, port["name"],
                      "--interval", "0.5"))
    finally:
        traffic.join(30)
    doc = res.json()
    assert doc["host"] == agent.host and doc["kernel_error"] is None, doc
    [p] = [p for p in doc["ports"] if p["port_id"] == port["id"]]
    assert p["device"] == vm.device and p["present"] is True
    assert p["policy_name"] == name and p["policy_from"] == "port"
    assert p["applied_revision"] == p["desired_revision"] and p["in_sync"] is True, p
    # The limit as the kernel holds it (read back, not echoed from the server).
    for direction in ("ingress", "egress"):
        assert p["enforced"][direction]["rate_kbps"] == pytest.approx(10_000, rel=0.02), p
    assert p["enforced"]["dscp_mark"] == 26
    # The live rate while iperf3 runs: real, and not above the limit.
    live = p["live"]["ingress"]
    assert 2e6 < live["bps"] < 11e6, live
    assert live["pps"] > 100, live
    assert p["limit"]["ingress"]["bps"] == 10_000_000
    assert 0.2 < p["usage"]["ingress"] <= 1.1
    assert result.get("bps", 0) > 5e6, result

    # For people: the limit and the live rate side by side.
    out = human.stdout
    assert "10mbit" in out and "AF31 (26)" in out and "in sync" in out, out
    assert re.search(r"in\s+\d[\d.]*mbit", out), out

    # The agent's metrics moved: a pass, one managed port, its limit and its live rate.
    assert metric(samples, "netqos_agent_passes_total") >= 1
    assert metric(samples, "netqos_agent_ports_managed") == 1
    assert metric(samples, "netqos_agent_port_limit_bits_per_second", port=port["id"],
                  direction="ingress") == 10_000_000
    assert metric(samples, "netqos_agent_port_rate_bits_per_second", port=port["id"],
                  direction="ingress") > 1e6
    assert metric(samples, "netqos_agent_apply_duration_seconds_count") >= 1
    changes = sum(v for k, v in samples.items() if k.startswith("netqos_agent_changes_total"))
    assert changes >= 1

    # A hand-made change is drift: the agent repairs it and both views say so.
    sh("tc", "-n", lab.host, "qdisc", "del", "dev", vm.device, "root")
    wait_until(lambda: scrape(agent.metrics_url).get("netqos_agent_drift_repairs_total", 0) >= 1,
             20, "the agent to repair the deleted shaper")
    doc = ok(nq("status", "--host", agent.host, "--netns", lab.host, "--interval", "0",
                "-f", "json")).json()
    [p] = [p for p in doc["ports"] if p["port_id"] == port["id"]]
    assert p["drift_repaired"] and p["drift_repaired_at"], p
    assert p["enforced"]["ingress"]["rate_kbps"] == pytest.approx(10_000, rel=0.02)


def test_plan_shows_progress_and_pending_changes(nq, sqlite_server, lab):
    """`netqos plan` with --progress names its steps on stderr; without an agent the plan
    lists what a pass would do, and `netqos status` marks the port PENDING."""
    host = "cli-" + uuid.uuid4().hex[:8]
    name = uniq("plan")
    ok(nq("policy", "create", name))
    ok(nq("rule", "add", name, "--type", "bw-limit", "--max", "20mbit", "--direction", "in"))
    http = httpx.Client(base_url=sqlite_server.url, timeout=10)
    net = http.post("/v2.0/networks", json={"network": {"name": uniq("n")}}).json()["network"]
    port = http.post("/v2.0/ports", json={"port": {
        "network_id": net["id"], "binding:host_id": host}}).json()["port"]
    lab.add_vm(port_id=port["id"])
    ok(nq("port", "set", port["id"], "--policy", name))
    res = ok(nq("plan", "--server", sqlite_server.url, "--host", host, "--netns", lab.host,
                "--progress"))
    assert "change(s) planned" in res.stdout and port["id"][:13] in res.stdout, res
    assert "pulling the desired state" in res.stderr and "reading the kernel" in res.stderr
    doc = ok(nq("status", "--host", host, "--netns", lab.host, "--interval", "0",
                "-f", "json")).json()
    [p] = doc["ports"]
    assert p["in_sync"] is False and p["pending"], p
    assert p["enforced"]["ingress"] is None
