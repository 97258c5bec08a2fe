"""L2 wiring through the API, end to end: a real `netqos server` (noauth on loopback), three
simulated hosts (tests/harness/l2hosts.py) each with a real `netqos agent --l2 linuxbridge
--local-ip <fabric address> --l2-population`, two VXLAN networks on the same CIDR and their
ports created and bound (binding:host_id, as an admin) through the API. Each host's wiring
comes from the server's host pull ("l2" block), and the tunnel IPs from the agents'
heartbeats. The tests run in file order on one set-up: the isolation matrix first, then
changes that must converge (admin-down, a port moved to another host, ports and a network
deleted)."""
from __future__ import annotations

import random
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from tests.harness.l2hosts import L2Lab, Network, Vm
from tests.harness.util import tail, wait_for

NETQOS = str(Path(sys.executable).parent / "netqos")
CONVERGE = 15          # seconds: agents poll the host revision every 0.3 s


class ApiLab:
    """The L2 lab with the server's database as the truth: networks and ports via HTTP."""

    def __init__(self, url: str):
        self.http = httpx.Client(base_url=url, timeout=30)   # noauth: admin by default
        self.lab = L2Lab(hosts=3)
        tag = uuid.uuid4().hex[:6]
        for host in self.lab.hosts:
            host.name = f"l2api-{tag}-{host.index}"

    def ok(self, response: httpx.Response, code: int) -> dict:
        assert response.status_code == code, response.text
        return response.json() if response.content else {}

    def network(self) -> Network:
        vni = random.randrange(100000, 16000000)
        net = self.ok(self.http.post("/v2.0/networks", json={"network": {
            "provider:network_type": "vxlan", "provider:segmentation_id": vni}}), 201)
        net = net["network"]
        found = Network(net["id"], "vxlan", vni, None, net["mtu"])
        self.lab.networks.append(found)
        return found

    def vm(self, name: str, host, net: Network, ip: str) -> Vm:
        port = self.ok(self.http.post("/v2.0/ports", json={"port": {
            "network_id": net.network_id, "binding:host_id": host.name,
            "device_owner": "compute:nova"}}), 201)["port"]
        vm = Vm(name, host, net, ip, port_id=port["id"], mac=port["mac_address"])
        vm.boot(net.mtu)
        self.lab.vms.append(vm)
        return vm

    def update_port(self, vm: Vm, **attrs) -> None:
        self.ok(self.http.put(f"/v2.0/ports/{vm.port_id}", json={"port": attrs}), 200)

    def status(self, vm: Vm) -> str:
        return self.http.get(f"/v2.0/ports/{vm.port_id}").json()["port"]["status"]

    def start_agents(self, url: str) -> None:
        for host in self.lab.hosts:
            log = open(host.log_path, "ab")
            host.proc = subprocess.Popen(
                [NETQOS, "agent", "--server", url, "--host", host.name, "--netns",
                 host.ns.name, "--poll-interval", "0.3", "--resync-interval", "5",
                 "--heartbeat-interval", "1", "--l2", "linuxbridge", "--local-ip",
                 host.local_ip, "--physical-interface-mappings", "physnet1:eth1",
                 "--l2-population"], stdout=log, stderr=subprocess.STDOUT)
            log.close()

    def logs(self) -> str:
        return "\n".join(f"--- {h.name}\n{tail(h.log_path)}" for h in self.lab.hosts)

    def close(self) -> None:
        self.lab.close()          # stops the agents (host.proc) first
        self.http.close()


@pytest.fixture(scope="module")
def api_lab(root, sqlite_server):
    lab = ApiLab(sqlite_server.url)
    try:
        red, blue = lab.network(), lab.network()
        for name, net, base in (("red", red, 10), ("blue", blue, 20)):
            for i, host in enumerate(lab.lab.hosts):
                lab.vm(f"{name}{i + 1}", host, net, f"198.19.1.{base + i + 1}/24")
        lab.start_agents(sqlite_server.url)
        yield lab
    finally:
        lab.close()


def by_name(api_lab: ApiLab) -> dict[str, Vm]:
    return {vm.name: vm for vm in api_lab.lab.vms}


def bridges(host) -> set[str]:
    return {name for name, d in host.links().items()
            if name.startswith(("brq", "vxlan-"))}


