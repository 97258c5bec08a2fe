"""Multi-host L2 tests: three namespaces as hosts on a shared fabric, one L2 engine process
each (see tests/harness/l2hosts.py). Root and iproute2 are needed; CI turns a skip into a
failure (the tests are marked dataplane)."""
from __future__ import annotations

import os
import shutil

import pytest

from tests.conftest import unavailable
from tests.harness.l2hosts import L2Lab


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/l2/" in str(item.fspath):
            item.add_marker(pytest.mark.dataplane)


@pytest.fixture(scope="module")
def root():
    if os.geteuid() != 0:
        unavailable("L2 tests need root (network namespaces)")
    missing = [t for t in ("ip", "bridge", "busybox") if not shutil.which(t)]
    if missing:
        unavailable(f"L2 tests need {', '.join(missing)}")


@pytest.fixture(scope="module")
def l2lab(root):
    """Three hosts, two VXLAN networks on the same CIDR and one flat network, three VMs
    per network (one per host), every engine converged."""
    lab = L2Lab(hosts=3)
    try:
        red = lab.network("vxlan", 1001)
        blue = lab.network("vxlan", 1002)
        flat = lab.network("flat", physical_network="physnet1")
        # Every network on 198.19.1.0/24, distinct host parts: a frame leaking between
        # networks would be answered (same subnet: ARP, then echo), so zero is meaningful.
        for net, name, base in ((red, "red", 10), (blue, "blue", 20), (flat, "flat", 30)):
            for i, host in enumerate(lab.hosts):
                lab.vm(f"{name}{i + 1}", host, net, f"198.19.1.{base + i + 1}/24")
        lab.start()
        yield lab
    finally:
        lab.close()
