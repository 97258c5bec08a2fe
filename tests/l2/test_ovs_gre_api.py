"""GRE networks end to end through the API on Open vSwitch: a server of its own whose
tenant networks are GRE (--tenant-network-types gre, --tunnel-id-ranges), three OVS hosts
each with a real `netqos agent --l2 openvswitch --tunnel-types vxlan,gre`; a GRE tenant
network and a VXLAN provider network whose VNI is the GRE network's key, on the same CIDR,
a VM of each on every host. Reachability and the isolation matrix, QoS (a 50 Mbit/s limit
both ways, DSCP copied to the GRE outer header) VM to VM across hosts, and a deleted GRE
network unwired everywhere with its key released. The tests run in file order."""
from __future__ import annotations

import re
import time

import pytest

from tests.harness.ovs import require_ovs
from tests.harness.server import sqlite_server_of_its_own
from tests.harness.traffic import capture, output, tos_of
from tests.harness.util import wait_for
from tests.l2.test_ovs_gre_multihost import GreOvsHost
from tests.l2.test_ovs_l2_api import (CONVERGE, OvsApiLab, limit_holds_both_ways,
                                      vms)
from tests.l2.test_qos_over_vxlan import DSCP

KEYS = (5000, 5009)
# As tests/l2/test_ovs_qos_over_vxlan.py's, for a 1458-byte MTU (TCP payload 1418 of a
# 1472-byte frame): the egress meter is scaled by 1448/1514 for userspace TSO.
EXPECTED = {"egress": 1448 / 1514 * 1418 / 1472, "ingress": 1418 / 1472}


class GreApiLab(OvsApiLab):
    host_kind = GreOvsHost


@pytest.fixture(scope="module")
def gre_server(root, tmp_path_factory):
    yield from sqlite_server_of_its_own(tmp_path_factory, "ovs-gre-api",
                                        {"NETQOS_TENANT_NETWORK_TYPES": "gre",
                                         "NETQOS_TUNNEL_ID_RANGES": "%d:%d" % KEYS})


@pytest.fixture(scope="module")
def gre_api(root, gre_server):
    require_ovs()
    lab = GreApiLab(gre_server.url)
    lab.url = gre_server.url
    try:
        green = lab.with_subnet(lab.ok(lab.http.post("/v2.0/networks", json={
            "network": {"name": "green"}}), 201)["network"])
        red = lab.with_subnet(lab.ok(lab.http.post("/v2.0/networks", json={"network": {
            "provider:network_type": "vxlan",
            "provider:segmentation_id": green.segmentation_id}}), 201)["network"])
        for n, (net, name) in enumerate(((green, "green"), (red, "red"))):
            for i, host in enumerate(lab.lab.hosts):
                lab.vm(f"{name}{i + 1}", host, net, f"198.19.1.{10 * (n + 1) + i + 1}")
        lab.start_agents(gre_server.url)
        yield lab
    finally:
        lab.close()


def test_tenant_gre_network_reachable_across_hosts_and_isolated(gre_api):
    by, lab = vms(gre_api), gre_api.lab
    green, red = by["green1"].network, by["red1"].network
    assert (green.network_type, green.segmentation_id, green.mtu) == ("gre", KEYS[0], 1458)
    assert (red.network_type, red.segmentation_id, red.mtu) == ("vxlan", KEYS[0], 1450)
    assert wait_for(lambda: all(gre_api.status(vm) == "ACTIVE" for vm in lab.vms),
                    CONVERGE), gre_api.logs()
    assert wait_for(lambda: all(lab.ping(by[f"{n}1"], by[f"{n}3"], count=1) == 1
                                for n in ("green", "red")), CONVERGE), gre_api.logs()
    same, cross = lab.isolation(lab.matrix(count=2))
    assert len(same) == 12 and len(cross) == 18
    assert [p for p, n in same.items() if n == 0] == []
    assert sum(cross.values()) == 0
    for host in lab.hosts:
        ports = host.ovs.vsctl("list-ports", "br-tun").split()
        assert len([p for p in ports if p.startswith("gre-")]) == 2, ports
        assert len([p for p in ports if p.startswith("vxlan-")]) == 2, ports


def test_qos_limit_both_directions_over_gre(gre_api):
    by = vms(gre_api)
    limit_holds_both_ways(gre_api, by["green1"], by["green2"])


def test_dscp_on_the_inner_packet_and_the_gre_outer_header(gre_api):
    by, lab = vms(gre_api), gre_api.lab
    a, b = by["green1"], by["green2"]          # a is marked by the previous test
    inner = capture(b.ns.name, "eth0", f"icmp and src {a.address}")
    outer = capture(b.host.ns.name, "eth0", f"ip proto 47 and src {a.host.local_ip}")
    time.sleep(0.5)
    lab.ping(a, b, count=4)
    # tcpdump -v prints the GRE packet's own IP header, then the one it carries: only
    # the headers of protocol 47 are the outer ones.
    tos = {"inner": tos_of(inner),
           "outer": re.findall(r"tos (0x[0-9a-f]+),.*proto GRE \(47\)", output(outer))}
    print(f"\nTOS of {a.name}'s packets at {b.name}: {tos}")
    want = hex(DSCP << 2)
    assert tos["inner"] and all(t == want for t in tos["inner"])
    assert tos["outer"] and all(t == want for t in tos["outer"])


def test_deleted_gre_network_unwired_everywhere_and_its_key_released(gre_api):
    lab = gre_api.lab
    green = vms(gre_api)["green1"].network
    gone = [vm for vm in lab.vms if vm.network is green]
    for vm in gone:
        gre_api.ok(gre_api.http.delete(f"/v2.0/ports/{vm.port_id}"), 204)
        lab.vms.remove(vm)
    gre_api.ok(gre_api.http.delete(f"/v2.0/networks/{green.network_id}"), 204)
    lab.networks.remove(green)
    key = re.compile(rf"tun_id={KEYS[0]:#x}\b.*output")
    try:
        assert wait_for(lambda: all(
            not [p for p in h.ovs.vsctl("list-ports", "br-tun").split()
                 if p.startswith("gre-")] and
            len([f for f in h.flows("br-tun") if key.search(f)]) == 1   # red's VNI only
            for h in lab.hosts), CONVERGE), gre_api.logs()
        assert wait_for(lambda: lab.ping(vms(gre_api)["red1"], vms(gre_api)["red3"],
                                         count=1) == 1, CONVERGE)
        again = gre_api.ok(gre_api.http.post("/v2.0/networks", json={"network": {}}), 201)
        assert again["network"]["provider:segmentation_id"] == KEYS[0]
        gre_api.ok(gre_api.http.delete(f"/v2.0/networks/{again['network']['id']}"), 204)
    finally:
        for vm in gone:
            vm.destroy()
