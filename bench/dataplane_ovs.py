"""Dataplane benchmark of the Open vSwitch backend (netdev datapath here); prints Markdown.

1. Accuracy at 10 and 100 Mbit/s, both directions: TCP goodput / limit (a perfect limiter
   shows 0.956) and wire rate / limit (goodput / 0.9564), steady state (iperf3 -O 1).
   Out of the VM: OpenFlow kbps meter; into the VM: linux-htb queue on the port.
2. The egress meter's bucket: goodput / limit for bursts of 0.1, 0.2, 0.4 (the default)
   and 0.8 s of the rate, which is why the default is what it is.
3. Cost of applying, changing and removing, on 500 ports: egress + ingress bandwidth limit,
   DSCP and an ingress packet rate limit per port (4 flows, 2 meters, 1 QoS + 1 queue),
   next to one ovs-vsctl / ovs-ofctl subprocess per operation.

Run as root, alone or under the traffic lock:
    flock /tmp/netqos-traffic.lock .venv/bin/python bench/dataplane_ovs.py
(about 3 minutes on 2 cores). Writes bench/results/dataplane_ovs.md too.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from netqos.agent.backends.ovs import OvsBackend  # noqa: E402
from tests.harness.traffic import iperf3  # noqa: E402
from netqos.wire import PortQos, rule_of  # noqa: E402
from netqos.agent.ovs import spec as ovs_spec  # noqa: E402
from tests.harness.ovslab import OvsLab  # noqa: E402
from tests.harness.ovs import OvsServer  # noqa: E402

GOODPUT_PER_WIRE = 1448 / 1514
SECONDS = 5
PORTS = 500
OUT = Path(__file__).resolve().parent / "results" / "dataplane_ovs.md"


def bw(kbps: int, direction: str, burst: int = 0) -> dict:
    return {"type": "bandwidth_limit", "max_kbps": kbps, "max_burst_kbps": burst,
            "direction": direction}


def backend_of(lab: OvsLab) -> OvsBackend:
    return OvsBackend(bridge=lab.bridge, ovsdb=lab.db, rundir=lab.env["OVS_RUNDIR"])


def converge(backend: OvsBackend, ports: list[PortQos]):
    here, _ = backend.locate(ports)
    changes, result = backend.sync(here)
    assert not result.errors, result.errors
    return changes


def goodput(vm, peer, direction: str, kbps: int, runs: int = 3) -> float:
    """Median of `runs` runs of goodput / limit."""
    vals = [iperf3(None, vm, direction, seconds=SECONDS, server=(peer.ns, peer.ip4))["bps"]
            / (kbps * 1000) for _ in range(runs)]
    return statistics.median(vals)


def accuracy(lab: OvsLab) -> tuple[list[str], list[str]]:
    vm, peer = lab.add_vm(), lab.add_vm()
    backend = backend_of(lab)
    rows = ["| limit | direction | mechanism | goodput / limit | wire / limit |",
            "|---|---|---|---|---|"]
    for kbps in (10_000, 100_000):
        converge(backend, [PortQos(vm.port_id, kbps, vm.mac, rules=(
            bw(kbps, "egress"), bw(kbps, "ingress"))), PortQos(peer.port_id, 1, peer.mac)])
        for direction, mech in (("egress (out of the VM)", "OpenFlow meter (kbps, drop)"),
                                ("ingress (into the VM)", "linux-htb queue 0")):
            g = goodput(vm, peer, direction.split()[0], kbps)
            rows.append(f"| {kbps // 1000} Mbit/s | {direction} | "
                        f"{mech} | {g:.3f} | {g / GOODPUT_PER_WIRE:.3f} |")
            print(rows[-1], file=sys.stderr, flush=True)
    bursts = ["| limit | meter burst | goodput / limit |", "|---|---|---|"]
    for kbps in (10_000, 100_000):
        for ms in (100, 200, ovs_spec.METER_BURST_MS, 800):
            burst = kbps * ms // 1000
            converge(backend, [PortQos(vm.port_id, 1000 + ms, vm.mac, rules=(
                bw(kbps, "egress", burst),)), PortQos(peer.port_id, 1, peer.mac)])
            g = goodput(vm, peer, "egress", kbps)
            tag = " (default)" if ms == ovs_spec.METER_BURST_MS else ""
            used = ovs_spec.kbps_meter(rule_of(bw(kbps, "egress", burst))).burst
            tag += " (floor)" if used != burst else ""
            bursts.append(f"| {kbps // 1000} Mbit/s | {ms} ms = {used} kbit{tag} | {g:.3f} |")
            print(bursts[-1], file=sys.stderr, flush=True)
    converge(backend, [])
    backend.close()
    return rows, bursts


def desired(rows, kbps: int, mark: int) -> list[PortQos]:
    rules = (bw(kbps, "egress"), bw(kbps, "ingress"),
             {"type": "dscp_marking", "dscp_mark": mark},
             {"type": "packet_rate_limit", "max_kpps": 10, "max_burst_kpps": 0,
              "direction": "ingress"})
    return [PortQos(pid, 1, mac, rules=rules) for pid, _, mac in rows]


def timed(backend: OvsBackend, ports) -> tuple[float, int, str, dict]:
    sw, db = backend.switch, backend.db
    before = (sw.processes, sw.connections, db.transactions)
    t = time.perf_counter()
    changes = converge(backend, ports)
    dt = time.perf_counter() - t
    phases = " / ".join(f"{backend.timings.get(k, 0) * 1000:.0f}"
                        for k in ("ovsdb", "meters", "flows")) if changes else "-"
    return dt, len(changes), phases, {"ovs-ofctl": sw.processes - before[0],
                              "OpenFlow conns": sw.connections - before[1],
                              "OVSDB txns": db.transactions - before[2]}


def per_operation(lab: OvsLab, rows, kbps: int, mark: int) -> tuple[float, int, dict]:
    """The same state, one ovs-vsctl / ovs-ofctl process per operation (as a script or a
    naive agent would): per port one ovs-vsctl (QoS + queue + port), two add-meter and
    four add-flow."""
    env, br = lab.env, lab.bridge
    listing = lab.vsctl("--format=csv", "--no-headings", "--columns=name,ofport", "list",
                        "interface")
    ofports = {n: o for n, o in (ln.split(",") for ln in listing.split())}
    n = 0
    spent = {"ovs-vsctl": 0.0, "ovs-ofctl": 0.0}
    t = time.perf_counter()
    for i, (pid, dev, mac) in enumerate(rows):
        ofp = ofports[dev]
        m1, m2 = 10_000 + 2 * i, 10_001 + 2 * i
        cmds = [
            ["ovs-vsctl", f"--db={lab.db}", "set", "port", dev, "qos=@q", "--", "--id=@q",
             "create", "qos", "type=linux-htb", f"other_config:max-rate={kbps * 1000}",
             "queues:0=@u", "--", "--id=@u", "create", "queue",
             f"other_config:max-rate={kbps * 1000}"],
            ["ovs-ofctl", "-O", "OpenFlow13", "add-meter", br,
             f"meter={m1},kbps,burst,bands=type=drop,rate={kbps},burst_size={kbps * 4 // 10}"],
            ["ovs-ofctl", "-O", "OpenFlow13", "add-meter", br,
             f"meter={m2},pktps,burst,bands=type=drop,rate=10000,burst_size=100"],
            ["ovs-ofctl", "-O", "OpenFlow13", "add-flow", br,
             f"cookie=0x1,table=0,priority=110,in_port={ofp},ip,actions=meter:{m1},"
             f"set_field:{mark}->ip_dscp,goto_table:1"],
            ["ovs-ofctl", "-O", "OpenFlow13", "add-flow", br,
             f"cookie=0x1,table=0,priority=110,in_port={ofp},ipv6,actions=meter:{m1},"
             f"set_field:{mark}->ip_dscp,goto_table:1"],
            ["ovs-ofctl", "-O", "OpenFlow13", "add-flow", br,
             f"cookie=0x1,table=0,priority=100,in_port={ofp},actions=meter:{m1},goto_table:1"],
            ["ovs-ofctl", "-O", "OpenFlow13", "add-flow", br,
             f"cookie=0x1,table=2,priority=100,dl_dst={mac},actions=meter:{m2},set_queue:0,"
             "NORMAL"],
        ]
        for argv in cmds:
            started = time.perf_counter()
            subprocess.run(argv, env=env, check=True, capture_output=True)
            spent[argv[0]] += time.perf_counter() - started
            n += 1
    dt = time.perf_counter() - t
    # undo
    subprocess.run(["ovs-ofctl", "del-flows", br, "cookie=0x1/-1"], env=env, check=True)
    subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", "del-meters", br], env=env, check=True)
    args = []
    for _, dev, _ in rows:
        args += ["--", "clear", "port", dev, "qos"]
    lab.vsctl(*args, "--", "--all", "destroy", "qos", "--", "--all", "destroy", "queue")
    return dt, n, spent


def cost(server: OvsServer) -> list[str]:
    with OvsLab(server.env, server.db, bridge="nqobench") as lab:
        rows = lab.many_ports(PORTS, tag="b")
        backend = backend_of(lab)
        # ovs-vswitchd takes seconds to open 500 new ports: let it settle (and the backend
        # read the switch's features) before the clock starts
        deadline = time.time() + 120
        while time.time() < deadline and len(backend.locate(desired(rows, 1, 0))[0]) < PORTS:
            time.sleep(0.5)
        backend.observe()
        _ = backend.mechanisms
        table = ["| operation (500 ports) | wall time | per port | changes | "
                 "of which OVSDB / meters / flows (ms) | processes / connections / "
                 "transactions |", "|---|---|---|---|---|---|"]
        for label, ports in (("create", desired(rows, 20_000, 18)),
                             ("no-op resync", desired(rows, 20_000, 18)),
                             ("change rates and DSCP", desired(rows, 30_000, 26)),
                             ("remove all", [])):
            dt, n, phases, used = timed(backend, ports)
            table.append(f"| netqos: {label} | {dt * 1000:.0f} ms | {dt * 1000 / PORTS:.2f} ms "
                         f"| {n} | {phases} | "
                         + ", ".join(f"{v} {k}" for k, v in used.items()) + " |")
            print(table[-1], file=sys.stderr, flush=True)
        backend.close()
        dt, n, spent = per_operation(lab, rows, 20_000, 18)
        table.append(f"| create, one process per operation | {dt * 1000:.0f} ms | "
                     f"{dt * 1000 / PORTS:.2f} ms | {n} | ovs-vsctl {spent['ovs-vsctl']:.1f} s "
                     f"({PORTS} runs), ovs-ofctl {spent['ovs-ofctl']:.1f} s ({n - PORTS} runs) "
                     f"| {n} processes |")
        print(table[-1], file=sys.stderr, flush=True)
        return table


def main() -> None:
    started = time.time()
    out: list[str] = ["# Dataplane benchmark (Open vSwitch backend)\n"]
    ver = subprocess.run(["ovs-vswitchd", "--version"], capture_output=True,
                         text=True).stdout.splitlines()[0]
    with OvsServer() as server:
        out.append(f"{ver}, `{server.datapath_type}` datapath, userspace TSO on; kernel "
                   f"{os.uname().release}, {os.cpu_count()} cores; TCP cubic between two "
                   f"namespace VMs through the bridge; iperf3 {SECONDS} s, first second "
                   "omitted, median of 3 runs.\n")
        with OvsLab(server.env, server.db, bridge="nqoacc") as lab:
            acc, bursts = accuracy(lab)
        out += ["## 1. Accuracy (goal: goodput / limit 0.90-1.02; a perfect limiter 0.956)\n",
                *acc, "",
                "## 2. Egress meter bucket (TCP through a policer needs one)\n", *bursts, "",
                f"## 3. Cost on {PORTS} ports: bandwidth limit both directions, DSCP, "
                "ingress packet rate\n", *cost(server), ""]
    out.append(f"_{time.time() - started:.0f} s in all._")
    text = "\n".join(out) + "\n"
    print(text)
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(text)


if __name__ == "__main__":
    main()
