"""The multi-host L2 lab (tests/harness/l2hosts.py) with the server's database as the truth:
networks, subnets, ports and QoS policies created through the HTTP API, and on each
simulated host a real `netqos agent --l2 linuxbridge` process (noauth server: admin).

Tenant networks get their VXLAN segment from the server's pool; the flat provider network
is created with provider attributes on a physical network of its own name (so that labs
sharing a server never collide on Neutron's one-flat-network-per-physnet rule), which
every agent maps to its eth1 on the fabric's `phys` bridge."""
from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import httpx

from tests.harness.l2hosts import Host, L2Lab, Network, Vm
from tests.harness.util import tail, wait_for

NETQOS = str(Path(sys.executable).parent / "netqos")
CIDR = "198.19.1.0/24"          # every network's subnet: the same CIDR
POLL_S = 0.3                    # agents ask for their host's revision (no message bus)
HEARTBEAT_S = 3                 # agents are dead after 3 missed heartbeats (9 s): more
                                # than a restart of every agent takes on a loaded machine


class ApiLab:
    def __init__(self, url: str, hosts: int = 3, agent_args: tuple[str, ...] = ()):
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=30)   # noauth: admin by default
        self.lab = L2Lab(hosts=hosts)
        self.agent_args = agent_args
        tag = uuid.uuid4().hex[:6]
        self.physnet = f"phys-{tag}"
        for host in self.lab.hosts:
            host.name = f"l2api-{tag}-{host.index}"

    def ok(self, response: httpx.Response, code: int) -> dict:
        assert response.status_code == code, response.text
        return response.json() if response.content else {}

    # --- resources through the API ----------------------------------------------------
    def network(self, flat: bool = False) -> Network:
        """A tenant network (VXLAN from the pool) or the flat provider network; each with
        a subnet on CIDR."""
        attrs = ({"provider:network_type": "flat", "provider:physical_network": self.physnet}
                 if flat else {})
        net = self.ok(self.http.post("/v2.0/networks", json={"network": attrs}), 201)
        return self.with_subnet(net["network"])

    def with_subnet(self, net: dict) -> Network:
        """The lab's record of network `net` (the API's body), given a subnet on CIDR."""
        found = Network(net["id"], net["provider:network_type"],
                        net["provider:segmentation_id"], net["provider:physical_network"],
                        net["mtu"])
        subnet = self.ok(self.http.post("/v2.0/subnets", json={"subnet": {
            "network_id": net["id"], "ip_version": 4, "cidr": CIDR}}), 201)["subnet"]
        found.subnet_id = subnet["id"]
        self.lab.networks.append(found)
        return found

    def vm(self, name: str, host: Host, net: Network, address: str,
           bind: bool = True) -> Vm:
        """A port with `address` (distinct host parts across networks, so that a frame
        leaking between networks would be answered), bound to `host` unless `bind` is
        False (then `bind(vm)` later), and its VM booted on `host`."""
        port = self.ok(self.http.post("/v2.0/ports", json={"port": {
            "network_id": net.network_id, "binding:host_id": host.name if bind else None,
            "device_owner": "compute:nova",
            "fixed_ips": [{"subnet_id": net.subnet_id, "ip_address": address}]}}),
            201)["port"]
        ip = port["fixed_ips"][0]["ip_address"]
        vm = Vm(name, host, net, f"{ip}/{CIDR.split('/')[1]}", port_id=port["id"],
                mac=port["mac_address"])
        vm.boot(net.mtu)
        self.lab.vms.append(vm)
        return vm

    def bind(self, vm: Vm) -> None:
        """Bind the port to its VM's host, as Nova does once the VM is there."""
        self.update_port(vm, **{"binding:host_id": vm.host.name})

    def update_port(self, vm: Vm, **attrs) -> None:
        self.ok(self.http.put(f"/v2.0/ports/{vm.port_id}", json={"port": attrs}), 200)

    def port(self, vm: Vm) -> dict:
        return self.ok(self.http.get(f"/v2.0/ports/{vm.port_id}"), 200)["port"]

    def status(self, vm: Vm) -> str:
        return self.port(vm)["status"]

    def policy(self, *rules: tuple[str, dict]) -> str:
        """A QoS policy with `rules` ((rule type path, body), ...); its id."""
        pid = self.ok(self.http.post("/v2.0/qos/policies", json={"policy": {
            "name": f"l2api-{uuid.uuid4().hex[:6]}"}}), 201)["policy"]["id"]
        for kind, body in rules:
            key = kind[:-1]    # bandwidth_limit_rules -> bandwidth_limit_rule
            self.ok(self.http.post(f"/v2.0/qos/policies/{pid}/{kind}", json={key: body}),
                    201)
        return pid

    # --- agents -----------------------------------------------------------------------
    def start_agents(self) -> None:
        for host in self.lab.hosts:
            self.start_agent(host)

    def start_agent(self, host: Host) -> None:
        log = open(host.log_path, "ab")
        host.proc = subprocess.Popen(
            [NETQOS, "agent", "--server", self.url, "--host", host.name, "--netns",
             host.ns.name, "--poll-interval", str(POLL_S), "--resync-interval", "5",
             "--heartbeat-interval", str(HEARTBEAT_S), "--l2", "linuxbridge",
             "--local-ip", host.local_ip, "--physical-interface-mappings",
             f"{self.physnet}:eth1", "--l2-population", *self.agent_args],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def active(self, timeout: float) -> bool:
        return wait_for(lambda: all(self.status(vm) == "ACTIVE" for vm in self.lab.vms),
                        timeout)

    def logs(self) -> str:
        return "\n".join(f"--- {h.name}\n{tail(h.log_path)}" for h in self.lab.hosts)

    def close(self) -> None:
        """Agents stopped, then the lab's ports and networks deleted (the server outlives
        the lab), then the namespaces."""
        for host in self.lab.hosts:
            host.stop()
        for vm in self.lab.vms:
            self.http.delete(f"/v2.0/ports/{vm.port_id}")
        for net in self.lab.networks:
            self.http.delete(f"/v2.0/networks/{net.network_id}")
        self.lab.close()
        self.http.close()
