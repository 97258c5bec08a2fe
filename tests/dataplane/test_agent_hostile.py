"""A real agent fed hostile payloads: one bad port (or router) never stops a host.

The agent process (tc backend in a host namespace; the L3 backend over router namespaces)
pulls from a server stub (tests/harness/server_stub.py) that serves what the real server
would refuse: a MAC with a trailing newline, the IPv6 gateway with a scope id that carries
tc commands, device names with spaces and newlines, negative, huge and wrongly typed
numbers. Next to them, good ports and routers. Asserted, from the kernel and from what the
agent reported: the good ones are shaped (read back with `tc -j`), every bad one is
reported ERROR with its reason, no injected command ran (each injection would add a qdisc
to `lo` and a dummy device: tripwires), and the agent keeps passing and converging.
"""
from __future__ import annotations

import itertools
import json
import os
import uuid

import pytest

from tests.harness.l3lab import RouterLab
from tests.harness.netns import sh
from tests.harness.server_stub import ServerStub

from tests.harness.agentproc import AgentProcess
from .test_agent_api import root_qdisc
from tests.harness.util import wait_until

_labs = itertools.count()
TRIPWIRE = f"nqpwn{os.getpid() % 100000}"


def injection(device: str) -> str:
    """Text that, if it reached a `tc -batch` or `ip -batch` as lines, would delete the
    root qdisc of `device` and leave marks behind (a qdisc on lo, a dummy device)."""
    return (f"\nqdisc del dev {device} root\nqdisc add dev lo root handle 77: pfifo"
            f"\nlink add {TRIPWIRE} type dummy\nx")


def tripped(ns: str) -> list[str]:
    marks = []
    if any(q.get("handle") == "77:" for q in
           json.loads(sh("tc", "-n", ns, "-j", "qdisc", "show", "dev", "lo").stdout or "[]")):
        marks.append("qdisc 77: on lo")
    if sh("ip", "-n", ns, "link", "show", TRIPWIRE, check=False).returncode == 0:
        marks.append(f"device {TRIPWIRE}")
    return marks


def bw(kbps, direction="ingress", **more) -> dict:
    return {"type": "bandwidth_limit", "max_kbps": kbps, "max_burst_kbps": 0,
            "direction": direction, **more}


def wire_port(port_id: str, mac: str, *rules: dict, **over) -> dict:
    return {"port_id": port_id, "revision": 1, "mac_address": mac, "fixed_ips": [],
            "vnic_type": "normal", "device": None, "policy_id": None, "rules": list(rules),
            "profile": {}, "admin_state_up": True, **over}


def tbf_rate(ns: str, device: str) -> int | None:
    """The rate (bytes/s) of the device's root TBF, read back with `tc -j`."""
    q = root_qdisc(ns, device)
    return q["options"]["rate"] if q.get("kind") == "tbf" else None


def agent_log_tail(agent: AgentProcess) -> str:
    return agent.log.read_text()[-3000:] if agent.log.exists() else ""


@pytest.fixture
def stub():
    with ServerStub("hostile-" + uuid.uuid4().hex[:8]) as stub:
        yield stub


