"""Idempotence, in-place change, drift repair, removal, and recovery from a killed apply."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from netqos.agent.backends.tc import TcBackend
from tests.harness.netns import sh
from netqos.wire import PortQos
from netqos.agent.tc.state import IFB_NAME
from tests.dataplane.helpers import bw, converge, dscp, port, pps


def _tc_json(lab, *args) -> list:
    return json.loads(sh("tc", "-n", lab.host, "-j", *args).stdout or "[]")


def test_second_apply_is_empty_and_change_is_in_place(lab, backend):
    vm = lab.add_vm()
    desired = [port(vm, bw(10_000, "egress"), bw(20_000, "ingress"), dscp(18))]
    assert converge(backend, desired)
    assert backend.plan(desired, backend.observe(desired)) == []
    before = _tc_json(lab, "qdisc", "show", "dev", vm.device)
    changed = [port(vm, bw(30_000, "egress"), bw(40_000, "ingress"), dscp(18), revision=2)]
    changes = backend.plan(changed, backend.observe(changed))
    assert {c.action for c in changes} == {"update"}, [str(c) for c in changes]
    assert len(changes) == 2   # the two shapers; nothing else moves
    converge(backend, changed)
    after = _tc_json(lab, "qdisc", "show", "dev", vm.device)
    root = next(q for q in after if q.get("root"))
    assert root["handle"] == next(q for q in before if q.get("root"))["handle"] == "4e51:"
    assert root["options"]["rate"] == 40_000_000 // 8
    assert backend.plan(changed, backend.observe(changed)) == []


def test_drift_is_shown_and_repaired(lab, backend):
    vm = lab.add_vm()
    desired = [port(vm, bw(10_000, "egress"), bw(10_000, "ingress"), pps(5, "egress"))]
    converge(backend, desired)
    sh("tc", "-n", lab.host, "qdisc", "del", "dev", vm.device, "root")
    sh("tc", "-n", lab.host, "class", "change", "dev", IFB_NAME, "classid", "4e51:10", "htb",
       "rate", "99mbit", "ceil", "99mbit")
    sh("ip", "netns", "exec", lab.host, "nft", "flush", "chain", "inet", "netqos",
       f"p-{vm.port_id}-out")
    plan = backend.plan(desired, backend.observe(desired))
    assert len(plan) == 3 and all(c.drift for c in plan), [str(c) for c in plan]
    assert any("(drift)" in str(c) for c in plan)
    _, result = backend.sync(desired)
    assert not result.errors and sum(map(len, result.drift_repaired.values())) == 3
    assert backend.plan(desired, backend.observe(desired)) == []
    # a fresh backend (agent restart) adopts what is there: nothing to do
    assert TcBackend(netns=lab.host).plan(desired, backend.observe(desired)) == []


def test_removal_leaves_nothing_behind(lab, backend):
    vm = lab.add_vm()
    converge(backend, [port(vm, bw(10_000, "egress"), bw(10_000, "ingress"), dscp(46),
                            pps(1, "ingress"))])
    converge(backend, [port(vm, revision=2)])
    qdiscs = _tc_json(lab, "qdisc", "show")
    assert not [q for q in qdiscs if q["handle"] in ("4e51:",) or q["kind"] == "clsact"]
    assert IFB_NAME not in sh("ip", "-n", lab.host, "link", "show").stdout
    assert "netqos" not in sh("ip", "netns", "exec", lab.host, "nft", "list", "tables").stdout


def _desired(rows, kbps: int) -> list[PortQos]:
    rules = (bw(kbps, "egress"), bw(kbps, "ingress"), dscp(34))
    return [PortQos(pid, 1, mac, rules=rules, device=dev) for pid, dev, mac in rows]


def _kernel_counts(lab) -> dict:
    qdiscs = _tc_json(lab, "qdisc", "show")
    ruleset = sh("ip", "netns", "exec", lab.host, "nft", "list", "ruleset").stdout
    classes = sh("tc", "-n", lab.host, "class", "show", "dev", IFB_NAME, check=False).stdout
    filters = sh("tc", "-n", lab.host, "filter", "show", "dev", IFB_NAME, check=False).stdout
    return {"tbf": sum(q["kind"] == "tbf" for q in qdiscs),
            "clsact": sum(q["kind"] == "clsact" for q in qdiscs),
            "leaves": sum(q["kind"] == "bfifo" for q in qdiscs),
            "classes": classes.count("class htb"),
            "mac_filters": filters.count("flowid 4e51:"),
            "classified": len(TcBackend(netns=lab.host).observe().port_classes),
            "chains": ruleset.count("chain p-"),
            "ifbs": len(sh("ip", "-n", lab.host, "-o", "link", "show", "type", "ifb"
                           ).stdout.splitlines())}


def test_killed_apply_converges_without_duplicates(lab, tmp_path):
    rows = lab.many_taps(200)
    path = tmp_path / "ports.json"
    path.write_text(json.dumps([p.to_wire() for p in _desired(rows, 20_000)]))
    partial = []
    for delay in (0.6, 1.0):
        proc = subprocess.Popen([sys.executable, "-m", "netqos.agent.tc", "--netns", lab.host,
                                 "--chunk", "40", str(path)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        partial.append(_kernel_counts(lab)["tbf"])
    # converge from a fresh backend on a different state: 150 ports, another rate
    desired = _desired(rows[:150], 30_000)
    backend = TcBackend(netns=lab.host)
    converge(backend, desired)
    assert backend.plan(desired, backend.observe(desired)) == []
    counts = _kernel_counts(lab)
    assert counts == {"tbf": 150, "clsact": 150, "leaves": 150, "classes": 151,
                      "mac_filters": 0, "classified": 150, "chains": 300,
                      "ifbs": 1}, (counts, partial)
