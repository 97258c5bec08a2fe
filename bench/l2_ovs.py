"""Cost of the OVS L2 engine on several hosts (the OVS rows of bench/l2.py); prints
Markdown tables.

HOSTS host namespaces, each with its own ovsdb-server and ovs-vswitchd (userspace datapath)
and an underlay bridge on a shared fabric (tests/harness/l2ovs.py's OvsHost), PORTS veth
taps each plugged into br-int as os-vif does (iface-id, dead VLAN), NETWORKS VXLAN networks
with every network on every host, l2population on. Measured, per step, the sum over the
hosts (median of RUNS; the engines in this process, one per host):
- full resync from nothing: every port tagged (one OVSDB transaction per host, br-tun and
  the tunnel ports created in it), then every flow (one bundle per bridge), then CHECK;
- resync, nothing to change; drift: 10% of the tags changed and one flood flow deleted per
  host; remove all: the desired state empties (every port back to the dead VLAN, flows
  and tunnels gone);
- the same full wiring as one `ovs-vsctl` / `ovs-ofctl` process per operation.
And, with engine processes on two OvsHosts: from a port bound to host 1 (plugged, still on
the dead VLAN) to the first UDP echo answered by a VM on host 2 through VXLAN
(bench/l2.py's first_reply_ms); and the same through the API (api_first_reply_ms): a real
`netqos server` and one `netqos agent --l2 openvswitch` per host, the port created unbound,
its VM plugged (dead VLAN), then `binding:host_id` set by a PUT: the clock starts at the PUT.
And which tunnel types OVS's userspace datapath carries here (vxlan, gre: tunnel_table).
Run as root: .venv/bin/python bench/l2_ovs.py [HOSTS PORTS NETWORKS | api | tunnels]
"""
from __future__ import annotations

import re
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from netqos.agent.l2.model import L2Desired  # noqa: E402
from netqos.agent.l2.openvswitch.engine import OvsL2  # noqa: E402
from netqos.agent.l2.openvswitch.options import OvsL2Options  # noqa: E402
from netqos.agent.l2.openvswitch.plan import OVSDB  # noqa: E402
from tests.harness.l2hosts import L2Lab  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from l2 import _ECHO, _PROBE, LATENCY_PORTS, RUNS, first_reply_ms, latency_table, \
    measure  # noqa: E402  bench/l2.py
from tests.harness.l2ovs import DEAD_VLAN, OvsHost  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "l2_ovs.md"


class OvsBench:
    def __init__(self, hosts: int, ports: int, networks: int):
        self.lab = L2Lab(kinds=[OvsHost] * hosts)
        self.nets = [str(uuid.uuid4()) for _ in range(networks)]
        self.ports: dict[str, list[tuple[str, str, str]]] = {}
        for i, host in enumerate(self.lab.hosts):
            rows = [(str(uuid.uuid4()), f"fa:16:3e:{i:02x}:{n >> 8:02x}:{n & 0xFF:02x}",
                     self.nets[n % networks]) for n in range(ports)]
            self.ports[host.name] = rows
            lines = [f"link add tap{pid[:11]} type veth peer name v{n}"
                     for n, (pid, _, _) in enumerate(rows)]
            lines += [f"link set tap{pid[:11]} up" for pid, _, _ in rows]
            subprocess.run(["ip", "-n", host.ns.name, "-batch", "-"], check=True,
                           input="\n".join(lines) + "\n", text=True, capture_output=True)
            plug = ["--may-exist", "add-br", "br-int", "--", "set", "bridge", "br-int",
                    "datapath_type=netdev", "fail_mode=secure"]
            for pid, mac, _ in rows:
                tap = f"tap{pid[:11]}"
                plug += ["--", "add-port", "br-int", tap, f"tag={DEAD_VLAN}", "--", "set",
                         "Interface", tap, f"external_ids:iface-id={pid}",
                         f"external_ids:attached-mac={mac}"]
            host.ovs.vsctl(*plug, timeout=120)

    def desired(self, i: int) -> L2Desired:
        host = self.lab.hosts[i]
        nets = [{"network_id": n, "network_type": "vxlan", "segmentation_id": 6000 + k,
                 "mtu": 1450} for k, n in enumerate(self.nets)]
        ports = [{"port_id": pid, "mac_address": mac, "network_id": net}
                 for pid, mac, net in self.ports[host.name]]
        remote = [{"host": o.name, "local_ip": o.local_ip, "network_id": net,
                   "macs": [m for _, m, pnet in self.ports[o.name] if pnet == net]}
                  for o in self.lab.hosts if o is not host for net in self.nets]
        return L2Desired.from_wire({"l2": {"networks": nets, "ports": ports,
                                           "remote": remote}})

    def engines(self) -> list[OvsL2]:
        self._engines = [OvsL2(OvsL2Options(bridge_mappings={}, local_ip=h.local_ip,
                                   tunnel_types=("vxlan",), l2_population=True),
                      ovsdb=h.ovs.db, rundir=h.ovs.rundir) for h in self.lab.hosts]
        return self._engines

    def close(self) -> None:
        for engine in getattr(self, "_engines", ()):
            engine.close()
        self.lab.close()


