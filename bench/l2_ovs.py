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
(bench/l2.py's first_reply_ms).
Run as root: .venv/bin/python bench/l2_ovs.py [HOSTS PORTS NETWORKS]
"""
from __future__ import annotations

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
from l2 import RUNS, first_reply_ms, latency_table, measure  # noqa: E402  bench/l2.py
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


def ovs_tables(args: list[int]) -> str:
    table = main(*args)
    latency = latency_table(first_reply_ms(kinds=[OvsHost] * 2))
    return table + latency.replace("### L2:", "### L2 openvswitch:")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:4]] or [4, 250, 50]
    table = ovs_tables(args)
    print(table)
    if args == [4, 250, 50]:
        RESULTS.write_text(table)
