"""API kbit/s -> a VF's Mbit/s: 0 stays 0 (no limit), anything in (0, 1000) kbit/s becomes
1 Mbit/s (never "no limit" for a tiny limit), the rest rounds half up (1499 -> 1,
1500 -> 2)."""
from __future__ import annotations


def kbps_to_vf_mbps(kbps: int) -> int:
    if kbps <= 0:
        return 0
    if kbps < 1000:
        return 1
    return (kbps + 500) // 1000
