"""Fixtures for the dataplane tests: real namespaces, real kernel, real traffic.

Namespaces are named nq-<pid>-<n>-…, use only 198.18.0.0/15 and fd00:198:18::/48, and are
deleted after each test whatever happens. The tests need root, iperf3, tc, nft and tcpdump;
without them they skip outside CI (and the suite's CI policy turns such a skip into a failure).
"""
from __future__ import annotations

import itertools
import os
import shutil

import pytest

from netqos.agent.backends.tc import TcBackend
from tests.harness.lab import Lab

_count = itertools.count()


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/dataplane/" in str(item.fspath):
            item.add_marker(pytest.mark.dataplane)


@pytest.fixture(autouse=True)
def _requirements():
    if os.geteuid() != 0:
        pytest.skip("dataplane tests need root (network namespaces, tc, nft)")
    missing = [t for t in ("iperf3", "tc", "nft", "tcpdump", "ip") if not shutil.which(t)]
    if missing:
        pytest.skip(f"dataplane tests need {', '.join(missing)}")


@pytest.fixture
def lab():
    with Lab(prefix=f"nq-{os.getpid()}-{next(_count)}-") as lab:
        yield lab


@pytest.fixture
def bridge_lab():
    with Lab(prefix=f"nq-{os.getpid()}-{next(_count)}-").with_bridge() as lab:
        yield lab


@pytest.fixture
def backend(lab):
    return TcBackend(netns=lab.host)
