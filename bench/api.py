"""API benchmark: QoS policy operations against real `netqos server` processes, next to
Neutron's recorded figures for the same workload.

With N policies (default 500), each given one bandwidth-limit rule, it measures

    create policy   POST /v2.0/qos/policies
    create rule     POST /v2.0/qos/policies/{id}/bandwidth_limit_rules
    show            GET  /v2.0/qos/policies/{id}
    list N          GET  /v2.0/qos/policies            (all N policies, with their rules)
    update          PUT  /v2.0/qos/policies/{id}
    delete          DELETE /v2.0/qos/policies/{id}

with 1 and with 8 concurrent client threads, every request on a fresh TCP connection (as a
CLI or a short-lived script connects), on SQLite (one process, as `make run` serves it) and
on PostgreSQL with 2 workers. Client, server and database share the machine's cores.

Besides requests/s and latency it reports the server's CPU time per request (user + system
of the server process tree, from /proc): on a busy machine wall-clock rates swing with the
neighbours' load, CPU per request much less, so compare changes by that column.

    .venv/bin/python bench/api.py [-n 500] [--clients 8] [--lists 20] [--workers 2]
                                  [--sqlite-workers 1] [--only sqlite|postgresql]
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.harness import postgres  # noqa: E402
from tests.harness.server import ServerProcess  # noqa: E402

POLICIES = "/v2.0/qos/policies"

# Neutron's requests/s for the same workload, recorded in issue 17: a real Neutron 29
# server (2 uWSGI workers, MariaDB) on this same 2-core machine, a new connection per
# request, N = 500. Keyed by (phase, clients); update was not recorded.
NEUTRON = {
    ("create policy", 1): 67, ("create rule", 1): 50, ("show", 1): 79,
    ("delete", 1): 44, ("list 500 with rules", 1): 0.7,
    ("create policy", 8): 158, ("create rule", 8): 107, ("show", 8): 186,
    ("delete", 8): 102, ("list 500 with rules", 8): 1.3,
}
NEUTRON_SOURCE = ("Neutron 29, 2 uWSGI workers on MariaDB, same machine, a new connection "
                  "per request (recorded in issue 17)")


class Client:
    """One request per TCP connection: no keep-alive, nothing shared between requests."""

    def __init__(self, port: int):
        self.port = port

    def request(self, method: str, path: str, body: dict | None = None,
                expect: int = 200) -> tuple[float, dict | None]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Connection": "close", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        start = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        finally:
            conn.close()
        elapsed = time.perf_counter() - start
        if resp.status != expect:
            raise RuntimeError(f"{method} {path}: {resp.status} (expected {expect}): {raw[:300]!r}")
        return elapsed, (json.loads(raw) if raw else None)


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, its threads and its live descendants (the
    workers of a multi-process server)."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


@dataclass
class Result:
    op: str
    clients: int
    count: int
    wall: float        # seconds for the whole phase
    cpu: float         # server CPU seconds spent in the phase
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.count / self.wall if self.wall else 0.0

    @property
    def cpu_ms(self) -> float:
        return self.cpu / self.count * 1000

    def pct(self, p: float) -> float:
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] * 1000


def run_phase(server_pid: int, op: str, jobs: list, clients: int) -> tuple[Result, list]:
    """Run every job (a no-argument callable returning (latency, value)); return timings
    and the values in job order."""
    cpu0, start = tree_cpu_seconds(server_pid), time.perf_counter()
    if clients == 1:
        out = [job() for job in jobs]
    else:
        with ThreadPoolExecutor(clients) as pool:
            out = list(pool.map(lambda job: job(), jobs))
    wall = time.perf_counter() - start
    cpu = tree_cpu_seconds(server_pid) - cpu0
    return Result(op, clients, len(jobs), wall, cpu, [lat for lat, _ in out]), [v for _, v in out]


def bench_server(server: ServerProcess, n: int, clients: int, lists: int) -> list[Result]:
    c = Client(server.port)
    pid = server.proc.pid
    tag = f"bench-{clients}-{time.monotonic_ns()}"
    results = []

    def phase(op, jobs):
        r, values = run_phase(pid, op, jobs, clients)
        results.append(r)
        return values

    created = phase("create policy", [
        (lambda i=i: c.request("POST", POLICIES, {"policy": {"name": f"{tag}-{i}"}}, 201))
        for i in range(n)])
    ids = [p["policy"]["id"] for p in created]
    rule = {"bandwidth_limit_rule": {"max_kbps": 10000, "max_burst_kbps": 1000}}
    phase("create rule", [
        (lambda pid=pid: c.request("POST", f"{POLICIES}/{pid}/bandwidth_limit_rules", rule, 201))
        for pid in ids])
    shown = phase("show", [(lambda pid=pid: c.request("GET", f"{POLICIES}/{pid}"))
                           for pid in ids])
    assert all(len(s["policy"]["rules"]) == 1 for s in shown)
    listed = phase(f"list {n} with rules", [lambda: c.request("GET", POLICIES)] * lists)
    mine = [p for p in listed[0]["policies"] if p["name"].startswith(tag)]
    assert len(mine) == n and all(len(p["rules"]) == 1 for p in mine), len(mine)
    phase("update", [(lambda pid=pid: c.request("PUT", f"{POLICIES}/{pid}",
                                                {"policy": {"description": "updated"}}))
                     for pid in ids])
    phase("delete", [(lambda pid=pid: c.request("DELETE", f"{POLICIES}/{pid}", expect=204))
                     for pid in ids])
    return results


def bench_config(label: str, database: str, workers: int, args) -> list[tuple[str, Result]]:
    extra = ["--log-level", "warning"]
    if workers > 1:
        extra += ["--workers", str(workers)]
    server = ServerProcess(database, extra_args=extra)
    server.start(timeout=60)
    try:
        # A warm-up, so the first measured requests do not pay for imports and pools.
        warm = Client(server.port)
        for _ in range(20 * workers):
            warm.request("GET", POLICIES)
        out = []
        for clients in (1, args.clients):
            out += [(label, r) for r in bench_server(server, args.n, clients, args.lists)]
            print(f"  done: {label}, {clients} client(s)", file=sys.stderr, flush=True)
        return out
    finally:
        server.stop()


def table(rows: list[tuple[str, Result]], n: int) -> str:
    lines = ["| database | phase | clients | Neutron req/s | netqos req/s | ratio | p50 ms | "
             "p99 ms | server CPU ms/req |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    # The order: every phase with 1 client, then with 8.
    for label, r in sorted(rows, key=lambda lr: lr[1].clients != 1):
        # Neutron's figures are for N = 500: other sizes print no ratio.
        neutron = NEUTRON.get((r.op, r.clients)) if n == 500 else None
        shown = "—" if neutron is None else f"{neutron:g}"
        ratio = "—" if neutron is None else f"{r.rate / neutron:.1f}×"
        lines.append(f"| {label} | {r.op} | {r.clients} | {shown} | {r.rate:.0f} | {ratio} | "
                     f"{r.pct(50):.1f} | {r.pct(99):.1f} | {r.cpu_ms:.2f} |")
    return "\n".join(lines)


def _load(avg: tuple[float, float, float]) -> str:
    return ", ".join(f"{x:.2f}" for x in avg)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=500, help="policies (500)")
    ap.add_argument("--clients", type=int, default=8, help="concurrent clients (8)")
    ap.add_argument("--lists", type=int, default=20, help="list requests per phase (20)")
    ap.add_argument("--workers", default="2", help="PostgreSQL worker counts (2; e.g. 1,2,4)")
    ap.add_argument("--sqlite-workers", default="1",
                    help="SQLite worker counts (1, as make run serves it; e.g. 1,2)")
    ap.add_argument("--only", choices=("sqlite", "postgresql"))
    args = ap.parse_args()

    rows: list[tuple[str, Result]] = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="nq-bench-") as tmp:
        if args.only != "postgresql":
            for w in (int(x) for x in args.sqlite_workers.split(",")):
                label = "SQLite" if w == 1 else f"SQLite, {w} workers"
                rows += bench_config(label, f"sqlite:///{tmp}/bench-w{w}.sqlite", w, args)
        if args.only != "sqlite":
            if postgres.find_bindir() is None:
                print("PostgreSQL not installed: skipping it", file=sys.stderr)
            else:
                with postgres.PostgresServer() as pg:
                    for w in (int(x) for x in args.workers.split(",")):
                        url = pg.fresh_database(prefix=f"bench_w{w}")
                        rows += bench_config(f"PostgreSQL, {w} worker{'s' * (w > 1)}",
                                             url, w, args)
    print(f"N = {args.n} policies, one bandwidth-limit rule each; a new TCP connection per "
          f"request; list = GET of all {args.n} policies with their rules.\n"
          f"Neutron: {NEUTRON_SOURCE}.\n"
          f"Load average (1, 5, 15 min) before: {_load(load_before)}; after: "
          f"{_load(os.getloadavg())} (on a shared machine the rates follow the "
          f"neighbours' load; the CPU per request much less).\n")
    print(table(rows, args.n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
