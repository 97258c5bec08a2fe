"""API benchmark: QoS policy operations against real `netqos server` processes.

With N policies (default 500), each given one bandwidth-limit rule, it measures

    create   POST /v2.0/qos/policies
    rule     POST /v2.0/qos/policies/{id}/bandwidth_limit_rules
    show     GET  /v2.0/qos/policies/{id}
    list     GET  /v2.0/qos/policies            (all N policies, with their rules)
    update   PUT  /v2.0/qos/policies/{id}
    delete   DELETE /v2.0/qos/policies/{id}

once sequentially and once with 8 concurrent client threads, every request on a fresh TCP
connection (as a CLI or a short-lived script connects), on SQLite and on PostgreSQL with
--workers 1, 2 and 4. Prints a Markdown table of requests/s and p50/p99 latency.

    .venv/bin/python bench/api.py [-n 500] [--clients 8] [--lists 20] [--only sqlite|postgresql]

For comparison, a real Neutron server: 50-80 req/s sequential create/show/delete, ~180 req/s
with 8 clients, 2.5 s to list 500 policies.
"""
from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.harness import postgres  # noqa: E402
from tests.harness.server import ServerProcess  # noqa: E402

POLICIES = "/v2.0/qos/policies"


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


@dataclass
class Result:
    op: str
    mode: str          # "seq" or "8 clients"
    count: int
    wall: float        # seconds for the whole phase
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.count / self.wall if self.wall else 0.0

    def pct(self, p: float) -> float:
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] * 1000


def run_phase(op: str, mode: str, jobs: list, clients: int) -> tuple[Result, list]:
    """Run every job (a no-argument callable returning (latency, value)); return timings
    and the values in job order."""
    start = time.perf_counter()
    if clients == 1:
        out = [job() for job in jobs]
    else:
        with ThreadPoolExecutor(clients) as pool:
            out = list(pool.map(lambda job: job(), jobs))
    wall = time.perf_counter() - start
    return Result(op, mode, len(jobs), wall, [lat for lat, _ in out]), [v for _, v in out]


def bench_server(port: int, n: int, clients: int, lists: int, mode: str) -> list[Result]:
    c = Client(port)
    tag = f"bench-{mode.replace(' ', '')}-{time.monotonic_ns()}"
    results = []

    def create(i):
        return lambda: c.request("POST", POLICIES, {"policy": {"name": f"{tag}-{i}"}}, 201)

    r, created = run_phase("create policy", mode, [create(i) for i in range(n)], clients)
    results.append(r)
    ids = [p["policy"]["id"] for p in created]

    def add_rule(pid):
        return lambda: c.request("POST", f"{POLICIES}/{pid}/bandwidth_limit_rules",
                                 {"bandwidth_limit_rule": {"max_kbps": 10000,
                                                           "max_burst_kbps": 1000}}, 201)

    r, _ = run_phase("create rule", mode, [add_rule(pid) for pid in ids], clients)
    results.append(r)

    def show(pid):
        return lambda: c.request("GET", f"{POLICIES}/{pid}")

    r, shown = run_phase("show", mode, [show(pid) for pid in ids], clients)
    results.append(r)
    assert all(len(s["policy"]["rules"]) == 1 for s in shown)

    def list_all():
        return c.request("GET", POLICIES)

    r, listed = run_phase(f"list {n}", mode, [list_all] * lists, clients)
    results.append(r)
    mine = [p for p in listed[0]["policies"] if p["name"].startswith(tag)]
    assert len(mine) == n and all(len(p["rules"]) == 1 for p in mine), len(mine)

    def update(pid):
        return lambda: c.request("PUT", f"{POLICIES}/{pid}",
                                 {"policy": {"description": "updated"}})

    r, _ = run_phase("update", mode, [update(pid) for pid in ids], clients)
    results.append(r)

    def delete(pid):
        return lambda: c.request("DELETE", f"{POLICIES}/{pid}", expect=204)

    r, _ = run_phase("delete", mode, [delete(pid) for pid in ids], clients)
    results.append(r)
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
        for mode, clients in (("seq", 1), (f"{args.clients} clients", args.clients)):
            for r in bench_server(server.port, args.n, clients, args.lists, mode):
                out.append((label, r))
            print(f"  done: {label}, {mode}", file=sys.stderr, flush=True)
        return out
    finally:
        server.stop()


def table(rows: list[tuple[str, Result]]) -> str:
    lines = ["| database | mode | operation | requests | req/s | p50 ms | p99 ms |",
             "|---|---|---|---:|---:|---:|---:|"]
    for label, r in rows:
        lines.append(f"| {label} | {r.mode} | {r.op} | {r.count} | {r.rate:.0f} | "
                     f"{r.pct(50):.1f} | {r.pct(99):.1f} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=500, help="policies (500)")
    ap.add_argument("--clients", type=int, default=8, help="concurrent clients (8)")
    ap.add_argument("--lists", type=int, default=20, help="list requests per phase (20)")
    ap.add_argument("--workers", default="1,2,4", help="PostgreSQL worker counts (1,2,4)")
    ap.add_argument("--only", choices=("sqlite", "postgresql"))
    args = ap.parse_args()

    rows: list[tuple[str, Result]] = []
    with tempfile.TemporaryDirectory(prefix="nq-bench-") as tmp:
        if args.only != "postgresql":
            rows += bench_config("SQLite", f"sqlite:///{tmp}/bench.sqlite", 1, args)
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
          f"request; list = GET of all {args.n} policies with their rules.\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
