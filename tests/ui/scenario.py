"""Building blocks of the console tests and bench/ui.py: many ports on one host, and an
agent's counter posts for them.

`CounterFeeder` posts through the real endpoint (POST /v2.0/netqos/hosts/H/counters) what an
agent with N devices would: it stands in for 1000 veth pairs that this shared machine
cannot spare for a render test. The real agent's counters are tested in
test_console_dataplane.py with real traffic.
"""
from __future__ import annotations

import fcntl
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create_policy(client: httpx.Client, name: str, max_kbps: int, **extra) -> dict:
    policy = client.post("/v2.0/qos/policies", json={"policy": {"name": name, **extra}})
    policy.raise_for_status()
    pid = policy.json()["policy"]["id"]
    for direction in ("ingress", "egress"):
        client.post(f"/v2.0/qos/policies/{pid}/bandwidth_limit_rules", json={
            "bandwidth_limit_rule": {"max_kbps": max_kbps, "direction": direction}}
        ).raise_for_status()
    return client.get(f"/v2.0/qos/policies/{pid}").json()["policy"]


def populate_host(client: httpx.Client, host: str, count: int, policy_id: str | None = None,
                  **owner) -> list[str]:
    """`count` ports bound to `host` on one new network; returns their ids. `owner`:
    project_id=… for an admin creating them for a project."""
    net = client.post("/v2.0/networks", json={"network": {"name": uniq("net"),
                                                          "qos_policy_id": policy_id, **owner}})
    net.raise_for_status()
    net_id = net.json()["network"]["id"]

    def one(i: int) -> str:
        r = client.post("/v2.0/ports", json={"port": {
            "network_id": net_id, "name": f"vm-{i:04d}", "binding:host_id": host, **owner}})
        r.raise_for_status()
        return r.json()["port"]["id"]

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(one, range(count)))


class CounterFeeder:
    """Posts counters for `ports` every `interval` s: port i receives at (i % 100 + 1) %
    of `limit_bps`, so the "closest to its limit" order is known."""

    def __init__(self, url: str, host: str, ports: list[str], limit_bps: int,
                 interval: float = 1.0, headers: dict | None = None):
        self.client = httpx.Client(base_url=url, timeout=10, headers=headers or {})
        self.host, self.ports, self.limit, self.interval = host, ports, limit_bps, interval
        self.stop = threading.Event()
        self.posts = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def share(self, i: int) -> float:
        return (i % 100 + 1) / 100

    def entries(self, elapsed: float) -> list[dict]:
        out = []
        for i, pid in enumerate(self.ports):
            tx = int(self.limit * self.share(i) / 8 * elapsed)
            out.append({"port_id": pid, "device": f"tap{pid[:11]}", "rx_bytes": tx // 10,
                        "tx_bytes": tx, "rx_packets": tx // 15000, "tx_packets": tx // 1500,
                        "drops": 0, "limit": {"in_bps": self.limit, "out_bps": self.limit}})
        return out

    def run(self) -> None:
        t0 = time.time()
        while not self.stop.is_set():
            now = time.time()
            r = self.client.post(f"/v2.0/netqos/hosts/{self.host}/counters", json={
                "counters": {"at": now, "ports": self.entries(now - t0)}})
            r.raise_for_status()
            self.posts += 1
            self.stop.wait(self.interval)

    def __enter__(self) -> "CounterFeeder":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(10)
        self.client.close()


def visit(page, url: str, route: str | None = None, tries: int = 3) -> None:
    """Open a console URL and wait until its page is shown (`route`: the hash it lands on,
    if not the URL's own). Chromium aborts loads in flight when an address of this host
    changes (net::ERR_NETWORK_CHANGED: other tests on a shared machine add and remove
    interfaces); a visit that such an abort broke is tried again."""
    from playwright.sync_api import Error

    want = route if route is not None else ("#" + url.partition("#")[2] if "#" in url else "")
    for attempt in range(1, tries + 1):
        changes = page.network_changes
        try:
            if page.url == url:
                page.goto("about:blank")   # the same URL again would not route anew
            elif page.url.startswith("http"):
                page.evaluate("delete document.body.dataset.route")
            page.goto(url)
            page.wait_for_function("want => document.body.dataset.route === want", arg=want,
                                   timeout=15_000)
            return
        except Error:
            if attempt == tries or page.network_changes == changes:
                raise


def open_host_page(page, url: str, host: str, timeout_ms: int = 30_000) -> float:
    """Open the host page and wait until its table is there; returns the page's own render
    time (ms: from the route to the table with every row, including its API reads)."""
    visit(page, f"{url}/ui/#/host/{host}")
    page.wait_for_function("document.body.dataset.renderMs !== undefined",
                           timeout=timeout_ms)
    print(f"host page: {page.evaluate('document.body.dataset.renderParts')}")
    return float(page.evaluate("document.body.dataset.renderMs"))


TRAFFIC_LOCK = "/tmp/netqos-traffic.lock"


@contextmanager
def traffic_lock():
    """Measurements of engineers sharing this machine must not overlap (iperf3 runs)."""
    with open(TRAFFIC_LOCK, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
