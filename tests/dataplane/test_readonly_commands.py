"""`netqos status` and `netqos plan` change nothing, against every backend that runs here.

Each test builds a host with a port (or router) whose policy is NOT applied yet, so `plan`
has creations to print and `status` has a pending port, then runs both commands as an
operator would and proves that the host is exactly as before: the kernel's links, tc
objects and nftables (and the private switch's OVSDB rows, flows and meters) are dumped
before and after (tests/harness/hoststate.py), and netlink/tc/nft monitors run during the
commands, which catches a probe that creates a device and deletes it again.

They also check that status finds the port where the agent would: an OVS interface by its
iface-id (named unlike tap<port id>), a libvirt guest's NIC by its MAC.
"""
from __future__ import annotations

import os
import subprocess
import uuid

from tests.harness.netns import sh
from tests.cli.conftest import NETQOS, run_netqos
from tests.harness.hoststate import Monitor, Snapshot
from tests.harness.util import wait_for

from .ovs_fixtures import ovs_lab  # noqa: F401  (fixture)
from .test_agent_api import Api
from .test_l3_fip import NetworkNode, bw_rules
from .test_libvirt import vm  # noqa: F401  (fixture: a running guest, module-scoped)


def policy(api: Api) -> dict:
    return api.policy("ro-" + uuid.uuid4().hex[:6], [
        ("bandwidth_limit", {"max_kbps": 10_000, "direction": "ingress"}),
        ("bandwidth_limit", {"max_kbps": 20_000, "direction": "egress"}),
        ("dscp_marking", {"dscp_mark": 26}),
        ("packet_rate_limit", {"max_kpps": 5, "direction": "egress"}),
    ])


def unchanged(snapshot: Snapshot, monitor: Monitor, *commands: tuple) -> list:
    """Run each `netqos` command line; assert that the host is as before; the results."""
    before = snapshot.settled()
    with monitor:
        results = [run_netqos(*argv, env=env, timeout=90) for argv, env in commands]
    after = snapshot.take()
    assert monitor.events == [], "a read-only command changed the host:\n" + \
        "\n".join(monitor.events)
    for key in before:
        assert after[key] == before[key], f"{key} changed"
    return results


def test_linuxtc(bridge_lab, sqlite_server):
    lab = bridge_lab
    api, host = Api(sqlite_server.url), "ro-tc-" + uuid.uuid4().hex[:6]
    port = api.bound_port(api.network(), host, policy(api))
    vm = lab.add_vm(port_id=port["id"])
    sh("ip", "-n", vm.ns, "link", "set", "eth0", "address", port["mac_address"])
    uplink = lab.add_uplink()[0]
    flags = ("--host", host, "--netns", lab.host, "--uplink", f"{uplink}:1000000")
    status, plan = unchanged(
        Snapshot((lab.host,)), Monitor((lab.host,)),
        (("status", *flags, "-f", "json", "--interval", "0.2", "--url", sqlite_server.url),
         None),
        (("plan", *flags, "--server", sqlite_server.url), None))
    assert status.returncode == 0, status
    [p] = status.json()["ports"]
    assert status.json()["kernel_error"] is None and p["device"] == vm.device, p
    assert p["present"] is True and p["in_sync"] is False and p["pending"], p
    assert plan.returncode == 0 and "change(s) planned" in plan.stdout, plan
    assert "tbf" in plan.stdout.lower() or "shaper" in plan.stdout.lower(), plan