def test_tc_agent_shapes_good_ports_and_reports_each_hostile_one(lab, stub, tmp_path):
    good = [lab.add_vm(), lab.add_vm()]
    # Devices exist for the hostile ports too: were they accepted, they would be applied.
    victims = [lab.add_vm() for _ in range(3)]
    target = good[0].device
    hostile = {
        "mac-newline": wire_port(victims[0].port_id, "fa:16:3e:00:00:01\n" + injection(target),
                                 bw(5000, "egress"), bw(5000)),
        "device-newline": wire_port(str(uuid.uuid4()), "fa:16:3e:00:00:02", bw(5000),
                                    device=victims[1].device + injection(target)),
        "device-space": wire_port(str(uuid.uuid4()), "fa:16:3e:00:00:03", bw(5000),
                                  device="tap x root"),
        "negative-rate": wire_port(victims[2].port_id, "fa:16:3e:00:00:04", bw(-1000)),
        "huge-rate": wire_port(str(uuid.uuid4()), "fa:16:3e:00:00:05", bw(2**40)),
        "rate-a-string": wire_port(str(uuid.uuid4()), "fa:16:3e:00:00:06", bw("1000; x")),
        "dscp-a-float": wire_port(str(uuid.uuid4()), "fa:16:3e:00:00:07",
                                  {"type": "dscp_marking", "dscp_mark": 26.0}),
        "scope-id": wire_port(str(uuid.uuid4()), "fa:16:3e:00:00:08", bw(5000),
                              fixed_ips=["2001:db8:1::99%" + injection(target)]),
        "rules-not-a-list": wire_port(str(uuid.uuid4()), "fa:16:3e:00:00:09",
                                      rules={"type": "bandwidth_limit"}),
        "revision-a-string": wire_port(str(uuid.uuid4()), "fa:16:3e:00:00:0a", bw(5000),
                                       revision="1\n"),
        # a well-formed name, but another port's device: that port keeps it
        "takes-another-device": wire_port(str(uuid.uuid4()), "fa:16:3e:00:00:0c", bw(1000),
                                          device=target),
    }
    unreportable = [wire_port("id with\nnewline", "fa:16:3e:00:00:0b", bw(5000)), "junk", 7]
    ports = [wire_port(good[0].port_id, good[0].mac, bw(10000)),
             wire_port(good[1].port_id, good[1].mac, bw(20000), bw(8000, "egress"))]
    stub.publish(ports=ports[:1] + list(hostile.values()) + unreportable + ports[1:])

    agent = AgentProcess(stub.url, stub.host, lab.host, tmp_path / "agent.log",
                         resync=1).start()
    try:
        ok = wait_until(lambda: {p: s for p, s in stub.port_status().items()
                               if s["status"] == "ACTIVE"}.keys() >= {v.port_id for v in good}
                      or None, 20, "the good ports reported ACTIVE")
        assert ok
        assert tbf_rate(lab.host, good[0].device) == 10000 * 125
        assert tbf_rate(lab.host, good[1].device) == 20000 * 125
        status = stub.port_status()
        for name, doc in hostile.items():
            if name == "revision-a-string":   # its revision is unusable: reported at 0
                assert status[doc["port_id"]]["revision"] == 0
            entry = status.get(doc["port_id"])
            assert entry and entry["status"] == "ERROR", (name, entry, agent_log_tail(agent))
            assert entry["reason"].startswith("refused by the agent:"), (name, entry)
            assert "\n" not in entry["reason"]
        assert "mac_address" in status[hostile["mac-newline"]["port_id"]]["reason"]
        assert "fixed_ips" in status[hostile["scope-id"]["port_id"]]["reason"]
        assert "device" in status[hostile["device-space"]["port_id"]]["reason"]
        assert good[0].port_id in status[hostile["takes-another-device"]["port_id"]]["reason"]
        # no kernel state for the refused ports whose devices exist here
        for vm in victims:
            assert root_qdisc(lab.host, vm.device).get("kind") != "tbf", vm.device
        assert tripped(lab.host) == []

        # The agent keeps passing (resync 1 s) and still converges on a change.
        pulls, beats = stub.pulls, stub.heartbeats()
        ports[0] = {**ports[0], "revision": 2, "rules": [bw(30000)]}
        stub.publish(ports=ports[:1] + list(hostile.values()) + unreportable + ports[1:])
        wait_until(lambda: tbf_rate(lab.host, good[0].device) == 30000 * 125, 10,
                 "the change to the good port")
        wait_until(lambda: stub.pulls >= pulls + 3, 10, "further passes")
        assert agent.proc.poll() is None, agent_log_tail(agent)
        assert tbf_rate(lab.host, good[1].device) == 20000 * 125
        assert tripped(lab.host) == []
        assert stub.heartbeats() >= beats
        assert "Traceback" not in agent.log.read_text(), agent_log_tail(agent)
    finally:
        agent.stop()


def router_doc(lab: RouterLab, *gw_rules: dict, **over) -> dict:
    return {"router_id": lab.router_id, "revision": 1, "gw_port_id": lab.gw_port_id,
            "gw_device": lab.qg, "namespace": lab.router,
            "gw_ips": [a.split("/")[0] for a in lab.gw_ips], "gw_policy_id": None,
            "gw_rules": list(gw_rules), "floatingips": [], **over}


def htb_rates(ns: str, device: str) -> list[int]:
    """Rates (bytes/s) of the HTB classes on a device, read back with `tc -j`."""
    out = sh("tc", "-n", ns, "-j", "class", "show", "dev", device, check=False).stdout
    try:
        classes = json.loads(out or "[]")
    except json.JSONDecodeError:   # some iproute2 versions print text for classes
        import re
        return [_rate_bytes(m) for m in re.findall(r"class htb \S+ .*? rate (\S+)", out)]
    return [c["options"]["rate"] for c in classes if c.get("kind") == "htb"]


def _rate_bytes(text: str) -> int:
    units = {"bit": 1, "Kbit": 1000, "Mbit": 1000**2, "Gbit": 1000**3}
    for unit, factor in sorted(units.items(), key=lambda u: -len(u[0])):
        if text.endswith(unit):
            return int(float(text[:-len(unit)]) * factor / 8)
    return int(text)


