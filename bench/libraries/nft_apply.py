"""nftables apply and read of 1000 ports in both families (skeleton, a per-port chain with
a packet-rate limit and DSCP, its map element, an uplink class), by the tc backend's
Runner.nft / Runner.nft_ruleset of the source tree in argv[1]: `nft -f` text (this branch)
or libnftables JSON (branch libs-nft-json).

Run from the repository root as root, alternating trees, e.g.
    git worktree add /tmp/before <commit>       # the other side of the comparison
    for i in 1 2 3 4 5; do for t in /tmp/before/src src; do
        .venv/bin/python bench/libraries/nft_apply.py $t; done; done
Each run prints one JSON line of milliseconds; bench/results/libraries.md has the figures.
"""
# ruff: noqa: E402   (imports after choosing the source tree on sys.path)

import sys
import time
import json
import subprocess

src = sys.argv[1]
sys.path.insert(0, src)
from netqos.agent.tc import nft
from netqos.agent.tc.runner import Runner
from netqos.agent.tc.spec import PacketLimit

N = 1000
ns = f"nqlibs-micro-{src.count('/')}"
subprocess.run(["ip", "netns", "add", ns], check=True)
try:
    r = Runner(ns)

    def build(dscp, existed):
        out = []
        for fam in nft.FAMILIES:
            out += nft.skeleton(fam, "eth9")
            for i in range(N):
                ch = nft.chain_name(f"port{i:04d}", "egress")
                out += nft.write_chain(
                    fam, ch, nft.chain_rules(PacketLimit(1000, 10), dscp), existed
                )
                if not existed:
                    out += nft.set_element(fam, "from_vm", f"tap{i:04d}", ch, None)
                    out += nft.class_element(fam, f"tap{i:04d}", 16 + i, False)
        return [c if isinstance(c, str) else json.dumps(c, separators=(",", ":")) for c in out]

    res = {}
    for label, lines in (("create", build(46, False)), ("change", build(10, True))):
        t = time.perf_counter()
        err = r.nft(lines)
        res[label] = time.perf_counter() - t
        assert err is None, err[:300]
    t = time.perf_counter()
    doc = r.nft_ruleset()
    res["read"] = time.perf_counter() - t
    st = nft.parse_ruleset(doc)
    assert len(st["inet"].chains) == N and all(c.dscp4 == 10 for c in st["inet"].chains.values())
    res["lines"] = len(lines)
    print(json.dumps({k: round(v * 1000) if isinstance(v, float) else v for k, v in res.items()}))
finally:
    subprocess.run(["ip", "netns", "del", ns])
