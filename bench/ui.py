"""Console benchmark: the cost of live per-port data, from the kernel to a painted page.

    agent read     one counters.read (`ip -s -j link` + `tc -s -j qdisc`) for N ports,
                   each a veth with a TBF (root only; skipped otherwise)
    post           one POST /v2.0/netqos/hosts/H/counters of N ports (the agent's tick)
    tick bytes     the size of one SSE tick of the host's stream carrying a new point of
                   every port (as sent, uncompressed)
    ports list     GET /v2.0/ports?binding:host_id=H (what the host page reads first)
    host page      the page's own render time in headless chromium: from the route to the
                   first frame painted with every row (API reads included); median of 3

    .venv/bin/python bench/ui.py [--ports 100,1000,2000]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.harness.browser import Browser  # noqa: E402
from tests.harness.server import ServerProcess  # noqa: E402
from tests.ui.scenario import (CounterFeeder, create_policy, open_host_page,  # noqa: E402
                               populate_host, uniq)


def median_ms(work, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        work()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def agent_read_ms(count: int) -> float | None:
    if os.geteuid() != 0:
        return None
    from netqos.agent import counters
    from tests.harness.lab import Lab
    from tests.harness.netns import sh
    from netqos.wire import PortQos
    from netqos.agent.tc.runner import Runner

    with Lab(prefix=f"nq-{os.getpid()}-bui-") as lab:
        rows = lab.many_taps(count)
        sh("tc", "-n", lab.host, "-batch", "-", input="".join(
            f"qdisc add dev {dev} root handle 4e51: tbf rate 10mbit burst 15k latency 20ms\n"
            for _, dev, _ in rows))
        ports = [PortQos(port, 1, mac, device=dev) for port, dev, mac in rows]
        runner = Runner(lab.host)
        assert len(counters.read(runner, ports)) == count
        return median_ms(lambda: counters.read(runner, ports))


def measure(url: str, browser: Browser, count: int) -> dict:
    admin = httpx.Client(base_url=url, timeout=60)
    host = uniq("bench")
    policy = create_policy(admin, uniq("p"), 10_000)
    ports = populate_host(admin, host, count, policy["id"])
    feeder = CounterFeeder(url, host, ports, 10_000_000)
    t0 = time.time()
    post_ms = median_ms(lambda: admin.post(f"/v2.0/netqos/hosts/{host}/counters", json={
        "counters": {"at": time.time(), "ports": feeder.entries(time.time() - t0)}}
    ).raise_for_status())
    list_ms = median_ms(lambda: admin.get("/v2.0/ports", params={"binding:host_id": host}),
                        runs=3)
    renders = []
    with feeder:
        while feeder.posts < 2:
            time.sleep(0.1)
        with httpx.stream("GET", f"{url}/v2.0/netqos/live/stream", params={"host": host},
                          timeout=10) as r:
            tick = _tick_with_points(r)
        page = browser.page()
        for _ in range(3):
            renders.append(open_host_page(page, url, host))
            page.goto("about:blank")
        page.close()
    return {"post": post_ms, "list": list_ms, "tick": len(tick), "render": statistics.median(renders)}


def _tick_with_points(response) -> str:
    """The first tick (not the window) that carries new points of the ports."""
    event = None
    for line in response.iter_lines():
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event == "tick" and len(line) > 100:
            return line
    return ""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ports", default="100,1000,2000")
    counts = [int(n) for n in ap.parse_args().ports.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        srv = ServerProcess(f"sqlite:///{tmp}/netqos.sqlite", log_dir=tmp).start()
        try:
            with Browser(Path(tmp) / "profile") as browser:
                for count in counts:
                    m = measure(srv.url, browser, count)
                    m["read"] = agent_read_ms(count)
                    rows.append((count, m))
                if browser.problems:
                    print("browser console errors:", *browser.problems, sep="\n")
        finally:
            srv.stop()
    print("| ports on the host | agent read (ms) | counters POST (ms) | SSE tick (bytes) "
          "| ports list (ms) | host page render (ms) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for count, m in rows:
        read = "n/a (not root)" if m["read"] is None else f"{m['read']:.0f}"
        print(f"| {count} | {read} | {m['post']:.0f} | {m['tick']} | {m['list']:.0f} "
              f"| {m['render']:.0f} |")


if __name__ == "__main__":
    main()
