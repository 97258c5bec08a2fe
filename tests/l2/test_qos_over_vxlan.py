"""QoS composes with the wiring: the tc backend shapes a VM's tap that the L2 engine plugged
into a VXLAN network, and the limits hold VM to VM across hosts; the DSCP mark is on the
inner packet and, with --dscp-inherit, copied to the outer (VXLAN/UDP) header.

Traffic runs under /tmp/netqos-traffic.lock so that measurements of engineers sharing the
machine do not overlap."""
from __future__ import annotations

import time

import pytest

from netqos.agent.backends.tc import TcBackend
from netqos.wire import PortQos
from tests.harness.l2hosts import L2Lab
from tests.harness.traffic import capture, limit_ratio, tos_of
from tests.harness.util import wait_for

LIMIT_KBPS = 50_000
DSCP = 26                      # AF31: TOS byte 0x68


@pytest.fixture(scope="module")
def qoslab(root):
    lab = L2Lab(hosts=2)
    try:
        net = lab.network("vxlan", 2001)
        a = lab.vm("a", lab.hosts[0], net, "198.19.3.1/24")
        b = lab.vm("b", lab.hosts[1], net, "198.19.3.2/24")
        lab.push()
        for host in lab.hosts:
            host.start(extra=("--dscp-inherit",))
        assert wait_for(lambda: lab.ping(a, b, count=1) > 0, 10)
        rules = ({"type": "bandwidth_limit", "max_kbps": LIMIT_KBPS, "max_burst_kbps": 0,
                  "direction": d} for d in ("egress", "ingress"))
        port = PortQos(a.port_id, 1, a.mac, (a.address,), device=a.tap,
                       rules=(*rules, {"type": "dscp_marking", "dscp_mark": DSCP}))
        _, result = TcBackend(netns=a.host.ns.name).sync([port])
        assert not result.errors, result.errors
        yield lab, a, b
    finally:
        lab.close()


@pytest.mark.parametrize("direction", ["egress", "ingress"])
def test_limit_holds_vm_to_vm_across_hosts(qoslab, direction):
    lab, a, b = qoslab
    assert 0.90 <= limit_ratio(a, b, direction, LIMIT_KBPS) <= 1.02


def test_dscp_on_inner_packet_and_copied_to_outer_header(qoslab):
    lab, a, b = qoslab
    host_b = b.host
    inner = capture(b.ns.name, "eth0", "icmp and src 198.19.3.1")
    outer = capture(host_b.ns.name, "eth0", "udp port 4789")
    time.sleep(0.5)
    lab.ping(a, b, count=4)
    tos = {"inner": tos_of(inner), "outer": tos_of(outer)}
    print(f"\nTOS of VM a's packets: inner {tos['inner']}, outer {tos['outer']}")
    want = hex(DSCP << 2)
    assert tos["inner"] and all(t == want for t in tos["inner"])
    assert want in tos["outer"]
