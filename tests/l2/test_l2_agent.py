"""The L2 role inside the agent: in-process on a host namespace (what the loop hands it and
what it hands back), and a real `netqos agent --l2 linuxbridge` against a real server:
its L2 configuration in the heartbeat, and the server's "l2" block (no ports on the host:
no networks) removing a netqos bridge nothing needs. Multi-host wiring through the API:
test_l2_api.py."""
from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

from netqos.agent.backends.base import ApplyResult
from netqos.agent.l2.linuxbridge.engine import LinuxBridgeL2
from netqos.agent.l2.linuxbridge.plan import L2Options
from netqos.agent.l2.linuxbridge.role import L2Role
from tests.harness.l2hosts import agent_configurations
from tests.harness.netns import Netns, run, unique_name
from tests.harness.util import tail, wait_for

NETQOS = str(Path(sys.executable).parent / "netqos")
NET, VLAN_NET = str(uuid.uuid4()), str(uuid.uuid4())
PORT, VLAN_PORT = str(uuid.uuid4()), str(uuid.uuid4())


def _master(ns: Netns, dev: str) -> str | None:
    out = ns.run("ip", "-j", "link", "show", "dev", dev, check=False).stdout
    return json.loads(out)[0].get("master") if out.strip() else None


def _block(networks, ports) -> dict:
    return {"networks": networks, "ports": ports,
            "remote": [{"host": "h2", "local_ip": "198.18.100.2", "network_id": NET,
                        "macs": ["fa:16:3e:00:00:02"]}]}


def test_role_wires_reports_and_repairs_in_a_namespace(root):
    with Netns(unique_name("nqh")) as ns:
        tap, vtap = "tap" + PORT[:11], "tap" + VLAN_PORT[:11]
        for dev in (tap, vtap, "eth1"):
            run("ip", "-n", ns.name, "link", "add", dev, "type", "veth", "peer", "name",
                dev[:9] + "p")
        woken = []
        engine = LinuxBridgeL2(L2Options("198.18.100.1", {"physnet1": "eth1"}, True),
                               netns=ns.name)
        role = L2Role(engine, on_change=lambda: woken.append(1)).start()
        try:
            role.update(None)              # a server without L2: nothing happens
            networks = [{"network_id": NET, "network_type": "vxlan", "segmentation_id": 77,
                         "mtu": 1450},
                        {"network_id": VLAN_NET, "network_type": "vlan",
                         "physical_network": "physnet1", "segmentation_id": 100}]
            ports = [{"port_id": PORT, "mac_address": "fa:16:3e:00:00:01", "network_id": NET},
                     {"port_id": VLAN_PORT, "mac_address": "fa:16:3e:00:00:03",
                      "network_id": VLAN_NET}]
            role.update(_block(networks, ports))
            bridge = "brq" + NET[:11]
            assert wait_for(lambda: _master(ns, tap) == bridge, 5)
            assert wait_for(lambda: woken, 2)
            changes, result = [], ApplyResult()
            role.annotate(changes, result)
            if not engine.opts.vlan_supported:
                assert "802.1Q" in result.errors[VLAN_PORT]
                assert _master(ns, vtap) is None
            assert PORT not in result.errors
            ns.run("ip", "link", "set", "dev", tap, "nomaster")       # drift
            assert wait_for(lambda: _master(ns, tap) == bridge, 1.0, interval=0.02)
            changes = []
            assert wait_for(lambda: role.annotate(changes, ApplyResult()) or changes, 2)
            assert changes[0].port_id == PORT and changes[0].drift
            role.update({"networks": [], "ports": [], "remote": []})
            assert wait_for(lambda: bridge not in ns.run("ip", "link").stdout
                            and "vxlan-77" not in ns.run("ip", "link").stdout, 5)
        finally:
            role.stop()


def test_agent_reports_l2_configuration_and_follows_the_servers_l2_block(
        root, sqlite_server, tmp_path):
    host = "l2-" + uuid.uuid4().hex[:8]
    with Netns(unique_name("nqh")) as ns:
        run("ip", "-n", ns.name, "link", "add", "eth1", "type", "veth", "peer", "name", "e1p")
        ns.run("ip", "link", "add", "brqdeadbeef-00", "type", "bridge")
        log = tmp_path / "agent.log"
        proc = subprocess.Popen(
            [NETQOS, "agent", "--server", sqlite_server.url, "--host", host, "--netns",
             ns.name, "--poll-interval", "0.3", "--resync-interval", "1",
             "--heartbeat-interval", "1", "--l2", "linuxbridge", "--local-ip",
             "198.18.100.7", "--physical-interface-mappings", "physnet1:eth1",
             "--l2-population"], stdout=open(log, "ab"), stderr=subprocess.STDOUT)
        try:
            def conf():
                return agent_configurations(sqlite_server.url, host)
            assert wait_for(lambda: conf() and "tunneling_ip" in conf(), 15), tail(log)
            c = conf()
            assert c["tunneling_ip"] == "198.18.100.7" and c["tunnel_types"] == ["vxlan"]
            assert c["interface_mappings"] == {"physnet1": "eth1"}
            assert c["l2_population"] is True and c["l2"] == "linuxbridge"
            missing = c["missing_capabilities"]
            assert ("vlan" in c["network_types"]) != any(m.startswith("vlan:")
                                                         for m in missing)
            # No GRE in this role (as in Neutron's Linux-bridge agent): always reported.
            assert "gre" not in c["network_types"]
            assert any(m.startswith("gre: GRE networks are not supported") for m in missing)
            assert wait_for(lambda: "brqdeadbeef-00" not in ns.run("ip", "link").stdout,
                            10), tail(log)
            assert proc.poll() is None, tail(log)
        finally:
            proc.terminate()
            proc.wait(10)
