"""Cost of the Linux-bridge L2 engine on several hosts; prints Markdown tables.

HOSTS host namespaces on a shared underlay (198.18.101.0/24), PORTS taps each (veth pairs
inside the host: the VM side needs no namespace of its own to be wired), NETWORKS VXLAN
networks with every network on every host, l2population on: each host gets per network a
bridge, a vxlan device, its taps, and per remote host a flood entry and one entry per
remote MAC. Measured, per step, the sum over the hosts (median of RUNS):
- full resync from nothing: observe + plan + apply (one `ip -batch` per phase and one
  `bridge -batch`) + CHECK (the second observe + plan);
- resync, nothing to change (the periodic safety net);
- drift: 10% of the taps taken out of their bridges, one vxlan fdb flood entry removed;
- remove all: the desired state empties (bridges and vxlan devices deleted);
- the same full wiring as one `ip`/`bridge` process per operation (the way Neutron's
  agent runs commands), for comparison.
And, with engine processes on two hosts of tests/harness/l2hosts.py: from a port bound to
host 1 (its tap already there; the desired state of both hosts rewritten and their engines
SIGHUPed, as a host pull after a bind will do) to the first UDP echo answered by a VM on
host 2 through VXLAN, for LATENCY_PORTS ports bound one after the other; the probe sends
every 2 ms and the VM retries ARP every 10 ms. The same once more through the API: a real
`netqos server` and a real `netqos agent --l2 linuxbridge` on each of two hosts, the port
bound with PUT binding:host_id (tests/harness/l2api.py).
Run as root: .venv/bin/python bench/l2.py [HOSTS PORTS NETWORKS]
"""
from __future__ import annotations

import functools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from netqos.agent.l2.linuxbridge.engine import LinuxBridgeL2  # noqa: E402
from netqos.agent.l2.linuxbridge.plan import L2Options  # noqa: E402
from netqos.agent.l2.model import L2Desired  # noqa: E402
from tests.harness.l2api import POLL_S, ApiLab  # noqa: E402
from tests.harness.l2hosts import L2Lab  # noqa: E402
from tests.harness.server import ServerProcess  # noqa: E402

RUNS = 3
LATENCY_PORTS = 100
ECHO_PORT = 7007
_ECHO = ("import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
         f"s.bind(('0.0.0.0',{ECHO_PORT}))\nwhile True:\n d,a=s.recvfrom(64)\n s.sendto(d,a)")
_PROBE = ("import socket,sys,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
          "s.settimeout(0.002)\nprint('ready',flush=True)\nend=time.time()+20\n"
          "while time.time()<end:\n"
          f" try:\n  s.sendto(b'x',(sys.argv[1],{ECHO_PORT})); s.recvfrom(64)\n"
          "  print(time.time(),flush=True); break\n except OSError: pass\n")
RESULTS = Path(__file__).parent / "results" / "l2.md"


def sh(*argv: str, stdin: str | None = None) -> None:
    subprocess.run(argv, input=stdin, text=True, check=True, capture_output=True)


