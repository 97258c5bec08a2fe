"""admin_state_up through the API and a real agent: down holds the link down and keeps the
QoS in the kernel (no traffic, the shaper stays); up brings it back, shaped at once.

The port's status follows Neutron: DOWN while administratively down, ACTIVE when up; its
netqos:qos_state stays ACTIVE throughout (the QoS is held, not removed).
"""
from __future__ import annotations

import json
import time
import uuid

from tests.harness.netns import sh
from tests.harness.traffic import udp_flood_pps

from .test_agent_api import (  # noqa: F401  (api, agent_factory: fixtures)
    agent_factory, api, goodput_ratio, plug_vm, root_qdisc)
from tests.harness.util import wait_until

KBPS = 20000


def link_up(ns: str, device: str) -> bool:
    link = json.loads(sh("ip", "-n", ns, "-j", "link", "show", "dev", device).stdout)[0]
    return "UP" in link["flags"]


def delivered(lab, vm) -> tuple[float, float]:
    """Datagrams per second that get through (VM -> host, host -> VM), 200/s sent."""
    return (udp_flood_pps(vm.ns, lab.host, vm.gw4, pps=200, seconds=1)[1],
            udp_flood_pps(lab.host, vm.ns, vm.ip4, pps=200, seconds=1)[1])


def reported(api, port_id: str, status: str):
    port = api.port(port_id)
    state = port["netqos:qos_state"]
    return port if state["applied_revision"] == state["desired_revision"] \
        and state["status"] == "ACTIVE" and port["status"] == status else None


def tbf_rate(ns: str, device: str) -> int | None:
    q = root_qdisc(ns, device)
    return q["options"]["rate"] if q.get("kind") == "tbf" else None


def test_admin_down_holds_the_link_down_and_keeps_qos_then_up_is_shaped(api, lab,
                                                                      agent_factory):
    host = "dp-" + uuid.uuid4().hex[:8]
    policy = api.policy("admin", [("bandwidth_limit", {"max_kbps": KBPS, "direction": d})
                                  for d in ("egress", "ingress")])
    port = api.bound_port(api.network(), host, policy)
    vm = plug_vm(lab, port)
    agent_factory(host, lab.host, resync=2)
    wait_until(lambda: reported(api, port["id"], "ACTIVE"), 15, "the policy applied")
    assert min(delivered(lab, vm)) > 0 and tbf_rate(lab.host, vm.device) == KBPS * 125

    api.put(f"/ports/{port['id']}", "port", {"admin_state_up": False})
    wait_until(lambda: reported(api, port["id"], "DOWN"), 15, "the admin-down reported")
    assert not link_up(lab.host, vm.device)
    assert delivered(lab, vm) == (0, 0), "traffic passed through an administratively down port"
    assert tbf_rate(lab.host, vm.device) == KBPS * 125, "the shaper went with admin-down"
    # Resyncs (every 2 s) keep it so: the link is not brought up, the shaper not removed.
    time.sleep(4.5)
    assert not link_up(lab.host, vm.device)
    assert tbf_rate(lab.host, vm.device) == KBPS * 125

    api.put(f"/ports/{port['id']}", "port", {"admin_state_up": True})
    wait_until(lambda: reported(api, port["id"], "ACTIVE"), 15, "the admin-up reported")
    assert link_up(lab.host, vm.device) and min(delivered(lab, vm)) > 0
    for direction in ("egress", "ingress"):
        ratio = goodput_ratio(lab, vm, direction, KBPS)
        assert 0.90 <= ratio <= 1.02, f"{direction} at {KBPS} kbit/s: goodput/limit {ratio:.3f}"

