"""Running VMs: a real libvirtd, a real guest (qemu, TCG unless kvm works), a real
`netqos agent --backend libvirt` process, a policy set through the API.

The guest (tests/harness/libvirt.py) boots a Debian kernel to `iperf3 -s` on a Linux bridge
in the root namespace (libvirtd's) with a 198.19.x.0/24 address. Its NIC's target dev is
NOT tap<port>: the agent must find the port by the guest's MAC.

Directions and where goodput is measured (iperf3 client on the host, server in the guest):
- into the VM (ingress): the host sends, the guest's iperf3 server counts what arrived
  (measured inside the guest);
- out of the VM (egress): `-R`, the guest sends, the host's client counts (measured on the
  host).
Ratios are TCP goodput / limit; TCP goodput is 0.956 of the wire rate at MTU 1500.

Run traffic tests under `flock /tmp/netqos-traffic.lock` on shared machines.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.harness import libvirt as lv
from tests.harness.util import in_ci

NETQOS = str(Path(sys.executable).parent / "netqos")
OUR_TBF = "4e51:"


def _unavailable(reason: str):
    if in_ci():
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def vm(tmp_path_factory):
    """A running guest on a fresh bridge; daemons started if none ran; all torn down."""
    if os.geteuid() != 0:
        _unavailable("libvirt tests need root")
    missing = lv.ensure_debs()
    if missing:
        _unavailable(f"libvirt tests need Debian packages {missing} (make debs-test)")
    try:
        import libvirt  # noqa: F401
    except ImportError:
        _unavailable("libvirt tests need libvirt-python (pip install -e '.[test,libvirt]')")
    daemons = lv.Daemons().start()
    bridge = lv.Bridge().create()
    tmp = tmp_path_factory.mktemp("libvirt")
    guest = None
    try:
        image = lv.build_guest()
        virt = lv.virt_type(image, bridge)
        guest = lv.process_guest(image, bridge, virt, "nqlv", "nqvm", 0xc6,
                                 tmp / "console.log")
        guest.define().start()
        guest.wait_ready(120)
        yield guest
    finally:
        if guest is not None:
            guest.undefine()
        bridge.delete()
        daemons.stop()


class Api:
    def __init__(self, url: str):
        self.http = httpx.Client(base_url=url + "/v2.0", timeout=30)

    def call(self, method: str, path: str, key: str | None = None, body: dict | None = None,
             status: int = 200):
        r = self.http.request(method, path, json={key: body} if key else None)
        assert r.status_code == status, r.text
        return r.json()[key] if key and r.content else (r.json() if r.content else None)


@pytest.fixture(scope="module")
def setup(vm, sqlite_server, tmp_path_factory):
    """The guest's port (by MAC, on this host) and an agent process with the libvirt
    backend; resync every 8 s (drift), events for everything else."""
    api = Api(sqlite_server.url)
    host = f"lvhost-{uuid.uuid4().hex[:6]}"
    net = api.call("POST", "/networks", "network", {"name": "lv-" + host}, 201)
    api.call("POST", "/subnets", "subnet", {"network_id": net["id"], "ip_version": 4,
                                            "cidr": f"{vm.bridge.subnet}.0/24"}, 201)
    port = api.call("POST", "/ports", "port", {"network_id": net["id"],
                                               "binding:host_id": host,
                                               "mac_address": vm.mac}, 201)
    log = tmp_path_factory.mktemp("agent") / "agent.log"
    with open(log, "w") as out:
        agent = subprocess.Popen(
            [NETQOS, "agent", "--backend", "libvirt", "--server", sqlite_server.url,
             "--host", host, "--poll-interval", "0.3", "--resync-interval", "8",
             "--heartbeat-interval", "2"], stdout=out, stderr=subprocess.STDOUT)
    try:
        yield api, host, port, agent, log
    finally:
        agent.terminate()
        agent.wait(10)
        _tc("qdisc", "del", "dev", vm.tap, "root")
        _tc("qdisc", "del", "dev", vm.tap, "clsact")


def _tc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["tc", *args], capture_output=True, text=True)


def limits_on(tap: str) -> tuple[int | None, bool]:
    """(our TBF rate on the tap in bit/s or None, whether its clsact feeds our block)."""
    rate, redirected = None, False
    for q in json.loads(_tc("-j", "qdisc", "show", "dev", tap).stdout or "[]"):
        if q.get("kind") == "tbf" and q.get("handle") == OUR_TBF:
            rate = q["options"]["rate"] * 8   # tc -j gives bytes/s
        if q.get("kind") == "clsact" and q.get("ingress_block") == 0x4E51:
            redirected = True
    return rate, redirected


def wait_limit(tap: str, bits: int, timeout: float) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        rate, redirected = limits_on(tap)
        if rate is not None and abs(rate - bits) <= bits * 0.01 and redirected:
            return time.monotonic() - t0
        time.sleep(0.02)
    raise AssertionError(f"{tap}: limit {bits} bit/s not enforced after {timeout} s "
                         f"(have {limits_on(tap)})")


def goodput(vm: lv.Guest, direction: str, seconds: int = 5) -> float:
    """bit/s of TCP goodput; `ingress` into the VM (measured by the guest's server),
    `egress` out of it (-R, measured by the host's client)."""
    argv = ["iperf3", "-c", vm.ip, "-t", str(seconds), "-O", "1", "-J"]
    if direction == "egress":
        argv.append("-R")
    for _attempt in range(10):   # the guest's server restarts between tests
        out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30)
        data = json.loads(out.stdout or "{}")
        if "end" in data and "error" not in data:
            return data["end"]["sum_received"]["bits_per_second"]
        time.sleep(0.5)
    raise AssertionError(f"iperf3 failed: {data.get('error', out.stderr)}")


def policy(api: Api, name: str, kbps: int) -> dict:
    pol = api.call("POST", "/qos/policies", "policy", {"name": name}, 201)
    for direction in ("ingress", "egress"):
        api.call("POST", f"/qos/policies/{pol['id']}/bandwidth_limit_rules",
                 "bandwidth_limit_rule", {"max_kbps": kbps, "max_burst_kbps": 0,
                                          "direction": direction}, 201)
    return api.call("GET", f"/qos/policies/{pol['id']}", "policy")


def test_policy_limits_both_directions_and_changes_live(vm, setup):
    api, host, port, agent, log = setup
    pol = policy(api, "lv-" + host, 10_000)
    api.call("PUT", f"/ports/{port['id']}", "port", {"qos_policy_id": pol["id"]})
    wait_limit(vm.tap, 10_000_000, 10)
    ratios = {}
    for kbps in (10_000, 50_000):
        if kbps != 10_000:   # live change of the rule: same tap, same guest
            for rule in pol["rules"]:
                api.call("PUT", f"/qos/policies/{pol['id']}/bandwidth_limit_rules/{rule['id']}",
                         "bandwidth_limit_rule", {"max_kbps": kbps})
            wait_limit(vm.tap, kbps * 1000, 10)
        for direction in ("ingress", "egress"):
            ratios[(kbps, direction)] = goodput(vm, direction) / (kbps * 1000)
    print("goodput/limit:", {f"{k // 1000}M {d}": round(r, 3) for (k, d), r in ratios.items()})
    for key, ratio in ratios.items():
        assert 0.90 <= ratio <= 1.02, (key, ratio)
    agents = api.call("GET", "/agents", "agents")
    mine = next(a for a in agents if a["host"] == host)
    assert mine["backends"] == ["libvirt"]
    assert mine["capabilities"]["enforcement"] in ("tc", "libvirt")
    if not mine["capabilities"]["libvirt_bandwidth"]:
        assert mine["capabilities"]["enforcement"] == "tc"
        inactive = vm.virsh("dumpxml", "--inactive", vm.name).stdout
        assert "<bandwidth" not in inactive   # never a CONFIG <bandwidth> where it can't run


def test_hard_reboot_gets_its_limit_back_without_api_calls(vm, setup):
    api, host, port, agent, log = setup
    bits = limits_on(vm.tap)[0]
    assert bits, "the previous test leaves a limit"
    delays = []
    for _ in range(2):
        vm.destroy()
        assert limits_on(vm.tap) == (None, False)   # the tap is gone with its qdiscs
        vm.start()                                   # returns once the domain runs
        delays.append(wait_limit(vm.tap, bits, 2.0))
    print("limit back after domain start (s):", [round(d, 3) for d in delays])
    vm.wait_ready(120)
    ratio = goodput(vm, "ingress", 4) / bits
    assert 0.90 <= ratio <= 1.02, ratio


def test_hand_deleted_qdiscs_are_repaired(vm, setup):
    api, host, port, agent, log = setup
    bits = limits_on(vm.tap)[0]
    assert bits
    _tc("qdisc", "del", "dev", vm.tap, "root")
    _tc("qdisc", "del", "dev", vm.tap, "clsact")
    assert limits_on(vm.tap) == (None, False)
    took = wait_limit(vm.tap, bits, 12)   # the next resync (8 s) reads the kernel back
    print(f"drift repaired after {took:.2f} s")
    text = log.read_text()
    assert "(drift)" in text


def test_cli_vm_limit_and_show(vm, setup, sqlite_server):
    api, host, port, agent, log = setup
    env = {**os.environ, "NETQOS_URL": sqlite_server.url, "NETQOS_HOST": host}
    out = subprocess.run([NETQOS, "vm", "limit", vm.name, "--max", "20mbit",
                          "--direction", "both"], capture_output=True, text=True, env=env,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    bound = api.call("GET", f"/ports/{port['id']}", "port")
    pol = api.call("GET", f"/qos/policies/{bound['qos_policy_id']}", "policy")
    assert pol["name"].startswith(f"vm-{vm.name}")
    assert sorted((r["direction"], r["max_kbps"]) for r in pol["rules"]
                  if r["type"] == "bandwidth_limit") == [("egress", 20000), ("ingress", 20000)]
    wait_limit(vm.tap, 20_000_000, 10)
    # again, one direction only: the same per-VM policy is updated, not a new one
    out = subprocess.run([NETQOS, "vm", "limit", vm.name, "--mac", vm.mac, "--max", "30mbit",
                          "--direction", "in"], capture_output=True, text=True, env=env,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    again = api.call("GET", f"/ports/{port['id']}", "port")
    assert again["qos_policy_id"] == pol["id"]
    wait_limit(vm.tap, 30_000_000, 10)
    show = subprocess.run([NETQOS, "vm", "show", vm.name, "-f", "json"], capture_output=True,
                          text=True, env=env, timeout=60)
    assert show.returncode == 0, show.stderr
    rows = json.loads(show.stdout)
    assert rows[0]["port"] == port["id"] and rows[0]["mac"] == vm.mac
    assert rows[0]["policy"] == pol["name"]
    assert rows[0]["enforced_in_kbps"] == 30000 and rows[0]["enforced_out_kbps"] == 20000