def test_openvswitch(ovs_lab, sqlite_server):  # noqa: F811
    """A port plugged under a name that is not tap<id>: found by iface-id. And a status
    without --bridge looks for br-int and does not create it."""
    api, host = Api(sqlite_server.url), "ro-ovs-" + uuid.uuid4().hex[:6]
    port = api.bound_port(api.network(), host, policy(api))
    dev = f"nqr{os.getpid() % 0xFFFF:x}{uuid.uuid4().hex[:4]}"
    sh("ip", "link", "add", dev, "type", "veth", "peer", "name", dev + "p")
    ovs_lab.devices += [dev]
    sh("ip", "link", "set", dev, "up")
    ovs_lab.vsctl("add-port", ovs_lab.bridge, dev, "--", "set", "Interface", dev,
                  f"external_ids:iface-id={port['id']}",
                  f"external_ids:attached-mac={port['mac_address']}")
    rundir = ovs_lab.env["OVS_RUNDIR"]
    # No OVS_RUNDIR in the environment: --ovs-rundir alone must do.
    env = {k: v for k, v in os.environ.items() if not k.startswith("OVS_")}
    flags = ("--host", host, "--backend", "openvswitch", "--ovs-rundir", rundir)
    status, plan, default, default_plan = unchanged(
        Snapshot((None,), devices=(dev,), ovs=(ovs_lab.db, ovs_lab.env)),
        Monitor((None,), devices=(dev, "br-int")),
        (("status", *flags, "--bridge", ovs_lab.bridge, "-f", "json", "--interval", "0",
          "--url", sqlite_server.url), env),
        (("plan", *flags, "--bridge", ovs_lab.bridge, "--server", sqlite_server.url), env),
        (("status", *flags, "-f", "json", "--interval", "0", "--url", sqlite_server.url),
         env),
        (("plan", *flags, "--server", sqlite_server.url), env))
    assert status.returncode == 0, status
    [p] = status.json()["ports"]
    assert status.json()["kernel_error"] is None, status
    assert p["device"] == dev and p["present"] is True and p["in_sync"] is False, p
    assert plan.returncode == 0 and "change(s) planned" in plan.stdout, plan
    assert "meter" in plan.stdout or "qos" in plan.stdout.lower(), plan
    # br-int is not there: the port is not found, and nothing was created (checked above).
    assert default.returncode == 0, default
    assert "br-int" not in ovs_lab.vsctl("list-br").split()
    assert [p["present"] for p in default.json()["ports"]] in ([False], [None]), default
    assert default_plan.returncode == 1, default_plan
    assert "no bridge br-int" in default_plan.stderr, default_plan
    assert "Traceback" not in default_plan.stderr, default_plan


def test_l3(sqlite_server):
    api = Api(sqlite_server.url)
    node = NetworkNode(api, vms=1)
    try:
        limit = api.policy("ro-gw-" + uuid.uuid4().hex[:6], bw_rules(8_000))
        api.put(f"/routers/{node.router['id']}", "router", {"external_gateway_info": {
            "network_id": node.ext["id"], "qos_policy_id": limit["id"]}})
        node.fip(0, 4, limit)
        status, plan = unchanged(
            Snapshot((node.lab.router,)), Monitor((node.lab.router,)),
            (("status", "--host", node.host, "--backend", "l3", "--interval", "0",
              "--url", sqlite_server.url), None),
            (("plan", "--host", node.host, "--backend", "l3", "--server", sqlite_server.url),
             None))
        assert plan.returncode == 0 and "change(s) planned" in plan.stdout, plan
        assert status.returncode == 0, status
    finally:
        node.lab.close()


def test_tc_probe_is_what_the_agent_reported(lab, sqlite_server):
    """Without `use_reported`, the tc backend's probe creates a veth pair: the monitor
    sees it (the check above is not blind to devices that come and go)."""
    from netqos.agent.backends.tc import TcBackend

    monitor = Monitor((lab.host,))
    with monitor:
        assert TcBackend(netns=lab.host).capabilities["clsact"] is True
    assert any("nqprobe" in e for e in monitor.events), monitor.events
    probed = Monitor((lab.host,))
    with probed:
        backend = TcBackend(netns=lab.host)
        backend.use_reported({"ifb": True, "clsact": True, "police": False})
        assert backend.capabilities == {"ifb": True, "clsact": True, "police": False}
    assert probed.events == []


