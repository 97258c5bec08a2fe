"""Dataplane benchmark of the tc backend; prints Markdown tables.

1. Accuracy: wire rate / limit (TCP goodput / 0.9564) at 1, 10, 100, 1000 Mbit/s, both
   directions, whole run and steady state (after the first second), for netqos and, on the
   same lab, Neutron's historical TBF choices (burst = rate/HZ; burst = 80% of a second).
2. Round trips under full load at 1, 10, 100 Mbit/s, netqos next to Neutron's 80% burst.
3. Cost of applying, changing and removing a both-directions limit + DSCP on 1000 ports,
   next to one tc / nft subprocess per operation.

Run as root: .venv/bin/python bench/dataplane.py  (about 6 minutes on 2 cores)
"""
from __future__ import annotations

import os
import statistics
import sys
import threading
import time

from netqos.agent.backends.tc import TcBackend
from netqos.agent.lab import Lab, iperf3, sh, udp_rtts_ms
from netqos.wire import PortQos
from netqos.agent.tc import maths
from netqos.agent.tc.plan import Payload

GOODPUT_PER_WIRE = 1448 / 1514     # TCP payload per full frame: 0.9564
HZ = 250
RATES_MBIT = (1, 10, 100, 1000)
SECONDS = 5


def rules(kbps: int, mark: int | None = None) -> tuple[dict, ...]:
    out = tuple({"type": "bandwidth_limit", "max_kbps": kbps, "max_burst_kbps": 0,
                 "direction": d} for d in ("egress", "ingress"))
    return out + (({"type": "dscp_marking", "dscp_mark": mark},) if mark is not None else ())


# ---- Neutron's TBF choices, applied by hand on the same lab ----

def neutron_burst_bytes(kbps: int, choice: str) -> int:
    rate = maths.kbit_to_bytes_per_s(kbps)
    return rate // HZ if choice == "rate/HZ" else rate * 8 // 10


def neutron_tbf(kbps: int, choice: str) -> str:
    """Neutron's tc_lib: TBF with latency 50 ms: queue = rate x 50 ms + burst."""
    burst = neutron_burst_bytes(kbps, choice)
    limit = maths.bytes_in_ms(maths.kbit_to_bytes_per_s(kbps), 50) + burst
    return f"tbf rate {kbps}kbit burst {burst} limit {limit}"


def set_neutron(lab: Lab, vm, kbps: int, choice: str) -> None:
    """TBF root on the tap (into the VM) and TBF on a private IFB (out of the VM)."""
    h = ["tc", "-n", lab.host]
    sh(*h, "qdisc", "replace", "dev", vm.device, "root", "handle", "1:",
       *neutron_tbf(kbps, choice).split())
    sh("ip", "-n", lab.host, "link", "add", "nbifb", "type", "ifb", check=False)
    sh("ip", "-n", lab.host, "link", "set", "nbifb", "up")
    sh(*h, "qdisc", "replace", "dev", "nbifb", "root", "handle", "1:",
       *neutron_tbf(kbps, choice).split())
    sh(*h, "qdisc", "replace", "dev", vm.device, "handle", "ffff:", "ingress")
    sh(*h, "filter", "replace", "dev", vm.device, "parent", "ffff:", "pref", "1", "protocol",
       "all", "u32", "match", "u32", "0", "0", "action", "mirred", "egress", "redirect",
       "dev", "nbifb")


def clear_neutron(lab: Lab, vm) -> None:
    sh("tc", "-n", lab.host, "qdisc", "del", "dev", vm.device, "root", check=False)
    sh("tc", "-n", lab.host, "qdisc", "del", "dev", vm.device, "ingress", check=False)


