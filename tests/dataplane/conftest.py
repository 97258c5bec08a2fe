"""Fixtures for the dataplane tests: real namespaces, real kernel, real traffic.

Namespaces are named nq-<pid>-<n>-…, use only 198.18.0.0/15 and fd00:198:18::/48, and are
deleted after each test whatever happens. The tests need root, iperf3, tc, nft and tcpdump;
without them they skip outside CI (and the suite's CI policy turns such a skip into a failure).
"""
from __future__ import annotations

import pytest

from netqos.agent.backends.tc import TcBackend
from tests.harness.lab import Lab
from tests.harness.util import require_root


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/dataplane/" in str(item.fspath):
            item.add_marker(pytest.mark.dataplane)


@pytest.fixture(autouse=True)
def _requirements():
    require_root("dataplane tests", "iperf3", "tc", "nft", "tcpdump", "ip")


@pytest.fixture
def lab():
    with Lab() as lab:
        yield lab


@pytest.fixture
def bridge_lab():
    with Lab().with_bridge() as lab:
        yield lab


@pytest.fixture
def backend(lab):
    return TcBackend(netns=lab.host)
