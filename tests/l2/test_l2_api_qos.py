"""QoS on the wiring, through the API: a policy bound to a VM's port (PUT qos_policy_id)
is enforced by that host's real agent on the tap its L2 role plugged, and holds VM to VM
across hosts through VXLAN. The lab is `api_lab` (tests/l2/conftest.py); its agents run
with --dscp-inherit, so the mark is on the inner packet and on the outer (VXLAN/UDP)
header, and their underlay eth0 is an uplink of UPLINK_KBPS for minimum-bandwidth
guarantees. Traffic runs under the machine-wide traffic lock; a rate that comes out low is
measured once more (load on a 2-core machine only slows a flow, it never speeds it past
a limiter)."""
from __future__ import annotations

import re
import threading
import time

import pytest

from tests.harness.traffic import udp_flood_pps
from tests.harness.l2api import ApiLab
from tests.harness.l2hosts import Vm
from tests.harness.netns import sh
from tests.harness.traffic import (VXLAN_ICMP_BPF, capture, iperf3_between, limit_ratio,
                                   tos_of, traffic_lock, vxlan_icmp_tos)
from tests.harness.util import wait_for

CONVERGE = 15
LIMIT_KBPS = 50_000
LOW, HIGH = 0.90, 1.02
DSCP = 26                        # AF31: TOS byte 0x68
PPS_EGRESS, PPS_INGRESS = 2_000, 1_000   # distinct: each direction has its own rule
UPLINK_KBPS = 100_000            # the agents' --uplink eth0 (tests/l2/conftest.py)
GUARANTEE_KBPS = 75_000          # fair sharing would give each of two flows 50 Mbit/s
# The guarantee counts underlay frames: 1514 bytes on eth0 (VXLAN, UDP, IP, Ethernet
# around the VM's 1450-byte packets) carry 1398 bytes of TCP payload, 0.92 of the rate.
GUARANTEE_LOW = 0.85
RIVAL_LIMIT_KBPS = 80_000        # a limit the rival's share stays under


def _vm(api_lab: ApiLab, name: str) -> Vm:
    return next(vm for vm in api_lab.lab.vms if vm.name == name)


def _applied(api_lab: ApiLab, vm: Vm) -> bool:
    port = api_lab.port(vm)
    state = port["netqos:qos_state"]
    return port["status"] == "ACTIVE" and state["applied_revision"] == \
        state["desired_revision"]


def _bind(api_lab: ApiLab, vm: Vm, policy: str | None) -> None:
    api_lab.update_port(vm, qos_policy_id=policy)
    assert wait_for(lambda: _applied(api_lab, vm), CONVERGE), api_lab.logs()


@pytest.fixture(scope="module")
def shaped(api_lab):
    """red1 (host 1) limited to 50 Mbit/s both ways and marked AF31; red2 is on host 2."""
    a, b = _vm(api_lab, "red1"), _vm(api_lab, "red2")
    assert api_lab.active(CONVERGE), api_lab.logs()
    assert wait_for(lambda: api_lab.lab.ping(a, b, count=1) == 1, CONVERGE), api_lab.logs()
    policy = api_lab.policy(
        *(("bandwidth_limit_rules", {"max_kbps": LIMIT_KBPS, "direction": d})
          for d in ("egress", "ingress")), ("dscp_marking_rules", {"dscp_mark": DSCP}))
    _bind(api_lab, a, policy)
    yield a, b
    _bind(api_lab, a, None)
    api_lab.ok(api_lab.http.delete(f"/v2.0/qos/policies/{policy}"), 204)


@pytest.mark.parametrize("direction", ["egress", "ingress"])
def test_limit_holds_vm_to_vm_across_hosts(shaped, direction):
    a, b = shaped
    assert LOW <= limit_ratio(a, b, direction, LIMIT_KBPS) <= HIGH


def test_dscp_on_the_inner_packet_and_the_outer_header(api_lab, shaped):
    a, b = shaped
    inner = capture(b.ns.name, "eth0", f"icmp and src {a.address}")
    outer = capture(b.host.ns.name, "eth0", f"{VXLAN_ICMP_BPF} and src {a.host.local_ip}")
    time.sleep(0.5)                     # tcpdump is listening
    api_lab.lab.ping(a, b, count=4)
    inner_tos, pairs = tos_of(inner), vxlan_icmp_tos(outer)
    print(f"\nTOS of {a.name}'s echo requests at {b.name}: {inner_tos}; on the underlay "
          f"into {b.host.name}, (outer, inner) of each VXLAN packet: {pairs}")
    want = hex(DSCP << 2)
    assert inner_tos and set(inner_tos) == {want}
    assert pairs and set(pairs) == {(want, want)}


def _flood(src: str, dst: str, addr: str, limit: int) -> tuple[float, float]:
    """(sent, delivered) pps of 64-byte datagrams sent at 3x `limit`."""
    with traffic_lock():
        return udp_flood_pps(src, dst, addr, pps=3 * limit)


