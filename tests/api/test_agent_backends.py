"""Support tables declared by backends, enforced by the server (service/agents.py).

Each agent's heartbeat carries its backend's support table; the server keeps one agent
row per (host, type, backend), refuses (409) what the reported table of the backend that
owns a port (by vnic type) cannot enforce, and falls back to its built-in tables only for
a host whose agents serve no such port. A plug-in backend (here `fakenic`, known to no
built-in table) needs nothing on the server: its table shows in rule-types once reported.
A module of its own server, since reported tables change what rule-types lists.
"""
from __future__ import annotations

import dataclasses
import uuid

import httpx
import pytest

from netqos.agent.backends.base import ApplyResult, Change, PortBackend
from netqos.agent.client import ServerClient
from netqos.agent.loop import Agent, AgentConfig
from netqos.qos.backends import LINUX_TC, SRIOV, BackendSupport, RuleSupport
from netqos.qos.rules import VALID_DSCP_MARKS
from tests.api.conftest import BOTH_DATABASES, own_api, own_server
from tests.api.helpers_core import ok

HOSTS = "/v2.0/netqos/hosts"
# A plug-in NIC backend that can mark DSCP on VF ports and nothing else.
FAKENIC = BackendSupport("fakenic", "hw_veb", ("direct",), (
    RuleSupport("dscp_marking", note="set by the NIC"),))


@pytest.fixture(scope="module", params=BOTH_DATABASES)
def server(request, tmp_path_factory):
    yield from own_server(request, tmp_path_factory, "agentbackends")


api = pytest.fixture(name="api")(own_api)


def heartbeat(api, host: str, table: BackendSupport | dict, code: int = 200, **extra):
    support = table.to_wire() if isinstance(table, BackendSupport) else table
    return api.post(f"{HOSTS}/{host}/report", json={"report": {"agent": {
        "backends": [support["name"]], "support": support, **extra}, "ports": []}})


def policy(api, rule_type: str, body: dict) -> str:
    pid = ok(api.post("/v2.0/qos/policies", json={"policy": {"name": "p"}}), 201)["policy"]["id"]
    ok(api.post(f"/v2.0/qos/policies/{pid}/{rule_type}_rules",
                json={f"{rule_type}_rule": body}), 201)
    return pid


def bind(api, host: str, vnic: str, policy_id: str) -> httpx.Response:
    net = ok(api.post("/v2.0/networks", json={"network": {"name": "n"}}), 201)["network"]
    return api.post("/v2.0/ports", json={"port": {
        "network_id": net["id"], "binding:host_id": host, "binding:vnic_type": vnic,
        "binding:profile": {"pci_slot": "0000:3b:02.1"}, "qos_policy_id": policy_id}})


def test_one_row_per_backend_with_the_table_it_reported(api):
    host = f"h-{uuid.uuid4().hex[:8]}"
    ok(heartbeat(api, host, LINUX_TC, uplinks={"eth0": 1000}))
    ok(heartbeat(api, host, SRIOV))
    ok(heartbeat(api, host, SRIOV))          # the same agent again: still one row
    rows = [a for a in ok(api.get("/v2.0/agents"))["agents"] if a["host"] == host]
    assert sorted((a["backend"], a["backends"], a["agent_type"]) for a in rows) == [
        ("linuxtc", ["linuxtc"], "netqos"), ("sriovnicswitch", ["sriovnicswitch"], "netqos")]
    by = {a["backend"]: a for a in rows}
    assert BackendSupport.from_wire(by["sriovnicswitch"]["support"]) == SRIOV
    assert by["linuxtc"]["uplinks"] == {"eth0": 1000}


@pytest.mark.parametrize("mangle,why", [
    (lambda t: {**t, "rules": [{"rule_type": "teleport"}]}, "unknown rule type"),
    (lambda t: {**t, "rules": [{"rule_type": "bandwidth_limit",
                                "directions": ["sideways"]}]}, "no direction"),
    (lambda t: {**t, "rules": [{"rule_type": "bandwidth_limit",
                                "ranges": {"max_kbps": [0, 2**40]}}]}, "outside"),
    (lambda t: {**t, "rules": [{"rule_type": "bandwidth_limit",
                                "ranges": {"max_kbps": ["0", 1]}}]}, "bad range"),
    (lambda t: {**t, "name": "rm -rf /"}, "is not a name"),
    (lambda t: {**t, "rules": "all"}, "must be a list"),
])
def test_a_bad_table_is_refused_with_a_400(api, mangle, why):
    resp = heartbeat(api, "h-bad", mangle(SRIOV.to_wire()))
    assert resp.status_code == 400, resp.text
    assert resp.json()["NeutronError"]["type"] == "HTTPBadRequest"
    assert why in resp.json()["NeutronError"]["message"]


def test_a_table_of_another_backend_is_refused(api):
    resp = api.post(f"{HOSTS}/h-x/report", json={"report": {"agent": {
        "backends": ["linuxtc"], "support": SRIOV.to_wire()}, "ports": []}})
    assert resp.status_code == 400 and "sriovnicswitch" in resp.text, resp.text


