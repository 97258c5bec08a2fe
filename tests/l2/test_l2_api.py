"""L2 wiring through the API, end to end: a real `netqos server` (noauth on loopback), three
simulated hosts each with a real `netqos agent --l2 linuxbridge --local-ip <fabric address>
--l2-population` (the `api_lab` fixture, tests/harness/l2api.py): two VXLAN tenant networks
and one flat provider network on the same CIDR, their ports created and bound
(binding:host_id, as an admin) through the API. Each host's wiring comes from the server's
host pull ("l2" block), and the tunnel IPs from the agents' heartbeats.

The tests run in file order on one set-up: the isolation matrices first, then drift and an
agent's crash (each leaves the lab as it found it), then changes that must converge
(admin-down, a port moved to another host, ports and a network deleted)."""
from __future__ import annotations

import json
import time

import pytest

from tests.harness.l2api import HEARTBEAT_S, ApiLab
from tests.harness.l2hosts import Vm
from tests.harness.util import wait_for

CONVERGE = 15          # seconds: agents poll the host revision every 0.3 s
REPAIR_S = 1.0         # drift is repaired within a second (netlink events)


def by_name(api_lab: ApiLab) -> dict[str, Vm]:
    return {vm.name: vm for vm in api_lab.lab.vms}


def bridges(host) -> set[str]:
    return {name for name, d in host.links().items()
            if name.startswith(("brq", "vxlan-"))}


def test_vms_reach_their_network_across_hosts_and_never_another(api_lab):
    vms, lab = by_name(api_lab), api_lab.lab
    assert api_lab.active(CONVERGE), api_lab.logs()
    # The fdb needs every peer's tunnel IP (from its heartbeat): wait for the far corners.
    assert wait_for(lambda: lab.ping(vms["red1"], vms["red3"], count=1) == 1
                    and lab.ping(vms["blue3"], vms["blue2"], count=1) == 1
                    and lab.ping(vms["flat1"], vms["flat2"], count=1) == 1,
                    CONVERGE), api_lab.logs()
    same, across = lab.isolation(lab.matrix(count=2))
    assert len(same) == 6 + 6 + 2 and len(across) == 8 * 7 - 14
    assert [p for p, n in same.items() if n == 0] == []
    assert sum(across.values()) == 0, {p: n for p, n in across.items() if n}


def test_tcp_within_networks_and_never_across(api_lab):
    lab, vms = api_lab.lab, by_name(api_lab)
    same, across = lab.split(lab.tcp_matrix())
    # On a loaded 2-core machine a connection can miss its 2 s; a reachable pair answers
    # a second try (a cross-network pair gets none: isolation is judged on the first).
    for pair in [p for p, n in same.items() if n == 0]:
        print(f"retrying TCP {pair}")
        same[pair] = lab.tcp_pair(vms[pair[0]], vms[pair[1]])
    print(f"\nTCP, same network: {sum(same.values())}/{len(same)} connections echoed; "
          f"across networks: {sum(across.values())} of {len(across)}")
    assert len(same) == 14 and len(across) == 42
    assert [p for p, n in same.items() if n == 0] == []
    assert sum(across.values()) == 0


def _timed(predicate, timeout: float = 5.0) -> float:
    started = time.monotonic()
    assert wait_for(predicate, timeout, interval=0.02), "not repaired"
    return time.monotonic() - started


def _drift(api_lab: ApiLab, vm: Vm) -> tuple[str | None, list[str]]:
    """When the port's agent last reported drift repaired (to the second), and what."""
    state = api_lab.port(vm)["netqos:qos_state"]
    return state["drift_repaired_at"], state["drift_repaired"]


@pytest.mark.parametrize("what", ["tap out of bridge", "vxlan deleted", "fdb entry removed"])
def test_drift_is_repaired_within_a_second_and_reported(api_lab, what):
    vm = by_name(api_lab)["red1"]
    host, peer_ip = vm.host, api_lab.lab.hosts[2].local_ip
    bridge, vx = "brq" + vm.network.network_id[:11], f"vxlan-{vm.network.segmentation_id}"
    before = _drift(api_lab, vm)
    if what == "tap out of bridge":
        reported = f"plug {vm.tap}"
        host.ip("link", "set", "dev", vm.tap, "nomaster")
        repaired = lambda: host.links()[vm.tap].get("master") == bridge   # noqa: E731
    elif what == "vxlan deleted":
        reported = f"vxlan {vx}"
        host.ip("link", "del", "dev", vx)
        repaired = lambda: (vx in host.links()                            # noqa: E731
                            and ("00:00:00:00:00:00", peer_ip) in host.fdb(vx))
    else:
        reported = f"fdb 00:00:00:00:00:00 dst {peer_ip} on {vx}"
        host.bridge("fdb", "del", "00:00:00:00:00:00", "dev", vx, "dst", peer_ip)
        repaired = lambda: ("00:00:00:00:00:00", peer_ip) in host.fdb(vx)  # noqa: E731
    took = _timed(repaired)
    print(f"\n{what}: repaired by the agent in {took * 1000:.0f} ms")
    assert took <= REPAIR_S, api_lab.logs()

    def report() -> list[str]:
        now = _drift(api_lab, vm)
        return now[1] if now != before else []
    assert wait_for(lambda: any(reported in t and "(drift)" in t for t in report()),
                    CONVERGE), (report(), api_lab.logs())
    print("reported through the API:", *report(), sep="\n  ")
    assert api_lab.lab.ping(vm, by_name(api_lab)["red3"]) > 0


