"""The console's live data in a cluster: an agent's counters and reports reach one server
replica, and a page streams them from another (shared over RabbitMQ, bus/live.py).

Two `netqos server` replicas (one with 2 workers) on one PostgreSQL database and one
RabbitMQ broker, as the cluster runs them.
"""
from __future__ import annotations

import time
import uuid

import httpx
import pytest

from tests.harness.server import ServerProcess
from tests.harness.util import wait_until

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def replicas(fresh_postgres_url, rabbitmq_server, tmp_path_factory):
    if not rabbitmq_server.alive():   # a previous test left it stopped
        rabbitmq_server.start()
    logs = tmp_path_factory.mktemp("live-fanout")
    args = ["--transport-url", rabbitmq_server.url]
    one = ServerProcess(fresh_postgres_url, extra_args=args, log_dir=logs).start()
    two = ServerProcess(fresh_postgres_url, extra_args=[*args, "--workers", "2"],
                        log_dir=logs).start()
    yield one, two
    two.stop()
    one.stop()



def test_counters_posted_to_one_replica_stream_from_another(replicas):
    one, two = replicas
    a, b = (httpx.Client(base_url=s.url, timeout=10) for s in (one, two))
    host = f"fan-{uuid.uuid4().hex[:8]}"
    net = a.post("/v2.0/networks", json={"network": {"name": host}}).json()["network"]
    port = a.post("/v2.0/ports", json={"port": {"network_id": net["id"],
                                                "binding:host_id": host}}).json()["port"]

    def post(at: float, tx: int) -> None:
        a.post(f"/v2.0/netqos/hosts/{host}/counters", json={"counters": {"at": at, "ports": [{
            "port_id": port["id"], "rx_bytes": 0, "tx_bytes": tx, "rx_packets": 0,
            "tx_packets": tx // 1000, "drops": 0,
            "limit": {"in_bps": 10_000_000, "out_bps": None}}]}}).raise_for_status()

    # The other replica's consumers are bound once it served a request; post until the
    # points arrive there (each of its workers answers some of these reads).
    t, tx = time.time(), 0

    def seen_everywhere():
        nonlocal t, tx
        post(t, tx)
        t, tx = t + 1, tx + 1_250_000
        got = [b.get(f"/v2.0/netqos/live/ports/{port['id']}").json()["live"]["samples"]
               for _ in range(4)]   # two workers: ask a few times, each must have it
        return all(s and s[-1][1] == 10_000_000 for s in got)
    wait_until(seen_everywhere, 20, "the points to reach the other replica's workers")

    with httpx.stream("GET", f"{two.url}/v2.0/netqos/live/stream",
                      params={"host": host}, timeout=10) as r:
        window = next(line for line in r.iter_lines() if line.startswith("data: "))
    assert port["id"] in window and "10000000" in window

    a.post(f"/v2.0/netqos/hosts/{host}/report", json={"report": {"ports": [{
        "port_id": port["id"], "revision": port["netqos:qos_state"]["desired_revision"],
        "status": "ERROR", "reason": "tc said no"}]}}).raise_for_status()
    wait_until(lambda: any(e["detail"] == "tc said no"
                         for e in b.get("/v2.0/netqos/events").json()["events"]),
             10, "the report's error in the other replica's journal")