def test_409s_follow_the_reported_table_of_the_owning_backend(api):
    dscp = policy(api, "dscp_marking", {"dscp_mark": 26})
    limit = policy(api, "bandwidth_limit", {"max_kbps": 10_000, "direction": "egress"})
    # No agent yet: the built-in tables (SR-IOV for a direct port) decide.
    fresh = f"h-{uuid.uuid4().hex[:8]}"
    assert bind(api, fresh, "direct", dscp).status_code == 409
    ok(bind(api, fresh, "direct", limit), 201)
    # A host whose VF ports belong to the plug-in: its table decides, both ways.
    host = f"h-{uuid.uuid4().hex[:8]}"
    ok(heartbeat(api, host, LINUX_TC))
    ok(heartbeat(api, host, FAKENIC))
    port = ok(bind(api, host, "direct", dscp), 201)["port"]
    assert port["binding:vif_type"] == "hw_veb"
    resp = bind(api, host, "direct", limit)
    assert resp.status_code == 409, resp.text
    assert resp.json()["NeutronError"]["type"] == "QosRuleNotSupported"
    # Its tap ports stay linuxtc's: a limit is fine there.
    ok(bind(api, host, "normal", limit), 201)


def test_rule_types_show_a_reported_plugin_backend(api):
    ok(heartbeat(api, f"h-{uuid.uuid4().hex[:8]}", FAKENIC))
    drivers = ok(api.get("/v2.0/qos/rule-types/dscp_marking"))["rule_type"]["drivers"]
    assert {"name": "fakenic", "supported_parameters": [
        {"parameter_name": "dscp_mark", "parameter_type": "choices",
         "parameter_values": list(VALID_DSCP_MARKS)}],
        "enforced": True, "note": "set by the NIC"} in drivers
    names = {d["name"] for d in ok(api.get(
        "/v2.0/qos/rule-types/bandwidth_limit"))["rule_type"]["drivers"]}
    assert "fakenic" not in names and "linuxtc" in names
    # The default list is what every loaded backend supports: the plug-in narrows it.
    types = [t["type"] for t in ok(api.get("/v2.0/qos/rule-types"))["rule_types"]]
    assert types == ["dscp_marking"]
    every = [t["type"] for t in ok(api.get("/v2.0/qos/rule-types",
                                           params={"all_supported": "true"}))["rule_types"]]
    assert "bandwidth_limit" in every and "dscp_marking" in every


class MemNic(PortBackend):
    """A complete plug-in backend in ~25 lines (os-vif's PluginBase is the model): it
    declares its table and keeps the "enforced" limits in memory. Nothing on the server
    knows it."""

    support = BackendSupport("memnic", "vhostuser", ("virtio-forwarder",), (
        RuleSupport("bandwidth_limit", directions=("egress",)),))
    link_devices = False
    device_kind = "memory"

    def __init__(self):
        self.held: dict[str, int] = {}

    def locate(self, ports):
        return [dataclasses.replace(p, device="mem0") for p in ports], []

    def observe(self, ports):
        return dict(self.held)

    def plan(self, desired, actual):
        want = {p.port_id: next((r.max_kbps for r in p.rules), 0) for p in desired}
        return [Change(pid, "update", "limit", f"{actual.get(pid, 0)} -> {kbps}",
                       payload=kbps) for pid, kbps in want.items() if actual.get(pid) != kbps]

    def apply(self, changes):
        self.held.update({c.port_id: c.payload for c in changes})
        return ApplyResult(applied=[c.port_id for c in changes])

    def enforced(self, ports, actual=None):
        return {p.port_id: {"egress": {"rate_kbps": self.held.get(p.port_id)}} for p in ports}


def test_a_plugin_backend_needs_nothing_on_the_server(api, server):
    """The real agent loop drives the plug-in; its heartbeat teaches the server its table:
    before it, a virtio-forwarder port falls back to linuxtc's table (an into-VM limit
    passes); after it, memnic's (egress only: 409)."""
    host = f"h-{uuid.uuid4().hex[:8]}"
    egress = policy(api, "bandwidth_limit", {"max_kbps": 3_000, "direction": "egress"})
    ingress = policy(api, "bandwidth_limit", {"max_kbps": 3_000, "direction": "ingress"})
    mine = ok(bind(api, host, "virtio-forwarder", egress), 201)["port"]
    tap = ok(bind(api, host, "normal", ingress), 201)["port"]
    assert ok(bind(api, host, "virtio-forwarder", ingress), 201)    # built-in fallback
    backend = MemNic()
    agent = Agent(AgentConfig(host=host), ServerClient(server.url), backend)
    try:
        agent.sync()
    finally:
        agent.client.http.close()
    assert backend.held[mine["id"]] == 3_000 and tap["id"] not in backend.held
    assert backend.enforced(agent.ports_here)[mine["id"]]["egress"]["rate_kbps"] == 3_000
    [row] = [a for a in ok(api.get("/v2.0/agents"))["agents"] if a["host"] == host]
    assert row["backend"] == "memnic" and row["configurations"]["device_kind"] == "memory"
    state = ok(api.get(f"/v2.0/ports/{mine['id']}"))["port"]["netqos:qos_state"]
    assert state["status"] == "ACTIVE" and state["applied_revision"] == state["desired_revision"]
    # The tap port is not memnic's: not reported, not marked DOWN by it.
    assert ok(api.get(f"/v2.0/ports/{tap['id']}"))["port"]["netqos:qos_state"][
        "applied_revision"] is None
    resp = bind(api, host, "virtio-forwarder", ingress)
    assert resp.status_code == 409, resp.text