@pytest.fixture
def routers():
    made: list[RouterLab] = []

    def make(gw_ips: tuple[str, ...]) -> RouterLab:
        lab = RouterLab(str(uuid.uuid4()), str(uuid.uuid4()), gw_ips,
                        prefix=f"nq-l3h-{os.getpid()}-{next(_labs)}-")
        made.append(lab)
        return lab

    yield make
    for lab in made:
        lab.close()


def test_l3_agent_limits_good_routers_and_reports_a_hostile_gateway(stub, routers, tmp_path):
    good = routers(("198.18.200.2/24", "fd00:198:18:c8::2/64"))
    evil = routers(("198.18.200.3/24", "fd00:198:18:c8::3/64"))
    hostile_gw = "2001:db8:1::99%" + injection(evil.qg)
    bad_fip = {"id": str(uuid.uuid4()), "floating_ip_address": "198.18.200.9\n" +
               injection(good.qg), "rules": [bw(1000, "egress")], "revision": 1}
    stray = str(uuid.uuid4())
    stub.publish(routers=[
        router_doc(good, bw(10000, "egress")),
        router_doc(evil, bw(10000, "egress"), gw_ips=["198.18.200.3", hostile_gw]),
        # routers whose namespace is not here: a hostile floating IP, device, number
        {**router_doc(good, bw(1000, "egress")), "router_id": stray,
         "gw_port_id": stray, "namespace": "qrouter-" + stray, "floatingips": [bad_fip]},
        {**router_doc(good), "router_id": "r", "gw_port_id": "g2", "gw_device": "qg-a b"},
        {**router_doc(good, bw(-5, "egress")), "router_id": "r3", "gw_port_id": "g3"},
    ])
    agent = AgentProcess(stub.url, stub.host, good.router, tmp_path / "l3.log", resync=1)
    agent.argv += ["--backend", "l3"]
    agent.start()
    try:
        wait_until(lambda: stub.port_status().get(good.gw_port_id, {}).get("status")
                 == "ACTIVE", 20, "the good router reported ACTIVE")
        assert 10000 * 125 in htb_rates(good.router, good.qg), agent_log_tail(agent)
        status = stub.port_status()
        for port_id, field in ((evil.gw_port_id, "gw_ips"), (stray, "floating_ip_address"),
                               ("g2", "gw_device"), ("g3", "max_kbps")):
            entry = status.get(port_id)
            assert entry and entry["status"] == "ERROR", (port_id, entry, agent_log_tail(agent))
            assert field in entry["reason"] and "\n" not in entry["reason"], entry
        assert htb_rates(evil.router, evil.qg) == []      # nothing formatted for it
        assert tripped(good.router) == [] and tripped(evil.router) == []

        pulls = stub.pulls
        wait_until(lambda: stub.pulls >= pulls + 3, 10, "further passes")
        assert agent.proc.poll() is None, agent_log_tail(agent)
        assert 10000 * 125 in htb_rates(good.router, good.qg)
        assert "Traceback" not in agent.log.read_text(), agent_log_tail(agent)
    finally:
        agent.stop()


def test_runner_never_sends_a_line_with_a_control_character(lab):
    """The last guard under the checks: a batch line with a newline fails as itself and is
    never sent; the lines around it run, and failures still map to their own lines."""
    from netqos.agent.tc.runner import Runner

    vm = lab.add_vm()
    runner = Runner(lab.host)
    lines = [f"qdisc add dev {vm.device} root handle 4e51: tbf rate 8mbit burst 20k "
             "latency 20ms",
             "qdisc add dev lo root handle 1: tbf rate 1mbit burst 10k latency 10ms"
             + injection(vm.device),
             "qdisc add dev nq-no-such-dev root handle 1: pfifo"]
    res = runner.batch("tc", lines)
    assert set(res.failed_lines) == {2, 3} and "control character" in res.failed_lines[2]
    assert res.blame(["good", "evil", "missing"]).keys() == {"evil", "missing"}
    assert tbf_rate(lab.host, vm.device) == 1_000_000
    assert root_qdisc(lab.host, "lo").get("kind") != "tbf" and tripped(lab.host) == []
    assert runner.nft(["add table inet nqx" + injection(vm.device)]) is not None


def test_plan_names_the_refused_ports_and_plans_the_others(lab, stub):
    from tests.harness.agentproc import NETQOS

    vm = lab.add_vm()
    bad = str(uuid.uuid4())
    stub.publish(ports=[wire_port(vm.port_id, vm.mac, bw(10000)),
                        wire_port(bad, "fa:16:3e:00:00:01\n", bw(5000))])
    res = sh(NETQOS, "plan", "--server", stub.url, "--host", stub.host, "--netns", lab.host)
    assert f"port {bad}: refused by the agent: mac_address" in res.stderr, res.stderr
    assert vm.port_id[:13] in res.stdout and "Traceback" not in res.stderr
    assert root_qdisc(lab.host, vm.device).get("kind") != "tbf"   # a plan changes nothing
