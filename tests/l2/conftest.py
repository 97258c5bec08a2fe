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


def populate(lab: L2Lab, networks) -> None:
    """Three VMs per network, one per host, every network on 198.19.1.0/24 with distinct
    host parts: a frame leaking between networks would be answered (same subnet: ARP, then
    echo), so zero replies is meaningful."""
    for n, (net, name) in enumerate(networks):
        for i, host in enumerate(lab.hosts):
            lab.vm(f"{name}{i + 1}", host, net, f"198.19.1.{10 * (n + 1) + i + 1}/24")


@pytest.fixture(scope="module")
def l2lab(root):
    """Three hosts, two VXLAN networks on the same CIDR and one flat network, three VMs
    per network (one per host), every engine converged."""
    lab = L2Lab(hosts=3)
    try:
        populate(lab, [(lab.network("vxlan", 1001), "red"),
                       (lab.network("vxlan", 1002), "blue"),
                       (lab.network("flat", physical_network="physnet1"), "flat")])
        lab.start()
        yield lab
    finally:
        lab.close()


@pytest.fixture(scope="module")
def ovslab(root):
    """The same on three Open vSwitch hosts (one ovsdb-server/ovs-vswitchd each, userspace
    datapath): two VXLAN networks, a VLAN and a flat provider network on one physical
    link, three VMs per network."""
    from tests.harness.l2ovs import OvsHost
    from tests.harness.ovs import installed

    if not installed():
        unavailable("OVS L2 tests need Open vSwitch (openvswitch-switch)")
    lab = L2Lab(kinds=[OvsHost] * 3)
    try:
        populate(lab, [(lab.network("vxlan", 1001), "red"),
                       (lab.network("vxlan", 1002), "blue"),
                       (lab.network("vlan", 100, physical_network="physnet1"), "vlan"),
                       (lab.network("flat", physical_network="physnet1"), "flat")])
        lab.start()
        yield lab
    finally:
        lab.close()


@pytest.fixture(scope="module")
def api_lab(root, sqlite_server):
    """Through the API (tests/harness/l2api.py), one real agent per host: three hosts, two
    VXLAN tenant networks and one flat provider network, all on the same CIDR; red and
    blue have a VM on every host, flat one on hosts 1 and 3. Agents copy the DSCP mark to
    the VXLAN outer header (--dscp-inherit) and shape guarantees on the underlay eth0 as a
    100 Mbit/s uplink (a tree there only while a port has a minimum_bandwidth rule)."""
    from tests.harness.l2api import ApiLab

    lab = ApiLab(sqlite_server.url, agent_args=("--dscp-inherit", "--uplink", "eth0:100000"))
    try:
        red, blue, flat = lab.network(), lab.network(), lab.network(flat=True)
        h1, h2, h3 = lab.lab.hosts
        for name, net, base, hosts in (("red", red, 10, (h1, h2, h3)),
                                       ("blue", blue, 20, (h1, h2, h3)),
                                       ("flat", flat, 30, (h1, h3))):
            for i, host in enumerate(hosts):
                lab.vm(f"{name}{i + 1}", host, net, f"198.19.1.{base + i + 1}")
        lab.start_agents()
        yield lab
    finally:
        lab.close()
