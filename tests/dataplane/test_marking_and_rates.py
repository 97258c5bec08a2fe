"""DSCP marks seen on the wire, packet-rate limits, minimum bandwidth on an uplink."""
from __future__ import annotations

import re
import subprocess
import sys
import threading
import time

from netqos.agent.backends.tc import TcBackend
from tests.harness.netns import in_ns, sh
from tests.harness.traffic import iperf3, udp_flood_pps
from tests.dataplane.helpers import bw, converge, dscp, minbw, port, pps

_SEND = ("import socket,sys\nfor fam,addr in ((socket.AF_INET,sys.argv[1]),"
         "(socket.AF_INET6,sys.argv[2])):\n s=socket.socket(fam,socket.SOCK_DGRAM)\n"
         " [s.sendto(b'nq',(addr,9999)) for _ in range(5)]")


def _capture_tos(ns: str, dev: str, src4: str, src6: str, send) -> tuple[set, set]:
    """TOS / traffic class bytes of UDP packets from the VM captured on `dev` in `ns`."""
    cap = subprocess.Popen(in_ns(ns, "tcpdump", "-l", "-n", "-v", "-c", "10", "-i", dev,
                                 f"udp port 9999 and (src {src4} or src {src6})"),
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    time.sleep(1.0)
    send()
    try:
        out, _ = cap.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        cap.kill()
        out, _ = cap.communicate()
    return set(re.findall(r"tos (0x[0-9a-f]+)", out)), set(re.findall(r"class (0x[0-9a-f]+)",
                                                                         out))


def _send_from(vm, to4: str, to6: str):
    return lambda: sh(*in_ns(vm.ns, sys.executable, "-c", _SEND, to4, to6))


def test_dscp_marks_ipv4_and_ipv6_routed_and_behind_the_egress_shaper(lab, backend):
    vm, peer = lab.add_vm(), lab.add_vm()
    converge(backend, [port(vm, dscp(46), bw(20_000, "egress")), port(peer)])
    tos4, tc6 = _capture_tos(lab.host, peer.device, vm.ip4, vm.ip6,
                             _send_from(vm, peer.ip4, peer.ip6))
    assert tos4 == {"0xb8"} and tc6 == {"0xb8"}, (tos4, tc6)   # 46 << 2 = 0xb8


def test_dscp_marks_bridged_traffic_and_changes_in_place(bridge_lab):
    lab = bridge_lab
    vm = lab.add_vm()
    uplink, out_ns, out_addr = lab.add_uplink()
    backend = TcBackend(netns=lab.host)
    for revision, mark in ((1, 26), (2, 10)):
        converge(backend, [port(vm, dscp(mark), revision=revision)])
        tos4, tc6 = _capture_tos(lab.host, uplink, vm.ip4, vm.ip6,
                                 _send_from(vm, out_addr, "fd00:198:19::fa"))
        want = hex(mark << 2)
        assert tos4 == {want} and tc6 == {want}, (mark, tos4, tc6)


def test_packet_rate_limit_both_directions(lab, backend):
    vm, peer = lab.add_vm(), lab.add_vm()   # the peer floods the VM through the host
    converge(backend, [port(vm, pps(2, "egress"), pps(5, "ingress")), port(peer)])
    for direction, limit in (("egress", 2000), ("ingress", 5000)):
        src, dst, addr = ((vm.ns, lab.host, vm.gw4) if direction == "egress"
                          else (peer.ns, vm.ns, vm.ip4))
        sent, got = udp_flood_pps(src, dst, addr, pps=3 * limit)   # 64-byte datagrams
        assert sent > 2 * limit, "the flood really exceeded the limit"
        assert 0.90 * limit <= got <= 1.05 * limit, (direction, sent, got)


def test_minimum_bandwidth_holds_against_a_competitor(bridge_lab):
    lab = bridge_lab
    guaranteed, other = lab.add_vm(), lab.add_vm()
    uplink, out_ns, out_addr = lab.add_uplink()
    backend = TcBackend(netns=lab.host, uplink=(uplink, 200_000))
    converge(backend, [port(guaranteed, minbw(150_000)), port(other)])
    results: dict = {}

    def run(vm, server_port):
        results[vm.port_id] = iperf3(lab, vm, "egress", seconds=5,
                                     server=(out_ns, out_addr), port=server_port)["bps"]

    flows = [threading.Thread(target=run, args=(guaranteed, 5301)),
             threading.Thread(target=run, args=(other, 5302))]
    for f in flows:
        f.start()
    for f in flows:
        f.join()
    assert results[guaranteed.port_id] >= 140e6, results
    assert results[other.port_id] > 1e6, "the other VM is not starved"
    assert sum(results.values()) <= 200e6, "the uplink holds its capacity"