def test_vms_reach_their_network_across_hosts_and_never_another(api_lab):
    vms, lab = by_name(api_lab), api_lab.lab
    assert wait_for(lambda: all(api_lab.status(vm) == "ACTIVE" for vm in lab.vms),
                    CONVERGE), api_lab.logs()
    # The fdb needs every peer's tunnel IP (from its heartbeat): wait for the far corner.
    assert wait_for(lambda: lab.ping(vms["red1"], vms["red3"], count=1) == 1
                    and lab.ping(vms["blue3"], vms["blue2"], count=1) == 1,
                    CONVERGE), api_lab.logs()
    matrix = lab.matrix(count=2)
    same = {k: n for k, n in matrix.items() if k[0][:-1] == k[1][:-1]}
    across = {k: n for k, n in matrix.items() if k[0][:-1] != k[1][:-1]}
    print(f"\nisolation matrix: {len(same)} same-network pairs, "
          f"{sum(n > 0 for n in same.values())} answered; {len(across)} cross-network "
          f"pairs, {sum(n > 0 for n in across.values())} answered")
    assert len(same) == 12 and len(across) == 18
    assert all(n > 0 for n in same.values()), same
    assert all(n == 0 for n in across.values()), across


def test_admin_down_stops_the_port_and_reports_it(api_lab):
    vms, lab = by_name(api_lab), api_lab.lab
    red2 = vms["red2"]
    api_lab.update_port(red2, admin_state_up=False)
    assert wait_for(lambda: api_lab.status(red2) == "DOWN", CONVERGE), api_lab.logs()
    assert "master" not in red2.host.links()[red2.tap]
    assert lab.ping(vms["red1"], red2, count=2) == 0
    api_lab.update_port(red2, admin_state_up=True)
    assert wait_for(lambda: lab.ping(vms["red1"], red2, count=1) == 1, CONVERGE)
    assert wait_for(lambda: api_lab.status(red2) == "ACTIVE", CONVERGE), api_lab.logs()


def test_port_moved_to_another_host_is_rewired_everywhere(api_lab):
    vms, lab = by_name(api_lab), api_lab.lab
    red3, (h1, h2, h3) = vms["red3"], lab.hosts
    red_bridge = "brq" + red3.network.network_id[:11]
    # A migration: the VM leaves host 3, its port is bound to host 2, it boots there.
    red3.destroy()
    api_lab.update_port(red3, **{"binding:host_id": h2.name})
    red3.host = h2
    red3.boot(red3.network.mtu)
    assert wait_for(lambda: red_bridge not in bridges(h3)
                    and f"vxlan-{red3.network.segmentation_id}" not in bridges(h3),
                    CONVERGE), api_lab.logs()
    assert wait_for(lambda: h2.links()[red3.tap].get("master") == red_bridge, CONVERGE)
    assert wait_for(lambda: lab.ping(vms["red1"], red3, count=1) == 1, CONVERGE)
    # Host 1's fdb now sends red3's MAC to host 2, and nothing of red to host 3.
    vxlan = f"vxlan-{red3.network.segmentation_id}"
    assert wait_for(lambda: (red3.mac, h2.local_ip) in h1.fdb(vxlan)
                    and not {d for _, d in h1.fdb(vxlan)} & {h3.local_ip}, CONVERGE), \
        h1.fdb(vxlan)
    assert lab.ping(vms["blue3"], red3, count=1) == 0


def test_deleted_ports_and_network_unwire_every_host(api_lab):
    vms, lab = by_name(api_lab), api_lab.lab
    blue = vms["blue1"].network
    names = {"brq" + blue.network_id[:11], f"vxlan-{blue.segmentation_id}"}
    blue3 = vms["blue3"]
    api_lab.ok(api_lab.http.delete(f"/v2.0/ports/{blue3.port_id}"), 204)
    assert wait_for(lambda: not bridges(blue3.host) & names, CONVERGE), api_lab.logs()
    assert wait_for(lambda: lab.ping(vms["blue1"], vms["blue2"], count=1) == 1, CONVERGE)
    for name in ("blue1", "blue2"):
        api_lab.ok(api_lab.http.delete(f"/v2.0/ports/{vms[name].port_id}"), 204)
    api_lab.ok(api_lab.http.delete(f"/v2.0/networks/{blue.network_id}"), 204)
    assert wait_for(lambda: not any(bridges(h) & names for h in lab.hosts), CONVERGE), \
        api_lab.logs()
    # Red is untouched.
    assert lab.ping(vms["red1"], vms["red2"], count=1) == 1
    assert all(h.proc.poll() is None for h in lab.hosts), api_lab.logs()
