"""os-ken's OpenFlow 1.3 parser against the hand encoder (ovs/openflow.py): the same bytes
for 3000 METER_MODs? how fast to encode, and to parse a METER_CONFIG reply of 1000 meters?
    .venv/bin/python -m pip install --target /tmp/osken os-ken==4.2.2
    .venv/bin/python bench/libraries/openflow_encode.py /tmp/osken
"""
# ruff: noqa: E402   (imports after choosing the source tree on sys.path)

import sys
import time

root = __import__("pathlib").Path(__file__).resolve().parents[2]
sys.path.insert(0, str(root / "src"))
sys.path.insert(1, str(root / "bench" / "libraries"))
from osken_meter import encoder

t0 = time.perf_counter()
osken = encoder(sys.argv[1])
t_import = time.perf_counter() - t0
print("eventlet imported by os-ken:", "eventlet" in sys.modules)
from os_ken.ofproto.ofproto_protocol import ProtocolDesc

from netqos.agent.ovs.openflow import MeterOp, parse_meter_configs

print("os-ken import", f"{t_import * 1000:.0f} ms")
dp = ProtocolDesc(4)


ops = [
    MeterOp(c, i, u, 20000 + i, 8000)
    for i in range(1, 1001)
    for c, u in (("add", "kbps"), ("mod", "pktps"), ("del", "kbps"))
]
assert all(osken(op, 7) == op.encode(7) for op in ops), "bytes differ"
print("byte-identical METER_MODs:", len(ops))
for name, f in (
    ("hand encoder", lambda: [op.encode(0) for op in ops]),
    ("os-ken OFPMeterMod", lambda: [osken(op, 0) for op in ops]),
):
    best = min((lambda t: (f(), time.perf_counter() - t)[1])(time.perf_counter()) for _ in range(5))
    print(
        f"| {name} | {len(ops)} messages | {best * 1000:.1f} ms | "
        f"{best * 1e6 / len(ops):.1f} us/msg |"
    )
# parsing a METER_CONFIG multipart body
body = b"".join(osken(MeterOp("add", i, "kbps", 1000 + i, 400), 0)[8:] for i in range(1, 1001))
import struct

cfg = b"".join(
    struct.pack("!HHI", 24, 1 | 4 | 8, i) + struct.pack("!HHII4x", 1, 16, 1000 + i, 400)
    for i in range(1, 1001)
)
t = time.perf_counter()
hand = parse_meter_configs(cfg)
th = time.perf_counter() - t
t = time.perf_counter()
mp = struct.pack("!BBHI", 4, 19, 16 + len(cfg), 1) + struct.pack("!HH4x", 10, 0) + cfg
from os_ken.ofproto import ofproto_parser

msg = ofproto_parser.msg(dp, 4, 19, 16 + len(cfg), 1, mp)
to = time.perf_counter() - t
assert {m.meter_id: (m.bands[0].rate, m.bands[0].burst_size) for m in msg.body} == {
    k: (v.rate, v.burst) for k, v in hand.items()
}
print(f"| parse 1000 meter configs | hand {th * 1000:.1f} ms | os-ken {to * 1000:.1f} ms |")
