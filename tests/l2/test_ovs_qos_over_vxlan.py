"""QoS composes with the OVS wiring: the OVS QoS backend (meters, linux-htb, DSCP flows:
cookie 0x4e51, tables 0-2 of br-int) runs on the br-int the L2 engine tags and patches
(cookie 0x4e52), and the limits and the mark hold VM to VM across two OVS hosts through
VXLAN. The guests finish their own checksums (OVS 3.1's userspace datapath does not when
it encapsulates: the engine's tunnel_csum_offload capability)."""
from __future__ import annotations

import pytest

from netqos.agent.backends.ovs import OvsBackend
from netqos.wire import PortQos
from tests.harness.l2hosts import L2Lab
from tests.harness.util import wait_for
from tests.l2.test_qos_over_vxlan import DSCP, LIMIT_KBPS, limit_ratio
from tests.l2.test_qos_over_vxlan import \
    test_dscp_on_inner_packet_and_copied_to_outer_header as _dscp_check

# The OVS backend's egress meter is scaled by 1448/1514 for userspace TSO (its senders'
# segments hide their headers from the meter); these guests do not offload (see above),
# so the meter counts every frame: expected goodput = 0.956 x the TCP payload of a
# 1450-byte-MTU frame (1398/1464) = 0.913 of the limit. The ingress shaper is linux-htb.
EXPECTED = {"egress": 1448 / 1514 * 1398 / 1464, "ingress": 1398 / 1464}


@pytest.fixture(scope="module")
def ovsqoslab(root):
    from tests.harness.l2ovs import OvsHost

    lab = L2Lab(kinds=[OvsHost] * 2)
    backend = None
    try:
        net = lab.network("vxlan", 2001)
        a = lab.vm("a", lab.hosts[0], net, "198.19.3.1/24")
        b = lab.vm("b", lab.hosts[1], net, "198.19.3.2/24")
        for vm in (a, b):
            vm.host.prepare_guest(vm)
        lab.push()
        for host in lab.hosts:
            host.start(extra=("--dscp-inherit",))
        assert wait_for(lambda: lab.ping(a, b, count=1) > 0, 10)
        ovs = a.host.ovs
        backend = OvsBackend(bridge="br-int", ovsdb=ovs.db, rundir=ovs.rundir, env=ovs.env)
        rules = ({"type": "bandwidth_limit", "max_kbps": LIMIT_KBPS, "max_burst_kbps": 0,
                  "direction": d} for d in ("egress", "ingress"))
        port = PortQos(a.port_id, 1, a.mac, (a.address,), device=a.tap,
                       rules=(*rules, {"type": "dscp_marking", "dscp_mark": DSCP}))
        _, result = backend.sync([port])
        assert not result.errors, result.errors
        flows = ovs.ofctl("dump-flows", "br-int")
        assert "cookie=0x4e51" in flows and "cookie=0x4e52" in flows
        assert wait_for(lambda: lab.ping(a, b, count=1) > 0, 5)
        yield lab, a, b
    finally:
        if backend is not None:
            backend.close()
        lab.close()


@pytest.mark.parametrize("direction", ["egress", "ingress"])
def test_limit_holds_vm_to_vm_across_ovs_hosts(ovsqoslab, direction):
    lab, a, b = ovsqoslab
    ratio = limit_ratio(a, b, direction)
    print(f"expected {EXPECTED[direction]:.3f} of the limit")
    # Measured egress 0.84-0.90 (TCP backs off against a drop-band meter, a policer,
    # and the userspace datapath shares 2 cores with the rest): under, never over.
    assert EXPECTED[direction] - 0.12 <= ratio <= min(1.02, EXPECTED[direction] + 0.07)


def test_dscp_on_inner_packet_and_copied_to_outer_header(ovsqoslab):
    _dscp_check(ovsqoslab)
    lab, a, b = ovsqoslab
    assert all(h.status()["last_changes"] == [] for h in lab.hosts)   # QoS left L2 alone
