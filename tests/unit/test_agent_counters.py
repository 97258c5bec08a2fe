"""agent/counters.py against this machine's real kernel (no root needed): one `ip -s -j
link` and one `tc -s -j qdisc` dump give every port's bytes, packets and qdiscs."""
from __future__ import annotations

import socket

from netqos.agent import counters
from netqos.wire import PortQos
from netqos.agent.tc.runner import Runner
from netqos.agent.telemetry import _limit


def test_counters_of_a_real_device_move_with_traffic():
    port = PortQos("p-lo", 1, "00:00:00:00:00:00", device="lo")
    gone = PortQos("p-gone", 1, "00:00:00:00:00:01", device="nq-no-such-dev")
    runner = Runner(None)
    [before] = counters.read(runner, [port, gone])   # a vanished device is skipped
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _ in range(20):
            s.sendto(b"x" * 1000, ("127.0.0.1", 9))
    [after] = counters.read(runner, [port])
    assert after.device == "lo" and after.port_id == "p-lo"
    # lo's rx and tx both count what loops back.
    assert after.tx_bytes - before.tx_bytes >= 20 * 1000
    assert after.rx_packets - before.rx_packets >= 20
    assert after.objects == ()   # lo has only noqueue: no limiter of ours


def test_qdisc_objects_are_shown_in_bits_per_second():
    tbf = {"kind": "tbf", "handle": "4e51:", "root": True, "dev": "tap1",
           "options": {"rate": 1_250_000, "burst": 15000, "lat": 1000}, "drops": 4,
           "overlimits": 9}
    assert counters.qdisc_object(tbf) == {
        "dev": "tap1", "kind": "tbf", "handle": "4e51:", "parent": "root",
        "options": {"rate_bps": 10_000_000, "burst": 15000, "lat": 1000},
        "drops": 4, "overlimits": 9}


def test_limits_reported_with_the_counters_are_the_vms_view():
    rules = ({"type": "bandwidth_limit", "max_kbps": 10_000, "direction": "ingress"},
             {"type": "dscp_marking", "dscp_mark": 26})
    assert _limit(rules) == {"in_bps": 10_000_000, "out_bps": None}


def test_a_pass_brings_the_next_counter_tick_forward():
    """A pass that changed a limit is on the chart at once, not up to a tick later."""
    import threading
    import time
    from types import SimpleNamespace

    from netqos.agent.telemetry import Telemetry

    agent = SimpleNamespace(config=SimpleNamespace(netns=None), ports_here=[])
    telemetry, stop = Telemetry(agent, interval=5.0), threading.Event()
    started = time.monotonic()
    threading.Timer(0.2, lambda: setattr(agent, "ports_here", [])).start()   # a new pass
    telemetry._wait(stop, started, agent.ports_here)
    assert 0.15 < time.monotonic() - started < 1.0


def test_out_of_a_vm_shaped_on_the_ifb_is_counted_after_the_shaper():
    """A real tc backend in a namespace (root): the port's `out` and drops come from its
    HTB class's leaf on nq-ifb, not from the tap's rx (what the VM offered)."""
    import dataclasses
    import os
    import uuid

    import pytest

    from netqos.agent.backends.tc import TcBackend
    from tests.harness.lab import Lab
    from tests.harness.traffic import udp_flood_pps
    from tests.dataplane.helpers import bw, converge, port

    if os.geteuid() != 0:
        pytest.skip("needs root (a namespace, tc, the eBPF classifier)")
    with Lab(prefix=f"nq-{os.getpid()}-cnt{uuid.uuid4().hex[:4]}-") as lab:
        vm = lab.add_vm()
        shaped = dataclasses.replace(port(vm, bw(1_000, "egress")), device=vm.device)
        converge(TcBackend(netns=lab.host), [shaped])
        runner = Runner(lab.host)
        [before] = counters.read(runner, [shaped])
        sent_pps, _ = udp_flood_pps(vm.ns, lab.host, vm.gw4, pps=4000, seconds=2)
        [after] = counters.read(runner, [shaped])
        tap_rx = int(runner.ip_json("-s", "link", "show", "dev", vm.device)[0]
                     ["stats64"]["rx"]["bytes"])
    out_bytes = after.rx_bytes - before.rx_bytes
    print(f"\nout {out_bytes} B, tap rx {tap_rx} B, drops {after.drops - before.drops}")
    assert sent_pps > 3000
    # 1 Mbit/s for 2 s is 250 kB (plus the bucket); the VM offered ~1 MB.
    assert 100_000 < out_bytes < 400_000, out_bytes
    assert out_bytes < tap_rx / 2
    assert after.drops - before.drops > 1000
    assert any(o["dev"] == "nq-ifb" and o["kind"] == "bfifo" for o in after.objects)
