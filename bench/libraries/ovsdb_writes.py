"""The OVSDB phase of the OVS apply bench: 500 ports, a linux-htb QoS + queue and two meter
records per port in one transaction; every rate changed in place (6 times: min and
median); all removed. Ports are patch ports: the rows matter here, not the devices. The
source tree to measure is argv[1] (default: this checkout's src).

Run from the repository root as root, alternating trees, e.g.
    git worktree add /tmp/before <commit>       # the other side of the comparison
    for i in 1 2 3 4 5; do for t in /tmp/before/src src; do
        .venv/bin/python bench/libraries/ovsdb_writes.py $t; done; done
Each run prints one JSON line of milliseconds; bench/results/libraries.md has the figures.
"""
# ruff: noqa: E402   (imports after choosing the source tree on sys.path)

import sys
import time
import json

repo = str(__import__("pathlib").Path(__file__).resolve().parents[2])
src = str(__import__("pathlib").Path(sys.argv[1]).resolve()) if len(sys.argv) > 1 else repo + "/src"
sys.path.insert(0, src)
sys.path.insert(1, repo)
import netqos

assert netqos.__file__.startswith(src)
from tests.harness.ovs import OvsServer
from netqos.agent.ovs.ovsdb import Op, Ovsdb

N = 500
with OvsServer() as s:
    s.vsctl("add-br", "nqmb", "--", "set", "bridge", "nqmb", f"datapath_type={s.datapath_type}")
    args = []
    for i in range(N):
        args += [
            "--",
            "add-port",
            "nqmb",
            f"nqp{i}",
            "--",
            "set",
            "interface",
            f"nqp{i}",
            "type=patch",
            f"options:peer=nqp{i}x",
            f"external_ids:iface-id=port-{i:04d}",
        ]
    s.vsctl(*args, timeout=120)
    db = Ovsdb(s.db, "nqmb")
    deadline = time.time() + 60
    while len(db.snapshot().port_names) < N + 1 and time.time() < deadline:
        time.sleep(0.2)

    def ops_create(rate):
        out = []
        for i in range(N):
            pid = f"port-{i:04d}"
            out += [
                Op("register", (10000 + 2 * i, f"{pid}/egress")),
                Op("register", (10001 + 2 * i, f"{pid}/pps-ingress")),
                Op("qos", (f"nqp{i}", pid, rate, {0: (rate, None, rate // 10, pid)}, False, None)),
            ]
        return out

    res = {}
    t = time.perf_counter()
    db.transact(ops_create(20_000_000))
    res["create"] = time.perf_counter() - t
    snap = db.snapshot()
    assert len(snap.qos) == N and len(snap.registry) == 2 * N
    changes = []
    for rep in range(6):
        rate = 30_000_000 + rep * 1_000_000
        change = [
            Op(
                "qos",
                (
                    f"nqp{i}",
                    row.port_id,
                    rate,
                    {0: (rate, None, rate // 10, row.port_id)},
                    False,
                    row.uuid,
                ),
            )
            for i, row in enumerate(sorted(snap.qos.values(), key=lambda r: r.port_id))
        ]
        t = time.perf_counter()
        db.transact(change)
        changes.append(time.perf_counter() - t)
        snap = db.snapshot()
        assert all(r.max_rate_bps == rate for r in snap.qos.values())
    import statistics

    res["change min"] = min(changes)
    res["change median"] = statistics.median(changes)
    remove = [Op("unqos", (row.uuid, row.attached[0])) for row in snap.qos.values()] + [
        Op("register", (m, None)) for m in snap.registry
    ]
    t = time.perf_counter()
    db.transact(remove)
    res["remove"] = time.perf_counter() - t
    snap = db.snapshot()
    assert not snap.qos and not snap.registry
    db.close()
print(json.dumps({k: round(v * 1000) for k, v in res.items()}))
