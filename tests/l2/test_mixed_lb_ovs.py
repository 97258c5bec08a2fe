"""A Linux-bridge host and an OVS host on the same VXLAN networks (same VNI, UDP port
4789, l2population entries on both sides: an fdb entry on the kernel's vxlan device, a
tunnel port and unicast flow on br-tun): their VMs reach each other, and two networks
stay apart across the two kinds of host."""
from __future__ import annotations

import pytest

from tests.conftest import unavailable
from tests.harness.l2hosts import Host, L2Lab
from tests.harness.util import wait_for
from tests.l2.conftest import populate
from tests.l2.test_linuxbridge_multihost import _converged


@pytest.fixture(scope="module")
def mixedlab(root):
    from tests.harness.l2ovs import OvsHost
    from tests.harness.ovs import installed

    if not installed():
        unavailable("the mixed L2 test needs Open vSwitch (openvswitch-switch)")
    lab = L2Lab(kinds=[Host, OvsHost])
    try:
        populate(lab, [(lab.network("vxlan", 2001), "red"),
                       (lab.network("vxlan", 2002), "blue")])
        lab.start()
        yield lab
    finally:
        lab.close()


def test_linuxbridge_and_ovs_hosts_reach_each_other_and_stay_isolated(mixedlab):
    assert wait_for(lambda: _converged(mixedlab), 15)
    lb, ovs = mixedlab.hosts
    red = mixedlab.networks[0]
    assert ("fa:16:3e:00:00:02", ovs.local_ip) in lb.fdb(f"vxlan-{red.segmentation_id}")
    assert any("dl_dst=fa:16:3e:00:00:01" in f for f in ovs.flows("br-tun"))
    same, cross = mixedlab.isolation(mixedlab.matrix(count=3))
    assert len(same) == 4 and all(same.values())
    assert sum(cross.values()) == 0
