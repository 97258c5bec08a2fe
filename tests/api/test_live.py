"""The live endpoints behind the console: agents' counters in, rates and history out, to
whoever may see the port (on SQLite and PostgreSQL servers)."""
from __future__ import annotations

import time
import uuid

import httpx
import pytest

from tests.api.conftest import assert_error, new_project, who

COUNTERS = "/v2.0/netqos/hosts/{host}/counters"


def entry(port_id: str, rx: int, tx: int, drops: int = 0, **extra) -> dict:
    return {"port_id": port_id, "device": f"tap{port_id[:11]}", "rx_bytes": rx,
            "tx_bytes": tx, "rx_packets": rx // 1000, "tx_packets": tx // 1000,
            "drops": drops, "limit": {"in_bps": 10_000_000, "out_bps": None}, **extra}


def post(api, host: str, at: float, *entries, headers=None) -> httpx.Response:
    return api.post(COUNTERS.format(host=host), headers=headers,
                    json={"counters": {"at": at, "ports": list(entries)}})


@pytest.fixture
def bound_port(api):
    project, host = new_project(), f"live-{uuid.uuid4().hex[:8]}"
    net = api.post("/v2.0/networks", json={"network": {"project_id": project}}).json()["network"]
    port = api.post("/v2.0/ports", json={"port": {
        "network_id": net["id"], "project_id": project,
        "binding:host_id": host}}).json()["port"]
    return project, host, port


def test_counters_become_rates_for_the_port_owner_only(api, bound_port):
    project, host, port = bound_port
    t = time.time()
    objects = [{"dev": "tapx", "kind": "tbf", "handle": "4e51:", "parent": "root",
                "options": {"rate_bps": 10_000_000}, "drops": 3, "overlimits": 9}]
    assert post(api, host, t, entry(port["id"], 0, 0, objects=objects)).json()["accepted"] == 1
    # One second later: 1.25 MB into the VM = 10 Mbit/s; 125 kB out = 1 Mbit/s.
    post(api, host, t + 1, entry(port["id"], 125_000, 1_250_000, drops=7))
    mine = api.get(f"/v2.0/netqos/live/ports/{port['id']}", headers=who(project, "member"))
    live = mine.json()["live"]
    [sample] = [dict(zip(live["fields"], s)) for s in live["samples"]]
    assert sample["in_bps"] == 10_000_000 and sample["out_bps"] == 1_000_000
    assert sample["drops_ps"] == 7
    assert live["limit"] == {"in_bps": 10_000_000, "out_bps": None}
    assert live["objects"] == objects and live["host"] == host
    # Another project's member: the port does not exist for it.
    other = api.get(f"/v2.0/netqos/live/ports/{port['id']}", headers=who(new_project(), "member"))
    assert_error(other, 404, "PortNotFound")
    # Prometheus has the same per-port series.
    text = api.get("/metrics").text
    assert f'netqos_port_rate_bits_per_second{{direction="ingress",host="{host}",' \
           f'port="{port["id"]}"}} 1e+07' in text
    assert f'netqos_port_limiter_drops_total{{host="{host}",port="{port["id"]}"}} 7.0' in text


def test_counters_of_ports_bound_elsewhere_are_dropped(api, bound_port):
    _, host, port = bound_port
    assert post(api, "another-host", time.time(), entry(port["id"], 0, 0)).json() == {
        "host": "another-host", "accepted": 0}
    assert post(api, host, time.time(), entry(port["id"], 0, 0),
                entry(str(uuid.uuid4()), 0, 0)).json()["accepted"] == 1


def test_a_counter_that_goes_back_restarts_the_series(api, bound_port):
    _, host, port = bound_port
    t = time.time()
    for dt, tx in ((0, 5_000_000), (1, 6_250_000), (2, 1_000)):   # device re-created
        post(api, host, t + dt, entry(port["id"], 0, tx))
    samples = api.get(f"/v2.0/netqos/live/ports/{port['id']}").json()["live"]["samples"]
    assert [s[1] for s in samples] == [10_000_000]


def test_stream_sends_the_window_then_ticks_of_visible_ports(api, bound_port, api_server):
    project, host, port = bound_port
    t = time.time()
    post(api, host, t - 1, entry(port["id"], 0, 0))
    post(api, host, t, entry(port["id"], 0, 250_000))
    events = []
    with httpx.stream("GET", f"{api_server.url}/v2.0/netqos/live/stream",
                      params={"host": host}, headers=who(project, "reader"), timeout=10) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("event: "):
                events.append(line[7:])
            elif line.startswith("data: ") and len(events) == 1:
                assert port["id"] in line and "2000000" in line   # 250 kB/s = 2 Mbit/s
            if len(events) == 2:
                break
    assert events == ["window", "tick"]
    # Another project streams the same host and gets none of its ports.
    with httpx.stream("GET", f"{api_server.url}/v2.0/netqos/live/stream",
                      params={"host": host}, headers=who(new_project(), "member"),
                      timeout=10) as r:
        first = next(line for line in r.iter_lines() if line.startswith("data: "))
    assert port["id"] not in first


@pytest.mark.parametrize("body, message", [
    ({"counters": {"at": "now", "ports": []}}, "counters.at must be a number"),
    ({"counters": {"at": 1, "ports": {}}}, "counters.ports must be a list"),
    ({"counters": {"at": 1, "ports": [{"port_id": "p", "rx_bytes": -1}]}}, "non-negative"),
    ({"counters": {"at": 1, "ports": [{**entry("p", 0, 0), "limit": {"in_bps": "x"}}]}},
     "limit must be"),
    ({"counters": {"at": 1, "ports": [{**entry("p", 0, 0), "objects": "tbf"}]}},
     "objects must be a list"),
    ({"nothing": 1}, "Unable to find 'counters'"),
])
def test_bad_counters_are_400(api, body, message):
    r = api.post(COUNTERS.format(host="h"), json=body)
    assert_error(r, 400)
    assert message in r.json()["NeutronError"]["message"]


def test_only_agents_post_counters_and_need_a_stream_target(api):
    r = post(api, "h", 1.0, headers=who(new_project(), "member"))
    assert_error(r, 403)
    assert_error(api.get("/v2.0/netqos/live/stream"), 400)


def test_whoami_and_events(api, bound_port):
    project, host, port = bound_port
    me = api.get("/v2.0/netqos/whoami", headers=who(project, "member", user="u1")).json()
    # Roles as the policy engine sees them: Keystone's implied ones added (member ⇒ reader).
    assert me["whoami"] == {"project_id": project, "user_id": "u1",
                            "roles": ["member", "reader"], "is_admin": False}
    report = {"report": {"ports": [{"port_id": port["id"], "revision": 0, "status": "ERROR",
                                    "reason": "tc refused", "drift": ["tbf re-added"]}]}}
    api.post(f"/v2.0/netqos/hosts/{host}/report", json=report).raise_for_status()
    mine = api.get("/v2.0/netqos/events", headers=who(project, "member")).json()["events"]
    assert {(e["kind"], e["detail"]) for e in mine if e["port_id"] == port["id"]} == {
        ("error", "tc refused"), ("drift", "tbf re-added")}
    theirs = api.get("/v2.0/netqos/events", headers=who(new_project(), "member")).json()
    assert not [e for e in theirs["events"] if e["port_id"] == port["id"]]
    assert_error(api.get("/v2.0/netqos/events", params={"since": "an hour"}), 400)
