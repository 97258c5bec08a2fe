"""The whole path on Open vSwitch: a policy set through the API, enforced by a real
`netqos agent --backend openvswitch` process on a netdev bridge, measured with traffic.

The agent finds its ports by iface-id in OVSDB and is woken by OVSDB row events: a VM
plugged after the agent started gets its QoS at once, with the periodic resync far off.
"""
from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.harness.traffic import iperf3
from tests.dataplane.ovs_fixtures import ovs_lab  # noqa: F401
from tests.dataplane.test_agent_api import Api, applied
from tests.harness.agentproc import NETQOS
from tests.harness.util import stop_process
from tests.harness.util import wait_until


@pytest.fixture
def api(sqlite_server):
    return Api(sqlite_server.url)


@pytest.fixture
def ovs_agent(sqlite_server, ovs_lab, tmp_path):
    procs = []

    def start(host: str, resync: float = 300) -> subprocess.Popen:
        log = open(tmp_path / f"agent-{host}.log", "ab")
        proc = subprocess.Popen(
            [NETQOS, "agent", "--backend", "openvswitch", "--server", sqlite_server.url,
             "--host", host, "--bridge", ovs_lab.bridge, "--ovsdb", ovs_lab.db,
             "--poll-interval", "0.3", "--resync-interval", str(resync)],
            stdout=log, stderr=subprocess.STDOUT, env=ovs_lab.env)
        procs.append((proc, tmp_path / f"agent-{host}.log"))
        return proc

    yield start
    for proc, log in procs:
        stop_process(proc)
        print(Path(log).read_text()[-3000:])


def plug(lab, port: dict):
    return lab.add_vm(port_id=port["id"], mac=port["mac_address"])


def test_agent_enforces_an_api_policy_on_ovs(api, ovs_lab, ovs_agent):
    host = "ovs-" + uuid.uuid4().hex[:8]
    kbps = 20_000
    policy = api.policy("ovs", [("bandwidth_limit", {"max_kbps": kbps, "direction": d})
                                for d in ("egress", "ingress")]
                        + [("dscp_marking", {"dscp_mark": 18})])
    net = api.network()
    port = api.bound_port(net, host, policy)
    vm, peer = plug(ovs_lab, port), ovs_lab.add_vm()
    ovs_agent(host)
    wait_until(lambda: applied(api, port["id"]), 20, "the agent to apply the policy")
    for direction in ("egress", "ingress"):
        r = iperf3(None, vm, direction, seconds=4, server=(peer.ns, peer.ip4))["bps"]
        assert 0.90 <= r / (kbps * 1000) <= 1.02, (direction, r)

    # the agent reported its backend: the server now refuses what netdev cannot enforce
    agents = [a for a in api.http.get("/agents").json()["agents"] if a["host"] == host]
    assert agents and agents[0]["backends"] == ["openvswitch-netdev"], agents
    assert agents[0]["capabilities"]["egress_limit_by_meter"], agents
    r = api.http.post(f"/qos/policies/{policy['id']}/minimum_bandwidth_rules",
                      json={"minimum_bandwidth_rule": {"min_kbps": 1000,
                                                       "direction": "egress"}})
    assert r.status_code == 409, r.text

    # a VM plugged later is found through an OVSDB event, not the (300 s) resync
    late = api.bound_port(net, host, policy)
    plug(ovs_lab, late)
    wait_until(lambda: applied(api, late["id"]), 10, "the late port to get its QoS")
    assert ovs_lab.vsctl("get", "port", "tap" + late["id"][:11], "qos").strip() != "[]"

    # a QoS row deleted by hand comes back at once (the OVSDB event wakes the agent)
    ovs_lab.vsctl("clear", "port", vm.device, "qos")
    wait_until(lambda: ovs_lab.vsctl("get", "port", vm.device, "qos").strip() != "[]", 10,
             "the agent to restore the QoS row")
    state = wait_until(lambda: api.port(port["id"])["netqos:qos_state"]["drift_repaired"], 10,
                     "the drift report")
    assert any("shaper" in line for line in state), state


def _our_flows(lab) -> int:
    return lab.ofctl("dump-flows", lab.bridge, "cookie=0x4e51000000000000/0xffff000000000000"
                     ).count("cookie=")


def _meters(lab) -> int:
    return lab.ofctl("dump-meters", lab.bridge).count("meter=")


def test_flows_and_meters_deleted_by_hand_are_back_within_a_second(api, ovs_lab, ovs_agent):
    host = "ovs-" + uuid.uuid4().hex[:8]
    policy = api.policy("ovs-drift", [("bandwidth_limit", {"max_kbps": 10_000,
                                                           "direction": "egress"}),
                                      ("dscp_marking", {"dscp_mark": 18})])
    port = api.bound_port(api.network(), host, policy)
    plug(ovs_lab, port)
    ovs_agent(host)   # resync 300 s: only the watchers can repair in time
    wait_until(lambda: applied(api, port["id"]), 20, "the agent to apply the policy")
    flows, meters = _our_flows(ovs_lab), _meters(ovs_lab)
    assert flows and meters, (flows, meters)
    for what, argv in (("flows", ["del-flows", ovs_lab.bridge,
                                  "cookie=0x4e51000000000000/0xffff000000000000"]),
                       ("meters", ["del-meters", ovs_lab.bridge])):
        time.sleep(0.5)   # past the agent's own apply
        ovs_lab.ofctl(*argv)
        assert _our_flows(ovs_lab) < flows or _meters(ovs_lab) < meters, what
        started = time.monotonic()
        wait_until(lambda: _our_flows(ovs_lab) == flows and _meters(ovs_lab) == meters, 1.3,
                 f"the agent to restore the {what}", interval=0.02)
        print(f"{what} restored in {time.monotonic() - started:.3f} s")
    assert wait_until(lambda: api.port(port["id"])["netqos:qos_state"]["drift_repaired"], 5,
                    "the drift report")