class Bench:
    def __init__(self, hosts: int, ports: int, networks: int):
        tag = f"nq-{os.getpid()}-l2b"          # unique per run, as the test harness's names
        self.fabric = f"{tag}-fab"
        self.hosts = [f"{tag}-h{i + 1}" for i in range(hosts)]
        self.ips = [f"198.18.101.{i + 1}" for i in range(hosts)]
        self.nets = [str(uuid.uuid4()) for _ in range(networks)]
        self.ports = {h: [(str(uuid.uuid4()), self._mac(i, n), self.nets[n % networks])
                          for n in range(ports)] for i, h in enumerate(self.hosts)}
        sh("ip", "netns", "add", self.fabric)
        sh("ip", "-n", self.fabric, "link", "add", "under", "type", "bridge")
        sh("ip", "-n", self.fabric, "link", "set", "under", "up")
        for i, host in enumerate(self.hosts):
            sh("ip", "netns", "add", host)
            sh("ip", "-n", self.fabric, "link", "add", f"u{i}", "type", "veth", "peer",
               "name", "eth0", "netns", host)
            sh("ip", "-n", self.fabric, "link", "set", f"u{i}", "master", "under", "up")
            lines = ["link set lo up", "link set eth0 up"]
            lines += [f"link add tap{pid[:11]} type veth peer name v{n}"
                      for n, (pid, _, _) in enumerate(self.ports[host])]
            sh("ip", "-n", host, "-batch", "-", stdin="\n".join(lines) + "\n")
            sh("ip", "-n", host, "addr", "add", f"{self.ips[i]}/24", "dev", "eth0")

    @staticmethod
    def _mac(host: int, n: int) -> str:
        return f"fa:16:3e:{host:02x}:{n >> 8:02x}:{n & 0xFF:02x}"

    def desired(self, i: int) -> L2Desired:
        host = self.hosts[i]
        nets = [{"network_id": n, "network_type": "vxlan", "segmentation_id": 5000 + k,
                 "mtu": 1450} for k, n in enumerate(self.nets)]
        ports = [{"port_id": pid, "mac_address": mac, "network_id": net}
                 for pid, mac, net in self.ports[host]]
        remote = [{"host": other, "local_ip": self.ips[j], "network_id": net,
                   "macs": [mac for _, mac, pnet in self.ports[other] if pnet == net]}
                  for j, other in enumerate(self.hosts) if j != i for net in self.nets]
        return L2Desired.from_wire({"l2": {"networks": nets, "ports": ports,
                                           "remote": remote}})

    def engines(self) -> list[LinuxBridgeL2]:
        return [LinuxBridgeL2(L2Options(self.ips[i], {}, True), netns=h)
                for i, h in enumerate(self.hosts)]

    def close(self) -> None:
        for ns in (*self.hosts, self.fabric):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def timed_sync(engines: list[LinuxBridgeL2], desired: list[L2Desired]) -> dict:
    """One pass on every host, one after the other; summed over the hosts."""
    ops = failed = 0
    started = time.perf_counter()
    for engine, d in zip(engines, desired):
        before = engine.kernel_ops
        report = engine.sync(d)
        ops += engine.kernel_ops - before
        failed += len(report.failed) + len(report.unconverged)
    return {"ms": (time.perf_counter() - started) * 1000, "ops": ops, "failed": failed}


def drift(bench: Bench) -> None:
    for i, host in enumerate(bench.hosts):
        lines = [f"link set dev tap{pid[:11]} nomaster"
                 for pid, _, _ in bench.ports[host][::10]]
        sh("ip", "-n", host, "-batch", "-", stdin="\n".join(lines) + "\n")
        other = bench.ips[(i + 1) % len(bench.hosts)]
        sh("ip", "netns", "exec", host, "bridge", "fdb", "del", "00:00:00:00:00:00",
           "dev", "vxlan-5000", "dst", other)


def one_process_per_op(bench: Bench, engines, desired) -> dict:
    """The full wiring as one `ip`/`bridge` process per operation (then removed again)."""
    plans = [e.plan(d) for e, d in zip(engines, desired)]
    count = 0
    started = time.perf_counter()
    for host, p in zip(bench.hosts, plans):
        for change in p.changes:
            op = change.payload
            sh(op.tool, "-n", host, *op.line.split())
            count += 1
    ms = (time.perf_counter() - started) * 1000
    return {"ms": ms, "ops": count, "failed": 0}


def measure(bench, timed, drift_step, baseline_step) -> dict[str, list[dict]]:
    """RUNS rounds of: full resync, resync with nothing to change, drift (drift_step:
    label, fn(bench)) and its repair, remove all, and the baseline (baseline_step: label,
    fn(bench, engines, desired)); step -> one dict per run. `timed(engines, desired)`
    runs one pass on every host. Shared with bench/l2_ovs.py (the OVS rows)."""
    try:
        engines = bench.engines()
        desired = [bench.desired(i) for i in range(len(engines))]
        empty = [L2Desired.from_wire({"l2": {}})] * len(engines)
        rows: dict[str, list[dict]] = {}
        for _ in range(RUNS):
            rows.setdefault("full resync from nothing", []).append(timed(engines, desired))
            rows.setdefault("resync, nothing to change", []).append(timed(engines, desired))
            drift_step[1](bench)
            rows.setdefault(drift_step[0], []).append(timed(engines, desired))
            rows.setdefault("remove all", []).append(timed(engines, empty))
            rows.setdefault(baseline_step[0], []).append(
                baseline_step[1](bench, engines, desired))
            timed(engines, empty)
        return rows
    finally:
        bench.close()


def main(hosts: int, ports: int, networks: int) -> str:
    rows = measure(Bench(hosts, ports, networks), timed_sync,
                   ("drift: 10% taps out, 1 fdb entry gone", drift),
                   ("full wiring, one ip/bridge process per op", one_process_per_op))
    title = (f"### L2 linuxbridge engine: {hosts} hosts x {ports} ports, {networks} VXLAN "
             f"networks on every host, l2population (median of {RUNS}, summed over hosts)")
    out = [title, "", "| step | kernel ops | failed | wall ms | per op µs | per port ms |",
           "|---|---:|---:|---:|---:|---:|"]
    for step, runs in rows.items():
        ms = statistics.median(r["ms"] for r in runs)
        ops = runs[0]["ops"]
        per_op = f"{ms * 1000 / ops:.0f}" if ops else "-"
        out.append(f"| {step} | {ops} | {max(r['failed'] for r in runs)} | {ms:.0f} | "
                   f"{per_op} | {ms / (hosts * ports):.2f} |")
    return "\n".join(out) + "\n"


