"""Cost of the L3 backend on a router with many floating IPs; prints Markdown tables.

A router namespace (qrouter-<id>, qg- device) with a gateway limit and N floating IPs
(half IPv4, half IPv6), each limited in both directions. Measured, median of RUNS:
- apply: from nothing (egress tree, IFB, ingress tree, redirect, 2 classes + 2 filters
  per floating IP) in one `ip -batch` and one `tc -batch`;
- resync: observe + plan of the converged router (nothing to change);
- change: every floating IP's rate changes (a policy's rule updated) -> `class replace`;
- change one: one floating IP's rate changes;
- remove: every limit goes (qdiscs, IFB, redirect).
No traffic is measured. Run as root: .venv/bin/python bench/l3.py [N]
"""
from __future__ import annotations

import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # tests.harness: the labs

from netqos.agent.backends.l3 import L3Backend  # noqa: E402
from tests.harness.l3lab import RouterLab  # noqa: E402
from netqos.agent.l3.model import FipQos, RouterQos  # noqa: E402
from netqos.agent.tc.runner import Runner  # noqa: E402

RUNS = 3
RESULTS = Path(__file__).parent / "results" / "l3.md"


def bw(kbps: int) -> tuple[dict, ...]:
    return tuple({"type": "bandwidth_limit", "max_kbps": kbps, "max_burst_kbps": 0,
                  "direction": d} for d in ("egress", "ingress"))


def fip_address(n: int) -> str:
    if n % 2 == 0:   # IPv4 from 198.18.0.0/15 (not the gateway's /24)
        return f"198.19.{n // 2 // 250}.{n // 2 % 250 + 1}"
    return f"fd00:198:18:c8::{n + 0x100:x}"


def router(lab: RouterLab, fips: int, kbps: int, one: int | None = None) -> RouterQos:
    return RouterQos(lab.router_id, 1, lab.gw_port_id, lab.qg, lab.router,
                     ("198.18.200.2", "fd00:198:18:c8::2"), "gw", bw(100000),
                     tuple(FipQos(f"fip-{n:04d}", fip_address(n),
                                  rules=bw(kbps + (1000 if n == one else 0)))
                           for n in range(fips)))


class CountingRunner(Runner):
    """Counts the batches and lines each apply sends."""
    batches: list[tuple[str, int]] = []

    def batch(self, tool, lines):
        if lines:
            CountingRunner.batches.append((tool, len(lines)))
        return super().batch(tool, lines)


def timed(backend: L3Backend, desired: RouterQos) -> dict:
    CountingRunner.batches.clear()
    t0 = time.perf_counter()
    actual = backend.observe([desired])
    t1 = time.perf_counter()
    changes = backend.plan([desired], actual)
    t2 = time.perf_counter()
    result = backend.apply(changes)
    t3 = time.perf_counter()
    assert not result.errors, result.errors
    return {"observe": t1 - t0, "plan": t2 - t1, "apply": t3 - t2, "total": t3 - t0,
            "changes": len(changes),
            "tc lines": sum(n for tool, n in CountingRunner.batches if tool == "tc"),
            "batches": ", ".join(f"{tool} ({n} lines)" for tool, n in CountingRunner.batches)
            or "-"}


def one_round(fips: int) -> dict[str, dict]:
    with RouterLab(str(uuid.uuid4()), str(uuid.uuid4()),
                   ("198.18.200.2/24", "fd00:198:18:c8::2/64")) as lab:
        backend = L3Backend(runner_factory=CountingRunner)
        empty = RouterQos(lab.router_id, 1, lab.gw_port_id, lab.qg, lab.router)
        out = {"apply": timed(backend, router(lab, fips, 20000)),
               "resync (no change)": timed(backend, router(lab, fips, 20000)),
               "change all rates": timed(backend, router(lab, fips, 30000)),
               "change one rate": timed(backend, router(lab, fips, 30000, one=7)),
               "remove all": timed(backend, empty)}
        assert timed(backend, empty)["changes"] == 0
        return out


def table(rounds: list[dict[str, dict]], fips: int) -> str:
    lines = [f"### L3 backend: one router, gateway + {fips} floating IPs "
             f"(half IPv6), both directions (median of {len(rounds)})", "",
             "| step | changes | tc lines | batches, in order | observe ms | plan ms | apply ms "
             "| total ms | per FIP µs |",
             "|---|---:|---:|---|---:|---:|---:|---:|---:|"]
    for step in rounds[0]:
        def med(key):
            return statistics.median(r[step][key] for r in rounds)
        lines.append(f"| {step} | {rounds[0][step]['changes']} | {rounds[0][step]['tc lines']} "
                     f"| {rounds[0][step]['batches']} | {med('observe') * 1e3:.1f} "
                     f"| {med('plan') * 1e3:.1f} | {med('apply') * 1e3:.1f} "
                     f"| {med('total') * 1e3:.1f} | {med('total') / fips * 1e6:.0f} |")
    return "\n".join(lines)


def main() -> None:
    fips = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    rounds = [one_round(fips) for _ in range(RUNS)]
    text = table(rounds, fips)
    print(text)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(text + "\n")


if __name__ == "__main__":
    main()