def timed_sync(engines: list[OvsL2], desired: list[L2Desired]) -> dict:
    txns = bundles = failed = changes = 0
    started = time.perf_counter()
    for engine, d in zip(engines, desired):
        t0, b0 = engine.db.transactions, engine.bundles
        report = engine.sync(d)
        txns += engine.db.transactions - t0
        bundles += engine.bundles - b0
        changes += len(report.changes)
        failed += len(report.failed) + len(report.unconverged)
    return {"ms": (time.perf_counter() - started) * 1000, "txns": txns,
            "bundles": bundles, "changes": changes, "failed": failed}


def drift(bench: OvsBench) -> None:
    for host in bench.lab.hosts:
        taps = [f"tap{pid[:11]}" for pid, _, _ in bench.ports[host.name][::10]]
        args: list[str] = []
        for tap in taps:
            args += ["--", "set", "Port", tap, "tag=999"]
        host.ovs.vsctl(*args[1:])
        host.ovs.ofctl("del-flows", "br-tun", "table=22,dl_vlan=1")


def vsctl_args(edit: tuple) -> list[str]:
    verb, *a = edit
    if verb == "bridge":
        return ["--may-exist", "add-br", a[0], "--", "set", "bridge", a[0],
                f"datapath_type={a[1]}", f"fail_mode={a[2]}"]
    if verb == "fail_mode":
        return ["set-fail-mode", a[0], a[1]]
    if verb == "add_port":
        return ["add-port", a[0], a[1], "--", "set", "Interface", a[1], f"type={a[2]}",
                *[f"options:{k}={v}" for k, v in a[3].items()]]
    if verb == "iface":
        return ["set", "Interface", a[0], f"type={a[1]}",
                *[f"options:{k}={v}" for k, v in a[2].items()]]
    if verb == "del_port":
        return ["del-port", a[0], a[1]]
    if verb == "port":
        return ["set", "Port", a[0], f"tag={a[1]}",
                *[f"other_config:{k}={v}" for k, v in a[2].items()]]
    raise ValueError(verb)


def one_process_per_op(bench: OvsBench, engines: list[OvsL2], desired) -> dict:
    """The full wiring, each OVSDB edit one ovs-vsctl and each flow one ovs-ofctl."""
    count = 0
    started = time.perf_counter()
    for host, engine, d in zip(bench.lab.hosts, engines, desired):
        for _ in range(3):                 # ports first, then the flows that name them
            p = engine.plan(d)
            if not p.changes:
                break
            for change in p.changes:
                op = change.payload
                if op.kind == OVSDB:
                    host.ovs.vsctl(*vsctl_args(op.edit))
                else:
                    verb, _, flow = op.line.partition(" ")
                    subprocess.run(["ovs-ofctl", "-O", "OpenFlow14",
                                    "add-flow" if verb == "add" else "del-flows", op.bridge,
                                    flow], env=host.ovs.env, check=True,
                                   capture_output=True)
                count += 1
    return {"ms": (time.perf_counter() - started) * 1000, "txns": count, "bundles": 0,
            "changes": count, "failed": 0}


def main(hosts: int, ports: int, networks: int) -> str:
    rows = measure(OvsBench(hosts, ports, networks), timed_sync,
                   ("drift: 10% tags changed, 1 flow gone", drift),
                   ("full wiring, one ovs-vsctl/ovs-ofctl process per op",
                    one_process_per_op))
    title = (f"### L2 openvswitch engine: {hosts} hosts x {ports} ports, {networks} VXLAN "
             f"networks on every host, l2population (median of {RUNS}, summed over hosts)")
    out = [title, "", "| step | changes | OVSDB transactions (processes) | flow bundles | "
           "failed | wall ms | per port ms |", "|---|---:|---:|---:|---:|---:|---:|"]
    for step, runs in rows.items():
        ms = statistics.median(r["ms"] for r in runs)
        r = runs[0]
        out.append(f"| {step} | {r['changes']} | {r['txns']} | {r['bundles']} | "
                   f"{max(x['failed'] for x in runs)} | {ms:.0f} | "
                   f"{ms / (hosts * ports):.2f} |")
    return "\n".join(out) + "\n"


