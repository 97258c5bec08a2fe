"""The meters phase of the OVS apply (1000 METER_MODs and a barrier on one connection:
add, then mod, then del), hand encoder vs os-ken's OFPMeterMod (argv[1] = hand|osken);
includes the import of the encoder. os-ken is not a dependency: install it aside,
    .venv/bin/python -m pip install --target /tmp/osken os-ken==4.2.2
    .venv/bin/python bench/libraries/meter_mods.py hand
    .venv/bin/python bench/libraries/meter_mods.py osken /tmp/osken
"""
# ruff: noqa: E402   (imports after choosing the source tree on sys.path)

import sys
import time
import json

t0 = time.perf_counter()
mode = sys.argv[1]
repo = str(__import__("pathlib").Path(__file__).resolve().parents[2])
sys.path.insert(0, repo + "/src")
sys.path.insert(1, repo)
from netqos.agent.ovs.openflow import MeterOp, Switch

if mode == "osken":
    sys.path.insert(2, repo + "/bench/libraries")
    from osken_meter import encoder

    MeterOp.encode = encoder(sys.argv[2])
t_import = time.perf_counter() - t0
from tests.harness.ovs import OvsServer

res = {"import": t_import}
with OvsServer() as s:
    s.vsctl("add-br", "nqmm", "--", "set", "bridge", "nqmm", f"datapath_type={s.datapath_type}")
    sw = Switch("nqmm", s.rundir)
    deadline = time.time() + 120   # the socket comes, and may come again, as the bridge is made
    while True:
        try:
            sw.meter_features()
            break
        except (OSError, RuntimeError):   # OpenFlowError: no socket yet
            if time.time() > deadline:
                raise
            time.sleep(0.2)
    for cmd in ("add", "mod", "del"):
        ops = [
            MeterOp(cmd, 1 + i, "kbps" if i % 2 else "pktps", 20000 + i, 8000) for i in range(1000)
        ]
        t = time.perf_counter()
        errors = sw.meter_ops(ops)
        res[cmd] = time.perf_counter() - t
        assert not errors, list(errors.items())[:3]
        n = len(sw.read(0, 0)[0])
        assert n == (0 if cmd == "del" else 1000), n
print(json.dumps({k: round(v * 1000, 1) for k, v in res.items()}))