def test_packet_rate_limit_vm_to_vm_across_hosts(api_lab):
    a, b = _vm(api_lab, "blue1"), _vm(api_lab, "blue2")
    assert wait_for(lambda: api_lab.lab.ping(a, b, count=1) == 1, CONVERGE), api_lab.logs()
    policy = api_lab.policy(
        ("packet_rate_limit_rules", {"max_kpps": PPS_EGRESS // 1000, "direction": "egress"}),
        ("packet_rate_limit_rules", {"max_kpps": PPS_INGRESS // 1000,
                                     "direction": "ingress"}))
    _bind(api_lab, a, policy)
    try:
        for direction, limit in (("egress", PPS_EGRESS), ("ingress", PPS_INGRESS)):
            src, dst, addr = ((a.ns.name, b.ns.name, b.address) if direction == "egress"
                              else (b.ns.name, a.ns.name, a.address))
            sent, got = _flood(src, dst, addr, limit)
            if got < 0.90 * limit or sent <= 2 * limit:    # slowed down by other work
                print(f"\n{direction}: {sent:.0f} pps sent, {got:.0f} delivered; once more")
                sent, got = max((sent, got), _flood(src, dst, addr, limit), key=lambda r: r[1])
            print(f"\n{direction} of {a.name} ({a.host.name}) with {b.name} "
                  f"({b.host.name}) through VXLAN: {sent:.0f} pps sent, {got:.0f} pps "
                  f"delivered, limit {limit}")
            assert sent > 2 * limit, "the flood really exceeded the limit"
            assert 0.90 * limit <= got <= 1.05 * limit, (direction, sent, got)
    finally:
        _bind(api_lab, a, None)
        api_lab.ok(api_lab.http.delete(f"/v2.0/qos/policies/{policy}"), 204)


_HTB_SENT = re.compile(r"^class htb (\S+) .*\n Sent (\d+) bytes", re.M)


def _guarantee_bytes(host_ns: str) -> int:
    """Bytes sent by the guarantee classes (not the root 4e51:1 nor the unguaranteed
    default 4e51:2) of the HTB on a host's eth0."""
    out = sh("tc", "-n", host_ns, "-s", "class", "show", "dev", "eth0").stdout  # no -j here
    return sum(int(sent) for handle, sent in _HTB_SENT.findall(out)
               if handle not in ("4e51:1", "4e51:2"))


def _compete(pairs: list[tuple[Vm, Vm]]) -> dict[str, float]:
    """Goodput (bit/s) of each (sender, receiver) pair's TCP flow, all running at once."""
    got: dict[str, float] = {}

    def run(src: Vm, dst: Vm, port: int) -> None:
        got[src.name] = iperf3_between(src.ns.name, dst.ns.name, dst.address, port,
                                       seconds=5)

    flows = [threading.Thread(target=run, args=(*pair, 5321 + i))
             for i, pair in enumerate(pairs)]
    with traffic_lock():
        for f in flows:
            f.start()
        for f in flows:
            f.join()
    return got


def test_minimum_bandwidth_holds_vm_to_vm_across_hosts(api_lab):
    """Two VMs of host 1 (on two VXLAN networks) send to host 2 at once through host 1's
    100 Mbit/s uplink; the one with a 75 Mbit/s guarantee gets it (its port's class on the
    underlay eth0 carries its VXLAN packets), the other one keeps the rest."""
    h1 = api_lab.lab.hosts[0]
    red2, blue2 = _vm(api_lab, "red2"), _vm(api_lab, "blue2")
    gold = api_lab.vm("gold1", h1, red2.network, "198.19.1.14")
    rival = api_lab.vm("rival1", h1, blue2.network, "198.19.1.24")
    for src, dst in ((gold, red2), (rival, blue2)):
        assert wait_for(lambda s=src, d=dst: api_lab.lab.ping(s, d, count=1) == 1,
                        CONVERGE), api_lab.logs()
    policy = api_lab.policy(("minimum_bandwidth_rules", {"min_kbps": GUARANTEE_KBPS,
                                                         "direction": "egress"}))
    # the rival limited well above its share: the IFB classifier leaves its IFB class id
    # (4e51:10 and up, like the guarantee's on eth0) in skb->priority, which must not
    # choose a class on the uplink
    capped = api_lab.policy(("bandwidth_limit_rules", {"max_kbps": RIVAL_LIMIT_KBPS,
                                                       "direction": "egress"}))
    _bind(api_lab, gold, policy)
    _bind(api_lab, rival, capped)
    try:
        before = _guarantee_bytes(h1.ns.name)
        got = _compete([(gold, red2), (rival, blue2)])
        if got[gold.name] < GUARANTEE_LOW * GUARANTEE_KBPS * 1000:   # slowed by other work
            print(f"\nguaranteed VM at {got[gold.name] / 1e6:.1f} Mbit/s; once more")
            got = max(got, _compete([(gold, red2), (rival, blue2)]), key=lambda g: g[gold.name])
        classified = _guarantee_bytes(h1.ns.name) - before
    finally:
        for vm, pid in ((gold, policy), (rival, capped)):
            _bind(api_lab, vm, None)
            api_lab.ok(api_lab.http.delete(f"/v2.0/qos/policies/{pid}"), 204)
    ratio = got[gold.name] / (GUARANTEE_KBPS * 1000)
    print(f"\nthrough VXLAN from {h1.name}, uplink {UPLINK_KBPS // 1000} Mbit/s: guaranteed "
          f"{gold.name} {got[gold.name] / 1e6:.1f} Mbit/s ({ratio:.3f} of its "
          f"{GUARANTEE_KBPS // 1000} Mbit/s), {rival.name} {got[rival.name] / 1e6:.1f} "
          f"Mbit/s; the guarantee's class on eth0 sent {classified / 1e6:.1f} MB")
    # its class on the underlay carried the VM's packets: at least the 4 measured seconds
    assert classified * 8 >= 4 * got[gold.name], (classified, got)
    assert ratio >= GUARANTEE_LOW, got
    assert got[rival.name] > 1e6, "the other VM is not starved"
    assert sum(got.values()) <= UPLINK_KBPS * 1000, "the uplink holds its capacity"