def api_first_reply_ms(ports: int = LATENCY_PORTS) -> list[float]:
    """PUT binding:host_id -> first UDP echo from a VM on the other host, with agents."""
    import tempfile

    from tests.harness.l2hosts import Vm
    from tests.harness.server import ServerProcess
    from tests.l2.test_ovs_l2_api import OvsApiLab

    workdir = Path(tempfile.mkdtemp(prefix="nq-bench-l2ovs-"))
    server = ServerProcess(f"sqlite:///{workdir}/netqos.sqlite", log_dir=workdir).start()
    lab = OvsApiLab(server.url)
    echo = None
    try:
        net = lab.provider("vxlan")
        peer = lab.vm("peer", lab.lab.hosts[1], net, "198.19.4.250/24")
        lab.start_agents(server.url)
        echo = peer.ns.popen("python3", "-c", _ECHO)
        host, times = lab.lab.hosts[0], []
        for n in range(ports):
            port = lab.ok(lab.http.post("/v2.0/ports", json={"port": {
                "network_id": net.network_id, "device_owner": "compute:nova"}}), 201)["port"]
            vm = Vm(f"v{n}", host, net, f"198.19.4.{n + 1}/24", port_id=port["id"],
                    mac=port["mac_address"])
            vm.boot(net.mtu or 1450)
            lab.lab.vms.append(vm)
            host.plug(vm)                       # os-vif: on the dead VLAN, not bound yet
            host.prepare_guest(vm)
            vm.ns.run("sysctl", "-qw", "net.ipv4.neigh.eth0.retrans_time_ms=10")
            probe = vm.ns.popen("python3", "-c", _PROBE, peer.address,
                                stdout=subprocess.PIPE, text=True)
            assert probe.stdout.readline().strip() == "ready"
            started = time.time()
            lab.update_port(vm, **{"binding:host_id": host.name})
            answered = probe.stdout.readline().strip()
            probe.wait()
            if not answered:
                raise RuntimeError(f"port {n}: no answer in 20 s\n{lab.logs()}")
            times.append((float(answered) - started) * 1000)
        return times
    finally:
        if echo is not None:
            echo.kill()
            echo.wait()
        lab.close()
        server.stop()


def tunnel_probe(kind: str) -> tuple[int, str]:
    """Two OvsHosts, a bridge each with an internal port (10.99.0.i) and a `kind` tunnel
    port to the other's underlay address: echo replies of 10 pings across, and the avg
    round trip. Whether OVS's userspace datapath carries that tunnel type here."""
    lab = L2Lab(kinds=[OvsHost] * 2)
    try:
        for host, peer in zip(lab.hosts, reversed(lab.hosts)):
            host.ovs.vsctl("add-br", "br-probe", "--", "set", "bridge", "br-probe",
                           "datapath_type=netdev", "--", "add-port", "br-probe", "t0", "--",
                           "set", "Interface", "t0", f"type={kind}",
                           f"options:remote_ip={peer.local_ip}",
                           f"options:local_ip={host.local_ip}")
            host.ns.run("ip", "addr", "add", f"10.99.0.{host.index}/24", "dev", "br-probe")
            host.ns.run("ip", "link", "set", "br-probe", "up", "mtu", "1400")
        ping = ("busybox", "ping", "-c", "10", "-i", "0.2", "-W", "1", "10.99.0.2")
        lab.hosts[0].ns.run(*ping[:3], "2", *ping[4:], check=False)   # ARP, flows
        out = lab.hosts[0].ns.run(*ping, check=False).stdout
        got = int(m.group(1)) if (m := re.search(r"(\d+) packets received", out)) else 0
        rtt = m.group(1) if (m := re.search(r"= [\d.]+/([\d.]+)/", out)) else "-"
        return got, rtt
    finally:
        lab.close()


def tunnel_table() -> str:
    rows = [(kind, *tunnel_probe(kind)) for kind in ("vxlan", "gre")]
    version = subprocess.run(["ovs-vswitchd", "--version"], capture_output=True,
                             text=True).stdout.split()[-1]
    return ("\n### OVS userspace datapath: tunnel types carried here (ovs-vswitchd "
            f"{version}, "
            "native tunnelling)\n\n| tunnel | echo replies / 10 | avg rtt ms |\n"
            "|---|---:|---:|\n" + "".join(f"| {k} | {n} | {r} |\n" for k, n, r in rows))


def ovs_tables(args: list[int]) -> str:
    table = main(*args)
    latency = latency_table(first_reply_ms(kinds=[OvsHost] * 2))
    api = latency_table(api_first_reply_ms()).replace(
        "### L2: port bound (tap already there)",
        "### L2 openvswitch through the API: PUT binding:host_id (VM plugged on the dead "
        "VLAN), agents polling every 0.3 s (no bus),")
    return table + latency.replace("### L2:", "### L2 openvswitch:") + api + tunnel_table()


if __name__ == "__main__" and sys.argv[1:] == ["api"]:
    print(latency_table(api_first_reply_ms()))
elif __name__ == "__main__" and sys.argv[1:] == ["tunnels"]:
    print(tunnel_table())
elif __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:4]] or [4, 250, 50]
    table = ovs_tables(args)
    print(table)
    if args == [4, 250, 50]:
        RESULTS.write_text(table)