def _qdisc_bytes(host, dev: str) -> int:
    """Bytes through the root qdisc of `dev`: a qdisc recreated would start again at 0."""
    out = host.ns.run("tc", "-s", "-j", "qdisc", "show", "dev", dev).stdout
    return next(q["bytes"] for q in json.loads(out) if q.get("root"))


def _indexes(host) -> dict[str, int]:
    return {name: d["ifindex"] for name, d in host.links().items()
            if name.startswith(("brq", "vxlan-"))}


def _started(api_lab: ApiLab, host) -> str | None:
    agents = api_lab.ok(api_lab.http.get("/v2.0/agents"), 200)["agents"]
    return next((a["started_at"] for a in agents if a["host"] == host.name), None)


def test_agent_sigkill_and_restart_keeps_wiring_and_qos(api_lab):
    """A ping across hosts at 20/s runs while the agents of both its ends are SIGKILLed and
    restarted, and until both restarted agents have made their first pass: they find the
    kernel as desired and recreate nothing (no bridge, vxlan device or shaper), and the
    ping loses at most a second."""
    vms, lab = by_name(api_lab), api_lab.lab
    src, dst = vms["red1"], vms["red2"]
    hosts = (src.host, dst.host)
    limit = api_lab.policy(
        *(("bandwidth_limit_rules", {"max_kbps": 50_000, "direction": d})
          for d in ("egress", "ingress")), ("dscp_marking_rules", {"dscp_mark": 26}))
    api_lab.update_port(src, qos_policy_id=limit)
    try:
        assert wait_for(lambda: api_lab.port(src)["netqos:qos_state"]["applied_revision"]
                        == api_lab.port(src)["netqos:qos_state"]["desired_revision"]
                        and api_lab.status(src) == "ACTIVE", CONVERGE), api_lab.logs()
        assert lab.ping(src, dst, count=2) == 2
        shaped, wiring = _qdisc_bytes(src.host, src.tap), [_indexes(h) for h in hosts]
        started = [_started(api_lab, h) for h in hosts]
        interval = 0.05
        proc, sent = lab.ping_through(src, dst, seconds=15, interval=interval)
        time.sleep(1.5)
        for host in hosts:
            host.kill()
        time.sleep(0.5)
        for host in hosts:
            api_lab.start_agent(host)
        # Both new agents' first passes are done (their first heartbeat comes with them).
        assert wait_for(lambda: all(_started(api_lab, h) != s
                                    for h, s in zip(hosts, started)), 10), api_lab.logs()
        assert proc.poll() is None, "the ping ended before the agents were back"
        got = lab.received(proc)
        lost_s = (sent - got) * interval
        print(f"\nping at {1 / interval:.0f}/s through SIGKILL + restart of the agents of "
              f"{src.host.name} and {dst.host.name}: {got}/{sent} answered, "
              f"{lost_s:.2f} s lost")
        assert lost_s <= 1.0
        assert [_indexes(h) for h in hosts] == wiring   # no bridge or vxlan recreated
        assert _qdisc_bytes(src.host, src.tap) > shaped, "the shaper was recreated"
        assert api_lab.status(src) == "ACTIVE"
    finally:
        api_lab.update_port(src, qos_policy_id=None)
        api_lab.ok(api_lab.http.delete(f"/v2.0/qos/policies/{limit}"), 204)


def test_a_dead_agents_host_keeps_its_tunnels_and_its_vms_their_network(api_lab):
    """As Neutron's l2population: the peers of a host whose agent stopped reporting keep
    its flood and MAC entries, so its VMs stay reachable while the agent is away (its
    kernel wiring still works); the agent started again changes nothing."""
    vms, (h1, h2, h3) = by_name(api_lab), api_lab.lab.hosts
    red1, red3 = vms["red1"], vms["red3"]
    vx = f"vxlan-{red1.network.segmentation_id}"

    def dsts(host) -> set[str]:
        return {dst for _, dst in host.fdb(vx)}
    assert h3.local_ip in dsts(h1)
    h3.stop()
    try:
        # Dead after 3 missed heartbeats; the peers' full pulls (every 5 s) follow.
        assert wait_for(lambda: not next(a for a in api_lab.http.get("/v2.0/agents").json()
                                         ["agents"] if a["host"] == h3.name)["alive"],
                        3 * HEARTBEAT_S + 10)
        time.sleep(6)
        assert h3.local_ip in dsts(h1) and h3.local_ip in dsts(h2)
        assert api_lab.lab.ping(red1, red3, count=2) == 2
    finally:
        api_lab.start_agent(h3)
    assert wait_for(lambda: api_lab.lab.ping(red1, red3, count=1) == 1, CONVERGE)


def test_admin_down_stops_the_port_and_reports_it(api_lab):
    vms, lab = by_name(api_lab), api_lab.lab
    red2 = vms["red2"]
    api_lab.update_port(red2, admin_state_up=False)
    try:
        assert wait_for(lambda: api_lab.status(red2) == "DOWN", CONVERGE), api_lab.logs()
        # DOWN is reported once the link is held down; the unplug follows in the same pass.
        assert wait_for(lambda: "master" not in red2.host.links()[red2.tap], CONVERGE)
        assert lab.ping(vms["red1"], red2, count=2) == 0
    finally:   # the later tests need red2 up, whatever happened here
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
    # Red and flat are untouched.
    assert lab.ping(vms["red1"], vms["red2"], count=1) == 1
    assert lab.ping(vms["flat1"], vms["flat2"], count=1) == 1
    assert all(h.proc.poll() is None for h in lab.hosts), api_lab.logs()
