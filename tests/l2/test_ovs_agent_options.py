"""Which QoS backend runs beside `--l2 openvswitch`, and where --ovsdb/--ovs-rundir go: a
real `netqos agent` on a private Open vSwitch, its heartbeat read through the API.

- no --backend: the openvswitch backend (meters, queues, DSCP flows) on the integration
  bridge, sharing the L2 role's switch;
- --backend linuxtc: accepted (it was refused: --ovsdb went to the tc backend), the switch
  options reach the L2 role only.
Either way, with --tunnel-types vxlan,gre, the heartbeat reports both tunnel types and both
network types (OVS's userspace datapath carries GRE here: bench/l2_ovs.py tunnels)."""
from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from tests.harness.netns import Netns, unique_name
from tests.harness.ovs import OvsServer
from tests.harness.util import tail, wait_for

NETQOS = str(Path(sys.executable).parent / "netqos")


def _flows(ovs: OvsServer, bridge: str) -> str:
    """The bridge's flows, or "" while it does not exist yet."""
    try:
        return ovs.ofctl("dump-flows", bridge)
    except RuntimeError:
        return ""


@pytest.mark.parametrize("backend, expected", [((), "openvswitch-netdev"),
                                               (("--backend", "linuxtc"), "linuxtc")])
def test_qos_backend_beside_the_ovs_l2_role(root, sqlite_server, tmp_path, backend, expected):
    host = "l2ovsopt-" + uuid.uuid4().hex[:8]
    with Netns(unique_name("nqh")) as ns:
        ovs = OvsServer(netns=ns.name, tso=True).start()
        log = tmp_path / "agent.log"
        argv = [NETQOS, "agent", "--server", sqlite_server.url, "--host", host, *backend,
                "--l2", "openvswitch", "--ovsdb", ovs.db, "--ovs-rundir", ovs.rundir,
                "--local-ip", "198.18.251.1", "--tunnel-types", "vxlan,gre",
                "--heartbeat-interval", "1", "--poll-interval", "0.3"]
        if expected == "linuxtc":
            argv += ["--netns", ns.name]
        with open(log, "ab") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=ovs.env)
        try:
            def mine():
                agents = httpx.get(sqlite_server.url + "/v2.0/agents").json()["agents"]
                return next((a for a in agents if a["host"] == host), None)
            assert wait_for(lambda: mine() is not None, 15), tail(log)
            agent = mine()
            assert agent["backends"] == [expected], agent
            assert agent["configurations"]["l2"] == "openvswitch"
            conf = agent["configurations"]
            assert conf["tunnel_types"] == ["vxlan", "gre"], conf
            assert conf["network_types"] == ["flat", "local", "vlan", "vxlan", "gre"], conf
            assert conf["local_ip"] == "198.18.251.1"
            assert not [m for m in conf["missing_capabilities"]
                        if "no gre segment" in m], conf
            # The L2 role reached the switch the flags name: its pipeline is on br-int.
            # (The heartbeat may come before the role's first pass has made br-int.)
            assert wait_for(lambda: "cookie=0x4e52" in _flows(ovs, "br-int"), 10), tail(log)
            qos = "cookie=0x4e51" in ovs.ofctl("dump-flows", "br-int")
            assert qos == expected.startswith("openvswitch")
            assert proc.poll() is None, tail(log)
        finally:
            proc.terminate()
            proc.wait(10)
            ovs.stop()
