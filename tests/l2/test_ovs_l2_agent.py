"""The OVS L2 role inside the agent: in-process on a private Open vSwitch (what the loop
hands it and what it hands back), and a real `netqos agent --backend openvswitch --l2
openvswitch` (QoS and L2 on one br-int) reporting Neutron's OVS agent configurations in
its heartbeat."""
from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

from netqos.agent.backends.base import ApplyResult
from netqos.agent.l2.linuxbridge.role import L2Role
from netqos.agent.l2.openvswitch.engine import OvsL2
from netqos.agent.l2.openvswitch.options import OvsL2Options
from tests.harness.l2hosts import agent_configurations
from tests.harness.netns import Netns, run, unique_name
from tests.harness.ovs import OvsServer
from tests.harness.util import tail, wait_for

NETQOS = str(Path(sys.executable).parent / "netqos")
NET, PORT = str(uuid.uuid4()), str(uuid.uuid4())


def _tag(ovs: OvsServer, port: str) -> int | None:
    out = ovs.vsctl("get", "Port", port, "tag").strip()
    return None if out == "[]" else int(out)


def test_role_tags_reports_and_repairs(root):
    with Netns(unique_name("nqh")) as ns:
        ovs = OvsServer(netns=ns.name, tso=True).start()
        try:
            tap = "tap" + PORT[:11]
            run("ip", "-n", ns.name, "link", "add", tap, "type", "veth", "peer", "name", "vm0")
            ns.run("ip", "link", "set", tap, "up")
            ovs.vsctl("add-br", "br-int", "--", "set", "bridge", "br-int",
                      "datapath_type=netdev", "--", "add-port", "br-int", tap, "tag=4095",
                      "--", "set", "Interface", tap, f"external_ids:iface-id={PORT}")
            engine = OvsL2(OvsL2Options(), ovsdb=ovs.db, rundir=ovs.rundir)
            woken = []
            role = L2Role(engine, on_change=lambda: woken.append(1)).start()
            try:
                role.update(None)          # a server without L2: nothing happens
                block = {"networks": [{"network_id": NET, "network_type": "local"}],
                         "ports": [{"port_id": PORT, "mac_address": "fa:16:3e:00:00:01",
                                    "network_id": NET}], "remote": []}
                role.update(block)
                assert wait_for(lambda: _tag(ovs, tap) == 1, 5)
                assert wait_for(lambda: woken, 2)
                result = ApplyResult()
                role.annotate([], result)
                assert PORT not in result.errors
                ovs.vsctl("set", "Port", tap, "tag=77")                    # drift
                assert wait_for(lambda: _tag(ovs, tap) == 1, 1.0, interval=0.02)
                changes: list = []
                assert wait_for(lambda: role.annotate(changes, ApplyResult()) or changes, 2)
                assert changes[0].port_id == PORT and changes[0].drift
                role.update({"networks": [], "ports": [], "remote": []})   # unbound: dead
                assert wait_for(lambda: _tag(ovs, tap) == 4095, 5)
            finally:
                role.stop()
                engine.close()
        finally:
            ovs.stop()


def test_agent_reports_ovs_l2_configuration(root, sqlite_server, tmp_path):
    host = "l2ovs-" + uuid.uuid4().hex[:8]
    with Netns(unique_name("nqh")) as ns:
        ovs = OvsServer(netns=ns.name, tso=True).start()
        log = tmp_path / "agent.log"
        proc = subprocess.Popen(
            [NETQOS, "agent", "--server", sqlite_server.url, "--host", host,
             "--backend", "openvswitch", "--poll-interval", "0.3", "--resync-interval", "1",
             "--heartbeat-interval", "1", "--l2", "openvswitch", "--ovsdb", ovs.db,
             "--local-ip", "198.18.100.7", "--tunnel-types", "vxlan", "--l2-population",
             "--bridge-mappings", "physnet1:br-physnet1"],
            stdout=open(log, "ab"), stderr=subprocess.STDOUT, env=ovs.env)
        try:
            def conf():
                return agent_configurations(sqlite_server.url, host)
            assert wait_for(lambda: conf() and "tunneling_ip" in conf(), 15), tail(log)
            c = conf()
            assert c["l2"] == "openvswitch" and c["tunneling_ip"] == "198.18.100.7"
            assert c["bridge_mappings"] == {"physnet1": "br-physnet1"}
            assert c["tunnel_types"] == ["vxlan"] and c["l2_population"] is True
            assert c["integration_bridge"] == "br-int" and c["datapath_type"] == "netdev"
            # The server's pull carries an "l2" block (empty: this host has no ports), so
            # the L2 role lays its own pipeline (cookie 0x4e52) on br-int beside the QoS
            # pipeline (cookie 0x4e51), and both stay.
            assert wait_for(lambda: "cookie=0x4e52" in ovs.ofctl("dump-flows", "br-int"), 10)
            flows = ovs.ofctl("dump-flows", "br-int")
            assert "cookie=0x4e51" in flows and "cookie=0x4e52" in flows, flows
            assert proc.poll() is None, tail(log)
        finally:
            proc.terminate()
            proc.wait(10)
            ovs.stop()
