"""The console with a real agent, real namespaces and real iperf3 traffic: the chart shows
what iperf3 measures, the limit the kernel enforces, and follows a change made on the page.

Needs root, iperf3, tc and chromium (marked dataplane: skipped without them, failed in CI).
"""
from __future__ import annotations

import statistics
import threading
import time
import uuid

import pytest
from playwright.sync_api import expect

from tests.harness.lab import Lab
from tests.harness.netns import sh
from tests.harness.traffic import iperf3
from tests.ui.conftest import ARTIFACTS
from tests.ui.scenario import create_policy, traffic_lock, uniq, visit
from tests.harness.agentproc import AgentProcess
from tests.harness.util import require_root, wait_until

pytestmark = pytest.mark.dataplane
CHART = "window.netqosCharts.get('{port}')"


@pytest.fixture(autouse=True)
def _requirements():
    require_root("the console's dataplane tests", "iperf3", "tc", "ip")


@pytest.fixture
def lab():
    with Lab() as lab:
        yield lab


@pytest.fixture
def agent(ui_server, lab, tmp_path):
    """`netqos agent` as operators run it, with its counters for the console (1 s)."""
    agent = AgentProcess(ui_server.url, "ui-" + uuid.uuid4().hex[:8], lab.host,
                         tmp_path / "agent.log", resync=5,
                         extra=("--counters-interval", "1")).start()
    yield agent
    agent.stop()


def tc_ingress_rate_bps(lab: Lab, device: str) -> int | None:
    """The rate of the root shaper on the VM's device (traffic into the VM), read back."""
    import json

    out = sh("tc", "-n", lab.host, "-j", "qdisc", "show", "dev", device, "root")
    for q in json.loads(out.stdout or "[]"):
        if q.get("kind") == "tbf":
            return int(q["options"]["rate"]) * 8
    return None


def chart_mean(page, port: str, since: float, until: float, column: int = 1
               ) -> tuple[float, int]:
    """The mean of the chart's points in [since, until] (column 1: in, 2: out)."""
    samples = page.evaluate(f"{CHART.format(port=port)}.samples")
    rates = [s[column] for s in samples if since <= s[0] <= until]
    return (statistics.mean(rates) if rates else 0.0), len(rates)


def test_chart_matches_iperf3_and_follows_a_limit_changed_on_the_page(
        page, ui_server, admin, lab, agent):
    policy = create_policy(admin, "demo", 10_000)   # the README walk-through's names
    net = admin.post("/v2.0/networks", json={"network": {"name": uniq("n")}}).json()["network"]
    port = admin.post("/v2.0/ports", json={"port": {
        "network_id": net["id"], "name": "demo-vm", "binding:host_id": agent.host,
        "qos_policy_id": policy["id"]}}).json()["port"]
    vm = lab.add_vm(port_id=port["id"])
    sh("ip", "-n", vm.ns, "link", "set", "eth0", "address", port["mac_address"])
    vm.mac = port["mac_address"]

    def applied():
        p = admin.get(f"/v2.0/ports/{port['id']}").json()["port"]
        s = p["netqos:qos_state"]
        return p["status"] == "ACTIVE" and s["applied_revision"] == s["desired_revision"]
    wait_until(applied, 30, f"the agent to apply the policy (log: {agent.log})")

    visit(page, f"{ui_server.url}/ui/#/host/{agent.host}")
    chart = CHART.format(port=port["id"])
    page.wait_for_function(f"{chart} && {chart}.limit.in_bps === 10000000", timeout=15_000)

    # 1. The chart against iperf3, into the VM at 10 Mbit/s.
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    result = {}
    with traffic_lock():
        start = time.time()
        traffic = threading.Thread(target=lambda: result.update(
            iperf3(lab, vm, "ingress", seconds=5)))
        traffic.start()
        page.wait_for_timeout(4000)   # the README's screenshot: the host page mid-run
        page.screenshot(path=str(ARTIFACTS / "host-page-iperf3.png"),
                        clip={"x": 0, "y": 0, "width": 1400, "height": 220})
        traffic.join(30)
        end = time.time()
    page.wait_for_timeout(1500)   # the last second's point reaches the page
    shown, points = chart_mean(page, port["id"], start + 2.0, end)
    print(f"\n10 Mbit/s: iperf3 goodput {result['bps'] / 1e6:.2f} Mbit/s, chart "
          f"{shown / 1e6:.2f} Mbit/s over {points} points")
    assert points >= 2
    assert shown == pytest.approx(result["bps"], rel=0.15)
    assert page.evaluate(f"{chart}.limit.in_bps") == 10_000_000

    # The other way: the VM sends. The chart counts the port's HTB class on the shared IFB
    # (its leaf's bytes: after the shaper), so it is iperf3's goodput too.
    with traffic_lock():
        start = time.time()
        sent = iperf3(lab, vm, "egress", seconds=4)
        end = time.time()
    page.wait_for_timeout(1500)
    shown_out, points = chart_mean(page, port["id"], start + 2.0, end, column=2)
    print(f"10 Mbit/s out of the VM: iperf3 goodput {sent['bps'] / 1e6:.2f} Mbit/s, chart "
          f"{shown_out / 1e6:.2f} Mbit/s over {points} points")
    assert points >= 1
    assert shown_out == pytest.approx(sent["bps"], rel=0.15)
    assert page.evaluate(f"{chart}.limit.out_bps") == 10_000_000

    # The port page: where its QoS comes from, the shaper as the agent reads it back.
    visit(page, f"{ui_server.url}/ui/#/port/{port['id']}")
    expect(page.locator("#chain .used")).to_contain_text(f"port policy: {policy['name']}")
    expect(page.locator("#objects")).to_contain_text("tbf")
    expect(page.locator("#objects")).to_contain_text("rate_bps 10.0 Mbit/s")
    expect(page.locator("#history")).to_contain_text("revision")
    page.wait_for_function(f"{chart}.samples.length > 5")

    # 2. 20 Mbit/s set on the policies page while traffic runs: kernel, then chart, ≤ 3 s.
    visit(page, f"{ui_server.url}/ui/#/policies")
    card = page.locator(f".policy[data-policy='{policy['id']}']")
    rule = card.locator(".rule[data-direction='ingress']")
    rule.locator("input[name=value]").fill("20mbit")
    seen = {}
    with traffic_lock():
        traffic = threading.Thread(target=lambda: seen.update(
            iperf3(lab, vm, "ingress", seconds=8)))
        traffic.start()
        try:
            time.sleep(2.5)
            clicked = time.monotonic()
            rule.locator("button[type=submit]").click()
            wait_until(lambda: tc_ingress_rate_bps(lab, vm.device) == 20_000_000, 3,
                     "tc to show 20 Mbit/s", interval=0.05)
            in_kernel = time.monotonic() - clicked
            visit(page, f"{ui_server.url}/ui/#/host/{agent.host}")
            page.wait_for_function(
                f"{chart} && {chart}.limit.in_bps === 20000000 && {chart}.latest "
                f"&& {chart}.latest[1] > 13000000", timeout=10_000, polling=50)
            on_chart = time.monotonic() - clicked
        finally:
            traffic.join(30)
    page.screenshot(path=str(ARTIFACTS / "host-page-20mbit.png"))
    print(f"20 Mbit/s: in the kernel {in_kernel:.2f} s, on the chart {on_chart:.2f} s after "
          f"the click; iperf3 over the whole run {seen.get('bps', 0) / 1e6:.2f} Mbit/s")
    assert on_chart < 3.0, on_chart
