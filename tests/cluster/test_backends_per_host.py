"""Two backends on one host: tap ports enforced by a `netqos agent --backend linuxtc`
process, SR-IOV ports by an SR-IOV agent, each owning the ports of its vnic types.

The SR-IOV side is FAKE (this machine has no SR-IOV NIC): its agent runs in this process
on a fake sysfs tree and a recording netlink layer (tests/harness/sriov.py), against the
same real server (PostgreSQL, tokens mode) with the host's own agent token. Everything
else is real: the linuxtc agent is a process shaping veths in a namespace.

What it shows: each agent enforces its own ports and leaves the other's alone (neither
reports the other's ports DOWN), /v2.0/agents has one row per (host, backend) with the
support table each reported, and the server's 409s follow the reported table of the
backend that owns the port.
"""
from __future__ import annotations

import os
import threading
import time

import pytest

from netqos.agent.backends.sriov import SriovBackend
from netqos.agent.client import ServerClient
from netqos.agent.loop import Agent, AgentConfig
from tests.cluster.harness import POLICIES, Cluster
from tests.conftest import unavailable
from tests.harness.sriov import PF, FakeNetlink, make_sysfs, vf_slot
from tests.harness.util import wait_for

TAP_PORTS = 3
TAP_KBPS = 8_000
VF_LIMIT_KBPS, VF_MIN_KBPS = 20_000, 5_000


@pytest.fixture(scope="module")
def cluster(fresh_postgres_url, rabbitmq_server, tmp_path_factory):
    if os.geteuid() != 0:
        unavailable("cluster tests need root (network namespaces)")
    if not rabbitmq_server.alive():
        rabbitmq_server.start()
    c = Cluster(fresh_postgres_url, rabbitmq_server.url, tmp_path_factory.mktemp("backends"))
    try:
        yield c.start_server()
    finally:
        c.close()


def _rule(c: Cluster, policy_id: str, kind: str, body: dict, status: int = 201):
    resp = c.api.post(f"{POLICIES}/{policy_id}/{kind}_rules", json={f"{kind}_rule": body})
    assert resp.status_code == status, resp.text
    return resp


def _qos_state(c: Cluster, port_ids: list[str]) -> dict[str, dict]:
    ports = c.ok(c.api.get("/v2.0/ports"))["ports"]
    return {p["id"]: {**p["netqos:qos_state"], "vif": p["binding:vif_type"]}
            for p in ports if p["id"] in port_ids}


def test_tap_and_sriov_ports_on_one_host(cluster, tmp_path):
    c = cluster
    tap_policy, _ = c.policy(TAP_KBPS, name="taps")
    vf_policy = c.ok(c.api.post(POLICIES, json={"policy": {"name": "vfs"}}), 201)["policy"]
    _rule(c, vf_policy["id"], "bandwidth_limit",
          {"max_kbps": VF_LIMIT_KBPS, "direction": "egress"})
    _rule(c, vf_policy["id"], "minimum_bandwidth",
          {"min_kbps": VF_MIN_KBPS, "direction": "egress"})
    net = c.network()
    host = c.add_host(TAP_PORTS, net["id"], qos_policy_id=tap_policy["id"])
    taps = list(host.ports)
    vfs = [c.ok(c.api.post("/v2.0/ports", json={"port": {
        "network_id": net["id"], "binding:host_id": host.name,
        "binding:vnic_type": "direct", "binding:profile": {"pci_slot": vf_slot(n)},
        "qos_policy_id": vf_policy["id"], "device_owner": "compute:nova"}}), 201)["port"]["id"]
        for n in (1, 2)]

    # The tap agent alone: its ports enforced, the VF ports not its to report.
    host.start_agent("--backend", "linuxtc", poll=0.5, bus=False)
    c.wait_enforced({pid: TAP_KBPS for pid in taps}, timeout=60)
    assert wait_for(lambda: all(s["status"] == "ACTIVE"
                                for s in _qos_state(c, taps).values()), timeout=30)
    time.sleep(1.5)   # more passes of the tap agent (poll 0.5 s): nothing reported for VFs
    # (a report, even "DOWN: no device for the port on this host", sets applied_revision)
    assert all(s["applied_revision"] is None and s["reason"] == ""
               for s in _qos_state(c, vfs).values()), _qos_state(c, vfs)

    # The SR-IOV agent beside it (fake sysfs and netlink, see the module's docstring).
    netlink = FakeNetlink()
    backend = SriovBackend(sysfs_root=str(make_sysfs(tmp_path / "sys")), netlink=netlink)
    token = c.agent_token_file(host.name).read_text().strip()
    agent = Agent(AgentConfig(host=host.name, poll_interval=0.5, heartbeat_interval=1),
                  ServerClient(c.server.url, token), backend)
    stop = threading.Event()
    thread = threading.Thread(target=agent.run, args=(stop,), daemon=True)
    thread.start()
    try:
        want = (VF_LIMIT_KBPS // 1000, VF_MIN_KBPS // 1000)
        assert wait_for(lambda: netlink.rates(PF)[1] == want and netlink.rates(PF)[2] == want,
                        timeout=30), netlink.calls
        assert wait_for(lambda: all(s["status"] == "ACTIVE"
                                    for s in _qos_state(c, vfs).values()), timeout=30)
        time.sleep(1.5)   # more passes of both agents: nobody marks the other's ports
        states = _qos_state(c, taps + vfs)
        assert {pid: s["status"] for pid, s in states.items()} == dict.fromkeys(
            taps + vfs, "ACTIVE"), states
        assert {states[p]["vif"] for p in taps} == {"tap"}
        assert {states[p]["vif"] for p in vfs} == {"hw_veb"}
        assert c.mismatches({pid: TAP_KBPS for pid in taps}) == {}

        # One row per (host, backend), each alive with the table it reported.
        rows = [a for a in c.ok(c.api.get("/v2.0/agents"))["agents"]
                if a["host"] == host.name]
        assert sorted((a["backend"], a["alive"]) for a in rows) == [
            ("linuxtc", True), ("sriovnicswitch", True)], rows
        tables = {a["backend"]: a["support"] for a in rows}
        assert tables["sriovnicswitch"]["vnic_types"] == ["direct", "macvtap"]
        assert {r["rule_type"] for r in tables["linuxtc"]["rules"]} >= {"dscp_marking"}

        # The server refuses by the owning backend's reported table: DSCP on the VFs' policy
        # (409), while the taps' policy takes it and their agent applies it.
        resp = _rule(c, vf_policy["id"], "dscp_marking", {"dscp_mark": 26}, 409)
        assert "dscp_marking" in resp.text
        _rule(c, tap_policy["id"], "dscp_marking", {"dscp_mark": 26})
        assert wait_for(lambda: all(s["status"] == "ACTIVE" and s["applied_revision"]
                                    == s["desired_revision"]
                                    for s in _qos_state(c, taps).values()), timeout=30)
    finally:
        stop.set()
        thread.join(10)
        agent.client.http.close()
