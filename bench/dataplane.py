"""Dataplane benchmark of the tc backend; prints Markdown tables.

1. Accuracy: wire rate / limit (TCP goodput / 0.9564) at 1, 10, 100, 1000 Mbit/s, both
   directions, whole run and steady state (after the first second), for netqos and, on the
   same lab, Neutron's historical TBF choices (burst = rate/HZ; burst = 80% of a second).
2. Round trips under full load at 1, 10, 100 Mbit/s, netqos next to Neutron's 80% burst.
3. Cost of applying, changing and removing a both-directions limit + DSCP on 1000 ports,
   next to one tc / nft subprocess per operation; and the port classification (eBPF map)
   next to the MAC-keyed one of an older checkout (--baseline), and an IFB per port.
4. Drift repair: a hand edit of what the backend owns, to the watcher's repair (p50/p99).

Every VM sends from a MAC that is not its port's: the backend classifies by device.

Run as root, under the traffic lock (about 8 minutes on 2 cores):
    git worktree add /tmp/tc-baseline 379085d     # the MAC-keyed classification
    flock /tmp/netqos-traffic.lock .venv/bin/python bench/dataplane.py --baseline /tmp/tc-baseline
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # tests.harness: the labs

from netqos.agent.backends.tc import TcBackend  # noqa: E402
from tests.harness.lab import Lab  # noqa: E402
from tests.harness.netns import sh  # noqa: E402
from tests.harness.traffic import iperf3, udp_rtts_ms  # noqa: E402
from netqos.wire import PortQos  # noqa: E402
from netqos.agent.tc import maths  # noqa: E402
from netqos.agent.tc.plan import P_TREE, Payload  # noqa: E402

GOODPUT_PER_WIRE = 1448 / 1514     # TCP payload per full frame: 0.9564
PORT_MAC = "fa:16:3e:00:00:01"     # the port's MAC; the lab's VMs send from their own
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
        backend.sync([PortQos(vm.port_id, mbit, PORT_MAC, rules=rules(kbps))])
        for d in ("egress", "ingress"):
            results[("netqos", d)] = wire_ratios(lab, vm, d, kbps)
        backend.sync([PortQos(vm.port_id, mbit, PORT_MAC)])
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
        backend.sync([PortQos(vm.port_id, mbit, PORT_MAC, rules=rules(kbps))])
        for d in ("egress", "ingress"):
            ours[d] = loaded_rtts(lab, vm, d)
        backend.sync([PortQos(vm.port_id, mbit, PORT_MAC)])
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
    # map entries go in once the tc lines attached the classifier, as in TcBackend.apply
    cmds = sorted(((c.phase + (1000 if c.tool == "bpf" and c.phase >= P_TREE else 0), c.tool,
                    c.line) for ch in changes for c in (ch.payload or Payload()).commands),
                  key=lambda r: r[0])
    t = time.perf_counter()
    for _phase, tool, line in cmds:
        if tool == "nft":
            backend.runner.nft([line])
        elif tool == "bpf":
            backend.run_bpf([line])
        else:
            backend.runner.run(tool, *line.split())
    return time.perf_counter() - t, len(cmds)


def batched_cost(n: int = 1000) -> dict[str, tuple[float, int]]:
    """apply / change / remove on n ports, and removing one port of n, by this checkout's
    TcBackend (also run from an older checkout: --cost-json under its PYTHONPATH)."""
    with Lab(prefix=f"nqb-{os.getpid()}-c-") as lab:
        taps = lab.many_taps(n)
        ports = lambda kbps, mark: [PortQos(p, kbps, mac, rules=rules(kbps, mark), device=dev)
                                    for p, dev, mac in taps]
        backend = TcBackend(netns=lab.host)
        _ = backend.capabilities
        out = {"apply": timed_sync(backend, ports(10_000, 46)),
               "change": timed_sync(backend, ports(20_000, 10)),
               "remove one": timed_sync(backend, ports(20_000, 10)[1:]),
               "remove": timed_sync(backend, [])}
    return out


def baseline_cost(checkout: str) -> dict[str, tuple[float, int]]:
    env = {**os.environ, "PYTHONPATH": os.path.join(checkout, "src")}
    out = subprocess.run([sys.executable, __file__, "--cost-json"], env=env, check=True,
                         capture_output=True, text=True, timeout=600)
    return {k: tuple(v) for k, v in json.loads(out.stdout.splitlines()[-1]).items()}


def ifb_per_port_cost(n: int = 1000) -> dict[str, float]:
    """The alternative: an IFB per port (CNI bandwidth plugin), created and deleted in one
    `ip -batch` / `tc -batch` each, as a batched backend would."""
    with Lab(prefix=f"nqb-{os.getpid()}-i-") as lab:
        taps = lab.many_taps(n)
        ifbs = [f"nqi{p[:11]}" for p, _dev, _mac in taps]
        t = time.perf_counter()
        sh("ip", "-n", lab.host, "-batch", "-", input="".join(
            f"link add {i} type ifb\nlink set {i} up\n" for i in ifbs))
        sh("tc", "-n", lab.host, "-batch", "-", input="".join(
            f"qdisc replace dev {i} root handle 1: tbf rate 10mbit burst 12500 limit 37500\n"
            f"qdisc replace dev {dev} clsact\n"
            f"filter replace dev {dev} ingress pref 1 u32 match u32 0 0 action mirred egress "
            f"redirect dev {i}\n" for i, (_p, dev, _m) in zip(ifbs, taps)))
        apply_s = time.perf_counter() - t
        t = time.perf_counter()
        sh("ip", "-n", lab.host, "link", "del", ifbs[0])
        one_s = time.perf_counter() - t
        t = time.perf_counter()
        sh("ip", "-n", lab.host, "-batch", "-", input="".join(f"link del {i}\n"
                                                              for i in ifbs[1:]))
        remove_s = time.perf_counter() - t + one_s
    return {"apply": apply_s, "remove one": one_s, "remove": remove_s}


def classification_cost(baseline: str | None, ours: dict) -> list[str]:
    theirs = baseline_cost(baseline) if baseline else {}
    ifb = ifb_per_port_cost()
    rows = ["| operation, 1000 ports | by port: eBPF map on a shared IFB (this) | by MAC: u32 "
            "hash on a shared IFB (379085d) | IFB per port (ip/tc batch) |",
            "|---|---:|---:|---:|"]
    for op in ("apply", "change", "remove one", "remove"):
        old = f"{theirs[op][0] * 1000:.0f} ms" if op in theirs else "not run"
        alt = f"{ifb[op] * 1000:.0f} ms" if op in ifb else "(as apply)"
        rows.append(f"| {op} | {ours[op][0] * 1000:.0f} ms | {old} | {alt} |")
    return rows


def cost(ours: dict) -> list[str]:
    rows = ["| operation | ports | netqos (batched) | per port | one process per command | "
            "per port | speed-up |", "|---|---:|---:|---:|---:|---:|---:|"]
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


# ---- drift repair ----

def _ifb_index(ns: str) -> int | None:
    out = sh("ip", "-n", ns, "-j", "link", "show", "nq-ifb", check=False).stdout
    return json.loads(out)[0]["ifindex"] if out.strip() else None


def _drift_kinds(ns: str, vm) -> list[tuple[str, list[str], object]]:
    """(what, the hand edit, healthy(IFB ifindex before the edit))."""
    def root_tbf(_):
        return '"kind":"tbf"' in sh("tc", "-n", ns, "-j", "qdisc", "show", "dev", vm.device,
                                    "root").stdout

    def redirect(_):
        return '"pref":2' in sh("tc", "-n", ns, "-j", "filter", "show", "block", "20049",
                                check=False).stdout

    def nft_table(_):
        out = sh("ip", "netns", "exec", ns, "nft", "list", "table", "inet", "netqos",
                 check=False).stdout
        return "vmap @from_vm" in out and "dscp set" in out

    def ifb(before):
        return _ifb_index(ns) not in (None, before) and "4e51:10" in sh(
            "tc", "-n", ns, "class", "show", "dev", "nq-ifb", check=False).stdout

    return [("root qdisc deleted", ["tc", "-n", ns, "qdisc", "del", "dev", vm.device, "root"],
             root_tbf),
            ("redirect filter deleted", ["tc", "-n", ns, "filter", "del", "block", "20049",
                                         "pref", "2"], redirect),
            ("nft table flushed", ["ip", "netns", "exec", ns, "nft", "flush", "table", "inet",
                                   "netqos"], nft_table),
            ("IFB deleted", ["ip", "-n", ns, "link", "del", "nq-ifb"], ifb)]


def drift_table(repairs: int = 50) -> list[str]:
    """The agent's loop in miniature (watcher wakes, one pass repairs; no server pull): the
    time from a hand edit's command returning to the object being back, polled every 5 ms."""
    with Lab(prefix=f"nqb-{os.getpid()}-d-") as lab:
        vm = lab.add_vm()
        backend = TcBackend(netns=lab.host)
        desired = [PortQos(vm.port_id, 1, PORT_MAC, rules=rules(10_000, 46),
                           device=vm.device)]
        backend.sync(desired)
        wake, stop = threading.Event(), threading.Event()

        def loop():
            while not stop.is_set():
                if wake.wait(0.2):
                    wake.clear()
                    backend.sync(desired)

        watcher = backend.watcher(lab.host, wake.set)
        watcher.start()
        threading.Thread(target=loop, daemon=True).start()
        kinds = _drift_kinds(lab.host, vm)
        times: dict[str, list[float]] = {k[0]: [] for k in kinds}
        try:
            for i in range(repairs):
                what, argv, healthy = kinds[i % len(kinds)]
                time.sleep(0.5)   # past the quiet window of the previous repair
                before = _ifb_index(lab.host)
                sh(*argv)
                t0 = time.perf_counter()
                while not healthy(before) and time.perf_counter() - t0 < 10:
                    time.sleep(0.005)
                times[what].append(time.perf_counter() - t0)
        finally:
            stop.set()
            watcher.stop()
    rows = ["| hand edit | repairs | p50 ms | p99 ms | max ms |", "|---|---:|---:|---:|---:|"]
    everything = sorted(t for ts in times.values() for t in ts)
    for what, ts in [*times.items(), ("all", everything)]:
        ts = sorted(ts)
        p99 = ts[min(len(ts) - 1, round(0.99 * (len(ts) - 1)))]
        rows.append(f"| {what} | {len(ts)} | {statistics.median(ts) * 1000:.0f} | "
                    f"{p99 * 1000:.0f} | {ts[-1] * 1000:.0f} |")
    return rows


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("bench/dataplane.py needs root (network namespaces)")
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", help="a checkout of the MAC-keyed backend (379085d)")
    parser.add_argument("--cost-json", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=("accuracy", "latency", "cost", "drift"))
    args = parser.parse_args()
    if args.cost_json:   # run under an older checkout's PYTHONPATH by baseline_cost
        print(json.dumps(batched_cost()))
        return
    started = time.time()
    print("# Dataplane benchmark (tc backend)\n")
    print(f"Kernel {os.uname().release}, {os.cpu_count()} cores, TCP cubic, iperf3 "
          f"{SECONDS} s per point.\n")
    run = lambda part: args.only in (None, part)
    if run("accuracy"):
        with Lab(prefix=f"nqb-{os.getpid()}-a-") as lab:
            table = accuracy(lab)
        print("## 1. Accuracy: wire rate / limit (goal 0.97-1.03 steady)\n")
        print("\n".join(table) + "\n")
    if run("latency"):
        with Lab(prefix=f"nqb-{os.getpid()}-l-") as lab:
            table = latency(lab)
        print("## 2. Round trip under full load (UDP probe through the loaded port)\n")
        print("\n".join(table) + "\n")
    if run("cost"):
        ours = batched_cost()
        print("## 3. Cost: bandwidth limit both directions + DSCP on 1000 veth ports\n")
        print("\n".join(cost(ours)) + "\n")
        print("## 3b. Classification: by port, by MAC, or an IFB per port (1000 ports)\n")
        print("\n".join(classification_cost(args.baseline, ours)) + "\n")
    if run("drift"):
        print("## 4. Drift repair: hand edit to repaired (watcher + one pass, no server)\n")
        print("\n".join(drift_table()) + "\n")
    print(f"_{time.time() - started:.0f} s in all._")


if __name__ == "__main__":
    main()