def wire_ratios(lab, vm, direction: str, kbps: int) -> tuple[float, float]:
    """(whole run, steady) wire rate / limit. iperf3 -O 1 omits the first second from the
    totals; the whole-run figure folds it back in from the omitted interval."""
    # reads of ~10 ms of traffic, so that per-second intervals are not quantised by
    # iperf3's default 128 KB reads (a whole second at 1 Mbit/s)
    length = min(max(kbps * 1000 // 8 // 100, 1448), 128 * 1024)
    r = iperf3(lab, vm, direction, seconds=SECONDS, omit_first=False, length=length)
    limit = kbps * 1000
    steady = statistics.fmean(r["intervals"][1:]) if len(r["intervals"]) > 1 else r["bps"]
    return (r["bps"] / GOODPUT_PER_WIRE / limit, steady / GOODPUT_PER_WIRE / limit)


def accuracy(lab: Lab) -> list[str]:
    vm = lab.add_vm()
    backend = TcBackend(netns=lab.host)
    rows = ["| limit | direction | netqos whole | netqos steady | Neutron rate/HZ whole | "
            "Neutron rate/HZ steady | Neutron 80% whole | Neutron 80% steady |",
            "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for mbit in RATES_MBIT:
        kbps = mbit * 1000
        results = {}
        backend.sync([PortQos(vm.port_id, mbit, vm.mac, rules=rules(kbps))])
        for d in ("egress", "ingress"):
            results[("netqos", d)] = wire_ratios(lab, vm, d, kbps)
        backend.sync([PortQos(vm.port_id, mbit, vm.mac)])
        for choice in ("rate/HZ", "80%"):
            set_neutron(lab, vm, kbps, choice)
            for d in ("egress", "ingress"):
                try:
                    results[(choice, d)] = wire_ratios(lab, vm, d, kbps)
                except RuntimeError:
                    results[(choice, d)] = (0.0, 0.0)   # nothing got through
            clear_neutron(lab, vm)
        for d in ("egress", "ingress"):
            cells = [f"{x:.3f}" for k in ("netqos", "rate/HZ", "80%") for x in results[(k, d)]]
            rows.append(f"| {mbit} Mbit/s | {d} | " + " | ".join(cells) + " |")
        print(rows[-2] + "\n" + rows[-1], file=sys.stderr, flush=True)
    return rows


def loaded_rtts(lab, vm, direction: str) -> float:
    flow = threading.Thread(target=lambda: iperf3(lab, vm, direction, seconds=7))
    flow.start()
    time.sleep(2)
    if direction == "egress":
        rtts = udp_rtts_ms(vm.ns, lab.host, vm.gw4, count=30)
    else:
        rtts = udp_rtts_ms(lab.host, vm.ns, vm.ip4, count=30)
    flow.join()
    return statistics.median(rtts), max(rtts)


def latency(lab: Lab) -> list[str]:
    vm = lab.add_vm()
    backend = TcBackend(netns=lab.host)
    rows = ["| limit | direction | netqos median / max ms | Neutron 80% median / max ms |",
            "|---:|---|---:|---:|"]
    for mbit in (1, 10, 100):
        kbps = mbit * 1000
        ours, theirs = {}, {}
        backend.sync([PortQos(vm.port_id, mbit, vm.mac, rules=rules(kbps))])
        for d in ("egress", "ingress"):
            ours[d] = loaded_rtts(lab, vm, d)
        backend.sync([PortQos(vm.port_id, mbit, vm.mac)])
        set_neutron(lab, vm, kbps, "80%")
        for d in ("egress", "ingress"):
            theirs[d] = loaded_rtts(lab, vm, d)
        clear_neutron(lab, vm)
        for d in ("egress", "ingress"):
            rows.append(f"| {mbit} Mbit/s | {d} | {ours[d][0]:.1f} / {ours[d][1]:.1f} | "
                        f"{theirs[d][0]:.1f} / {theirs[d][1]:.1f} |")
        print(rows[-2] + "\n" + rows[-1], file=sys.stderr, flush=True)
    return rows


# ---- cost ----

def timed_sync(backend, desired) -> tuple[float, int]:
    t = time.perf_counter()
    changes, result = backend.sync(desired)
    elapsed = time.perf_counter() - t
    assert not result.errors, list(result.errors.items())[:3]
    return elapsed, len(changes)


def one_process_per_command(backend, desired) -> tuple[float, int]:
    """The same plan, but each tc / ip / nft line run as its own process."""
    changes = backend.plan(desired, backend.observe(desired))
    cmds = sorted(((c.phase, c.tool, c.line) for ch in changes
                   for c in (ch.payload or Payload()).commands), key=lambda r: r[0])
    t = time.perf_counter()
    for _phase, tool, line in cmds:
        if tool == "nft":
            backend.runner.nft([line])
        else:
            backend.runner.run(tool, *line.split())
    return time.perf_counter() - t, len(cmds)


def cost() -> list[str]:
    rows = ["| operation | ports | netqos (batched) | per port | one process per command | "
            "per port | speed-up |", "|---|---:|---:|---:|---:|---:|---:|"]
    with Lab(prefix=f"nqb-{os.getpid()}-c-") as lab:
        taps = lab.many_taps(1000)
        ports = lambda kbps, mark: [PortQos(p, kbps, mac, rules=rules(kbps, mark), device=dev)
                                    for p, dev, mac in taps]
        backend = TcBackend(netns=lab.host)
        _ = backend.capabilities
        ours = {"apply": timed_sync(backend, ports(10_000, 46)),
                "change": timed_sync(backend, ports(20_000, 10)),
                "remove": timed_sync(backend, [])}
    with Lab(prefix=f"nqb-{os.getpid()}-s-") as lab:
        n = 200   # the slow way is measured on 200 ports and given per port
        taps = lab.many_taps(n)
        ports = lambda kbps, mark: [PortQos(p, kbps, mac, rules=rules(kbps, mark), device=dev)
                                    for p, dev, mac in taps]
        backend = TcBackend(netns=lab.host)
        _ = backend.capabilities
        slow = {"apply": one_process_per_command(backend, ports(10_000, 46)),
                "change": one_process_per_command(backend, ports(20_000, 10)),
                "remove": one_process_per_command(backend, [])}
    for op in ("apply", "change", "remove"):
        fast_s, slow_s = ours[op][0], slow[op][0]
        fast_pp, slow_pp = fast_s / 1000 * 1000, slow_s / n * 1000
        rows.append(f"| {op} | 1000 | {fast_s * 1000:.0f} ms | {fast_pp:.2f} ms | "
                    f"{slow_s * 1000:.0f} ms for {n} ({slow[op][1]} commands) | "
                    f"{slow_pp:.2f} ms | {slow_pp / fast_pp:.0f}x |")
    return rows


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("bench/dataplane.py needs root (network namespaces)")
    started = time.time()
    print("# Dataplane benchmark (tc backend)\n")
    print(f"Kernel {os.uname().release}, {os.cpu_count()} cores, TCP cubic, iperf3 "
          f"{SECONDS} s per point.\n")
    with Lab(prefix=f"nqb-{os.getpid()}-a-") as lab:
        table = accuracy(lab)
    print("## 1. Accuracy: wire rate / limit (goal 0.97-1.03 steady)\n")
    print("\n".join(table) + "\n")
    with Lab(prefix=f"nqb-{os.getpid()}-l-") as lab:
        table = latency(lab)
    print("## 2. Round trip under full load (UDP probe through the loaded port)\n")
    print("\n".join(table) + "\n")
    print("## 3. Cost: bandwidth limit both directions + DSCP on 1000 veth ports\n")
    print("\n".join(cost()) + "\n")
    print(f"_{time.time() - started:.0f} s in all._")


if __name__ == "__main__":
    main()
