"""Propagation benchmark: from the API's 200 to "enforced in the kernel" on every port.

A cluster as in tests/cluster (PostgreSQL, RabbitMQ, `netqos server --workers 2
--transport-url …`, one `netqos agent` process per simulated host = network namespace, with
no revision poll and a 300 s resync, so every change travels over RabbitMQ). Each round
changes the bandwidth-limit rule of the policy all ports use, takes the time of the PUT's
200, then polls the kernel (one `tc -j qdisc show` per namespace, the namespaces in
parallel) until every tap's TBF has the new rate; a port's latency is the time of the
first dump that shows it. Layouts: 4 hosts x 250 ports and 1 host x 1000 ports.

Then the API throughput of bench/api.py (its own functions) on PostgreSQL with 1, 2 and 4
workers.

    .venv/bin/python bench/propagation.py [--rounds 10] [--layouts 4x250,1x1000]
                                          [--api-n 200] [--no-api]

Needs root (namespaces), PostgreSQL and RabbitMQ (the test harness starts private ones).
Prints Markdown tables and writes them to bench/results/propagation.md.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.cluster.harness import Cluster, kbps_to_tc_rate, tap  # noqa: E402
from tests.harness import postgres, rabbitmq  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "propagation.md"


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(p / 100 * (len(values) - 1))))
    return values[k]


def dump(ns: str) -> tuple[float, dict[str, int]]:
    """(time the dump finished, {tap: TBF rate bytes/s}) for one namespace."""
    out = subprocess.run(["tc", "-n", ns, "-j", "qdisc", "show"], capture_output=True,
                         text=True, check=True).stdout
    now = time.perf_counter()
    rates = {}
    for q in json.loads(out or "[]"):
        if q.get("root") and q.get("kind") == "tbf" and q.get("dev", "").startswith("tap"):
            rates[q["dev"]] = int(q["options"]["rate"])
    return now, rates


def one_round(cluster: Cluster, policy_id: str, rule_id: str, kbps: int,
              timeout: float = 60) -> tuple[list[float], int]:
    """Per-port seconds from the 200 to the kernel showing the rate; dumps taken."""
    pending = {h.ns.name: {tap(p) for p in h.ports} for h in cluster.hosts}
    want = kbps_to_tc_rate(kbps)
    latencies: list[float] = []
    resp = cluster.set_rate(policy_id, rule_id, kbps)
    t0 = time.perf_counter()
    assert resp.status_code == 200, resp.text
    dumps = 0
    with ThreadPoolExecutor(len(pending)) as pool:
        while any(pending.values()):
            if time.perf_counter() - t0 > timeout:
                raise RuntimeError(f"not enforced after {timeout} s: "
                                   f"{sum(map(len, pending.values()))} ports left")
            names = [ns for ns, left in pending.items() if left]
            for ns, (when, rates) in zip(names, pool.map(dump, names)):
                dumps += 1
                done = {d for d in pending[ns] if rates.get(d) == want}
                latencies += [when - t0] * len(done)
                pending[ns] -= done
    return latencies, dumps


def bench_layout(pg_url: str, rabbit_url: str, hosts: int, ports: int, rounds: int,
                 workdir: Path) -> dict:
    cluster = Cluster(pg_url, rabbit_url, workdir, workers=2)
    try:
        cluster.start_server()
        kbps = 10_000
        policy, rule = cluster.policy(kbps, name=f"bench-{hosts}x{ports}")
        net = cluster.network(policy["id"])
        t = time.monotonic()
        for _ in range(hosts):
            cluster.add_host(ports, net["id"])
        setup = time.monotonic() - t
        for host in cluster.hosts:
            host.start_agent()
        cluster.wait_enforced({p: kbps for h in cluster.hosts for p in h.ports}, timeout=120)
        all_lat: list[float] = []
        last: list[float] = []
        dumps = 0
        for i in range(rounds):
            kbps = kbps * 12 // 10 if i % 2 == 0 else kbps * 10 // 12 - 100  # > 2 % apart
            lat, n = one_round(cluster, policy["id"], rule["id"], kbps)
            all_lat += lat
            last.append(max(lat))
            dumps += n
            time.sleep(0.3)
        print(f"  {hosts} x {ports}: {rounds} rounds done (ports created and plugged in "
              f"{setup:.1f} s)", file=sys.stderr, flush=True)
        return {"layout": f"{hosts} host{'s' * (hosts > 1)} x {ports} ports",
                "ports": hosts * ports, "rounds": rounds, "samples": len(all_lat),
                "p50": pct(all_lat, 50), "p99": pct(all_lat, 99), "max": max(all_lat),
                "all_p50": statistics.median(last), "dumps": dumps / rounds}
    finally:
        cluster.close()


def propagation_table(rows: list[dict]) -> str:
    lines = ["| layout | ports | rounds | p50 ms | p99 ms | max ms | "
             "all ports done, median ms | tc dumps per round |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['layout']} | {r['ports']} | {r['rounds']} | {r['p50'] * 1000:.0f} "
                     f"| {r['p99'] * 1000:.0f} | {r['max'] * 1000:.0f} | "
                     f"{r['all_p50'] * 1000:.0f} | {r['dumps']:.0f} |")
    return "\n".join(lines)


def api_bench(n: int, workers: str) -> str:
    """bench/api.py's own functions, PostgreSQL only."""
    spec = importlib.util.spec_from_file_location("bench_api", ROOT / "bench" / "api.py")
    api = importlib.util.module_from_spec(spec)
    sys.modules["bench_api"] = api   # dataclasses look their module up there
    spec.loader.exec_module(api)
    args = argparse.Namespace(n=n, clients=8, lists=10)
    rows = []
    with postgres.PostgresServer() as pg:
        for w in (int(x) for x in workers.split(",")):
            url = pg.fresh_database(prefix=f"prop_api_w{w}")
            rows += api.bench_config(f"PostgreSQL, {w} worker{'s' * (w > 1)}", url, w, args)
    return api.table(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=10, help="rule changes per layout (10)")
    ap.add_argument("--layouts", default="4x250,1x1000", help="HOSTSxPORTS,... (4x250,1x1000)")
    ap.add_argument("--api-n", type=int, default=200, help="policies for bench/api.py (200)")
    ap.add_argument("--api-workers", default="1,2,4")
    ap.add_argument("--no-api", action="store_true", help="skip the API throughput part")
    ap.add_argument("--output", default=str(RESULTS))
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/propagation.py needs root (network namespaces)", file=sys.stderr)
        return 2
    if postgres.find_bindir() is None or not rabbitmq.installed():
        print("needs PostgreSQL and RabbitMQ (apt-get install postgresql rabbitmq-server)",
              file=sys.stderr)
        return 2

    rows = []
    with tempfile.TemporaryDirectory(prefix="nq-prop-") as tmp, \
            postgres.PostgresServer() as pg, rabbitmq.RabbitMQServer() as broker:
        for layout in args.layouts.split(","):
            hosts, ports = (int(x) for x in layout.lower().split("x"))
            rows.append(bench_layout(pg.fresh_database(prefix=f"prop_{hosts}x{ports}"),
                                     broker.url, hosts, ports, args.rounds,
                                     Path(tmp) / layout))
    out = [f"## Propagation: API 200 -> enforced in the kernel\n",
           f"`netqos server --workers 2` on PostgreSQL, RabbitMQ bus, one agent process per "
           f"host namespace (no revision poll, 300 s resync: every change arrives over the "
           f"bus). Each round changes the one bandwidth-limit rule (ingress, TBF root on "
           f"each tap) of the policy every port uses; a port's latency is the time of the "
           f"first `tc -n NS -j qdisc show` (one per namespace, in parallel) that shows its "
           f"new rate. Machine: {os.cpu_count()} CPUs, shared by server, agents, "
           f"PostgreSQL, RabbitMQ and the poller.\n",
           propagation_table(rows)]
    print("\n".join(out), flush=True)
    if not args.no_api:
        table = api_bench(args.api_n, args.api_workers)
        api_out = [f"\n## API throughput on PostgreSQL (bench/api.py, N = {args.api_n})\n",
                   "A new TCP connection per request; 8 clients in the concurrent mode.\n",
                   table]
        print("\n".join(api_out))
        out += api_out
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