def test_agent_checks_the_userspace_datapath_prerequisite(ovs_server, sqlite_server,
                                                          tmp_path):
    """On the userspace datapath, the agent refuses to start without userspace TSO, with an
    error that says what to run (and creates nothing); with it set, the agent creates the
    missing bridge (it alone: status and plan did not, above)."""
    bridge = f"nqt{os.getpid() % 0xFFFF:x}{uuid.uuid4().hex[:3]}"
    argv = [str(NETQOS), "agent", "--backend", "openvswitch", "--bridge", bridge,
            "--ovs-rundir", str(ovs_server.tmpdir), "--server", sqlite_server.url,
            "--host", "ro-tso-" + uuid.uuid4().hex[:4]]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OVS_", "NETQOS_"))}
    if ovs_server.datapath_type == "netdev":
        res = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
        assert res.returncode == 1, res
        assert "userspace-tso-enable=true" in res.stderr, res.stderr
        assert "Traceback" not in res.stderr, res.stderr
        assert bridge not in ovs_server.vsctl("list-br").split()
        ovs_server.vsctl("set", "Open_vSwitch", ".", "other_config:userspace-tso-enable=true")
    log = tmp_path / "agent.log"
    proc = subprocess.Popen(argv, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    try:
        assert wait_for(lambda: bridge in ovs_server.vsctl("list-br").split(), 20), \
            log.read_text()
    finally:
        proc.terminate()
        proc.wait(10)


def test_meter_features_are_asked_again_after_a_failure(ovs_server):
    """A switch that could not answer (its bridge not there yet) is asked again, not
    taken as "no meters" for the life of the process."""
    from netqos.agent.backends.ovs import OvsBackend

    ovs_server.vsctl("set", "Open_vSwitch", ".", "other_config:userspace-tso-enable=true")
    bridge = f"nqm{os.getpid() % 0xFFFF:x}{uuid.uuid4().hex[:3]}"
    backend = OvsBackend(bridge=bridge, rundir=str(ovs_server.tmpdir),
                         datapath_type=ovs_server.datapath_type)
    try:
        assert backend.capabilities["meters_kbps"] is False   # no bridge, no answer
        assert bridge not in ovs_server.vsctl("list-br").split()   # and nothing created
        backend.prepare()
        assert bridge in ovs_server.vsctl("list-br").split()
        assert backend.capabilities["meters_kbps"] is True
        assert backend.capabilities["meters_pktps"] is True
    finally:
        backend.close()


def test_libvirt(vm, sqlite_server):  # noqa: F811
    """A running guest whose NIC is not tap<port id>: status finds it through libvirt (by
    the guest's MAC), as the agent does; neither command probes the kernel."""
    api, host = Api(sqlite_server.url), "ro-lv-" + uuid.uuid4().hex[:6]
    net = api.post("/networks", "network", {"name": "ro-" + host, "qos_policy_id": None})
    api.post("/subnets", "subnet", {"network_id": net["id"], "ip_version": 4,
                                    "cidr": f"{vm.bridge.subnet}.0/24"})
    port = api.post("/ports", "port", {"network_id": net["id"], "binding:host_id": host,
                                       "mac_address": vm.mac,
                                       "qos_policy_id": policy(api)["id"]})
    probes = ("nqprobe", "nqlvprobe")   # the tc and libvirt backends' throw-away devices
    flags = ("--host", host, "--backend", "libvirt")
    status, plan = unchanged(
        Snapshot((None,), devices=(vm.tap,)), Monitor((None,), devices=(vm.tap, *probes)),
        (("status", *flags, "-f", "json", "--interval", "0", "--url", sqlite_server.url),
         None),
        (("plan", *flags, "--server", sqlite_server.url), None))
    assert status.returncode == 0 and status.json()["kernel_error"] is None, status
    [p] = status.json()["ports"]
    assert p["port_id"] == port["id"] and p["device"] == vm.tap and p["present"], p
    assert plan.returncode == 0 and "change(s) planned" in plan.stdout, plan
