"""Auth benchmark: what Keystone token validation costs, next to noauth, in the same run.

Two `netqos server` processes on SQLite (noauth; --auth keystone against a real Keystone
started by the test harness) answer the same requests:

    show      GET /v2.0/qos/policies/{id}
    create    POST /v2.0/qos/policies, then DELETE it (a write: policy engine + commit)

keystone (cached): every request carries the same, already validated token;
keystone (new token): each request a token netqos has not seen (one Keystone round trip),
sequential only.
Sequential and with 8 client threads; each request on a fresh TCP connection. Prints a
Markdown table of requests/s and p50/p99 latency.

    .venv/bin/python bench/auth.py [-n 400] [--clients 8]
"""
from __future__ import annotations

import argparse
import http.client
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.api import Result  # noqa: E402
from tests.harness import keystone  # noqa: E402
from tests.harness.server import ServerProcess  # noqa: E402

POLICIES = "/v2.0/qos/policies"


def request(port: int, method: str, path: str, headers: dict, body: dict | None = None,
            expect: int = 200) -> float:
    data = json.dumps(body).encode() if body is not None else None
    hdrs = {"Connection": "close", "Content-Type": "application/json", **headers}
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read()
    finally:
        conn.close()
    if resp.status != expect:
        raise RuntimeError(f"{method} {path}: {resp.status}: {raw[:300]!r}")
    return time.perf_counter() - start


def phase(label: str, mode: str, jobs: list, clients: int) -> Result:
    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        lat = list(pool.map(lambda job: job(), jobs))
    return Result(label, mode, len(jobs), time.perf_counter() - start, lat)


def create_delete(port: int, headers: dict) -> float:
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", POLICIES, body=json.dumps({"policy": {"name": "b"}}),
                 headers={"Content-Type": "application/json", **headers})
    resp = conn.getresponse()
    pid = json.loads(resp.read())["policy"]["id"]
    conn.close()
    request(port, "DELETE", f"{POLICIES}/{pid}", headers, expect=204)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=400)
    ap.add_argument("--clients", type=int, default=8)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="nq-bench-auth-"))

    ks = keystone.KeystoneServer().start()
    cloud = keystone.Cloud(ks)
    env = {"NETQOS_KEYSTONE_AUTH_URL": ks.url, "NETQOS_KEYSTONE_USERNAME": "netqos",
           "NETQOS_KEYSTONE_PASSWORD": cloud.service_user("netqos"),
           "NETQOS_KEYSTONE_PROJECT_NAME": "service"}
    servers = {"noauth": ServerProcess(f"sqlite:///{work / 'noauth.sqlite'}", log_dir=work,
                                       extra_args=("--log-level", "warning")),
               "keystone": ServerProcess(f"sqlite:///{work / 'ks.sqlite'}", auth="keystone",
                                         env=env, log_dir=work,
                                         extra_args=("--log-level", "warning"))}
    for s in servers.values():
        s.start()
    token = cloud.token("alpha-manager")
    project = cloud.project_ids["alpha"]
    identities = {"noauth": {"X-Project-Id": project, "X-Roles": "manager"},
                  "keystone (cached)": {"X-Auth-Token": token}}
    rows = []
    try:
        ports = {label: servers["keystone" if "keystone" in label else "noauth"].port
                 for label in identities}
        shown = {label: json.loads(_post(ports[label], h))["policy"]["id"]
                 for label, h in identities.items()}
        # noauth and keystone take turns, so both see the same machine load.
        for clients in (1, args.clients):
            mode = "seq" if clients == 1 else f"{clients} clients"
            for label, h in identities.items():
                port, pid = ports[label], shown[label]
                show = [lambda: request(port, "GET", f"{POLICIES}/{pid}", h)] * args.n
                rows.append((label, phase("show", mode, show, clients)))
            for label, h in identities.items():
                port = ports[label]
                writes = [lambda: create_delete(port, h)] * (args.n // 4)
                rows.append((label, phase("create+delete", mode, writes, clients)))
        # Tokens netqos has never seen: each costs a validation in Keystone.
        port = servers["keystone"].port
        fresh = [cloud.token("alpha-manager") for _ in range(args.n // 4)]
        # Sequential only: this test Keystone (one gunicorn worker, SQLite) validates a few
        # tokens per second, so 8 at once would time out into 503s, not measure netqos.
        jobs = [lambda t=t: request(port, "GET", POLICIES, {"X-Auth-Token": t}) for t in fresh]
        rows.append(("keystone (new token)", phase("list", "seq", jobs, 1)))
    finally:
        for s in servers.values():
            s.stop()
        cloud.close()
        ks.destroy()
    print("| auth | operation | mode | requests | req/s | p50 ms | p99 ms |")
    print("|---|---|---|---:|---:|---:|---:|")
    for label, r in rows:
        print(f"| {label} | {r.op} | {r.mode} | {r.count} | {r.rate:.0f} | {r.pct(50):.1f} | "
              f"{r.pct(99):.1f} |")


def _post(port: int, headers: dict) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", POLICIES, body=json.dumps({"policy": {"name": "shown"}}),
                 headers={"Content-Type": "application/json", **headers})
    data = conn.getresponse().read()
    conn.close()
    return data


if __name__ == "__main__":
    main()