def first_reply_ms(ports: int = LATENCY_PORTS, kinds=()) -> list[float]:
    """kinds: the hosts' classes (default Linux-bridge; bench/l2_ovs.py passes OvsHost)."""
    lab = L2Lab(hosts=2, kinds=kinds)
    echo = None
    try:
        net = lab.network("vxlan", 3001)
        peer = lab.vm("peer", lab.hosts[1], net, "198.19.4.250/24")
        lab.start()
        peer.host.prepare_guest(peer)
        echo = peer.ns.popen("python3", "-c", _ECHO)
        times = []
        for n in range(ports):
            vm = lab.vm(f"v{n}", lab.hosts[0], net, f"198.19.4.{n + 1}/24")   # tap is there
            times.append(_first_echo_ms(vm, peer, lab.push))                 # port bound
        return times
    finally:
        if echo is not None:
            echo.kill()
            echo.wait()
        lab.close()


def first_reply_api_ms(ports: int = LATENCY_PORTS) -> list[float]:
    """The same through a real `netqos server` (SQLite, in-process bus: agents poll the
    host revision every POLL_S) and a real `netqos agent --l2 linuxbridge` per host: each
    port is created unbound, its VM's tap made on host 1, then the port bound
    (PUT binding:host_id); until host 1's agent pulls, plugs the tap, and host 2's agent
    has the port's MAC in its fdb."""
    workdir = Path(tempfile.mkdtemp(prefix="nq-l2bench-"))
    server = ServerProcess(f"sqlite:///{workdir}/netqos.sqlite", log_dir=workdir).start()
    lab = ApiLab(server.url, hosts=2)
    echo = None
    try:
        net = lab.network()
        h1, h2 = lab.lab.hosts
        peer = lab.vm("peer", h2, net, "198.19.1.250")
        lab.start_agents()
        if not lab.active(30):
            raise RuntimeError(f"the peer's port never became ACTIVE:\n{lab.logs()}")
        echo = peer.ns.popen("python3", "-c", _ECHO)
        times = []
        for n in range(ports):
            vm = lab.vm(f"v{n}", h1, net, f"198.19.1.{101 + n}", bind=False)   # tap is there
            times.append(_first_echo_ms(vm, peer, functools.partial(lab.bind, vm)))
        return times
    finally:
        if echo is not None:
            echo.kill()
            echo.wait()
        lab.close()
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _first_echo_ms(vm, peer, bind) -> float:
    """From bind() to the first UDP echo `vm` gets from `peer` (the probe runs first)."""
    # ARP retried every 10 ms, not every second: the probe measures the wiring, not the
    # neighbour timer of a request sent before the port was plugged.
    vm.ns.run("sysctl", "-qw", "net.ipv4.neigh.eth0.retrans_time_ms=10")
    vm.host.prepare_guest(vm)
    probe = vm.ns.popen("python3", "-c", _PROBE, peer.address, stdout=subprocess.PIPE,
                        text=True)
    assert probe.stdout.readline().strip() == "ready"
    started = time.time()
    bind()
    answered = probe.stdout.readline().strip()
    probe.wait()
    if not answered:
        raise RuntimeError(f"{vm.name}: no answer in 20 s")
    return (float(answered) - started) * 1000


def latency_table(times: list[float], how: str = "the engines' desired state rewritten "
                  "and SIGHUPed") -> str:
    q = statistics.quantiles(times, n=100, method="inclusive")
    return ("\n### L2: port bound (tap already there) -> first UDP echo answered across hosts "
            f"through VXLAN, {len(times)} ports bound one after the other ({how})\n\n"
            "| p50 ms | p99 ms | max ms |\n|---:|---:|---:|\n"
            f"| {statistics.median(times):.0f} | {q[98]:.0f} | {max(times):.0f} |\n")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:4]] or [4, 250, 50]
    table = (main(*args) + latency_table(first_reply_ms())
             + latency_table(first_reply_api_ms(), "through the API: PUT binding:host_id, "
                             "real server and agents, agents polling the host revision "
                             f"every {POLL_S} s, no message bus"))
    print(table)
    if args == [4, 250, 50]:
        RESULTS.write_text(table)
