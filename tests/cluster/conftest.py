"""The cluster fixture: a real PostgreSQL and RabbitMQ (tests/conftest.py), `netqos server
--workers 2 --transport-url …` on PostgreSQL, and HOSTS simulated hosts (network
namespaces) of PORTS_PER_HOST tap veths each, every one with its own `netqos agent`
process. The agents run with no revision poll and a 300 s resync, so a change reaches them
in time only through RabbitMQ.

One cluster serves the whole module (it takes ~15 s to build); tests leave it converged.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

from tests.cluster.harness import Cluster
from tests.conftest import unavailable

HOSTS = 4
PORTS_PER_HOST = 50
START_KBPS = 10_000


@dataclass
class Bed:
    cluster: Cluster
    policy: dict
    rule: dict
    network: dict
    ports: list[str]

    def want(self, kbps: int | None) -> dict[str, int | None]:
        return {pid: kbps for pid in self.ports}


@pytest.fixture(scope="module")
def bed(fresh_postgres_url, rabbitmq_server, tmp_path_factory):
    if os.geteuid() != 0:
        unavailable("cluster tests need root (network namespaces)")
    if not rabbitmq_server.alive():   # a previous test left it stopped
        rabbitmq_server.start()
    cluster = Cluster(fresh_postgres_url, rabbitmq_server.url,
                      tmp_path_factory.mktemp("cluster"), workers=2)
    try:
        cluster.start_server()
        policy, rule = cluster.policy(START_KBPS)
        net = cluster.network(policy["id"])
        ports = []
        for _ in range(HOSTS):
            host = cluster.add_host(PORTS_PER_HOST, net["id"])
            ports += host.ports
        for host in cluster.hosts:
            host.start_agent()
        bed = Bed(cluster, policy, rule, net, ports)
        cluster.wait_enforced(bed.want(START_KBPS), timeout=60)
        yield bed
    finally:
        cluster.close()
