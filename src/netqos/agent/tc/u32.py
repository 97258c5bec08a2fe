"""Reading the u32 MAC filters an older netqos classified the IFB and the uplink with.

netqos classifies by device now (an eBPF map, tc/bpf.py; nftables for the uplink); the
planner deletes an older layout's filters, which observe finds with parse_show:
    handle 2:  u32 divisor 256                     the hash table, one bucket per last byte
    ht 800::   match all, hashkey = source MAC's last byte -> link 2:
    handle 2:<bucket>:<minor>  match ether src MAC -> classid OUR:<minor>

pyroute2 0.9 misreads u32 keys and `tc -j` keeps only the last of repeated "match" keys, so
filters are read from the text of `tc filter show` (the L3 role reads its own that way).
"""
from __future__ import annotations

import re
from typing import Any

from netqos.agent.tc.state import OUR_MAJOR, MacFilter

HASH_TABLE = 2
# The lines of `tc filter show` both readers parse (this one and l3/u32.py).
FH_RE = re.compile(r"\bfh (\S+)")
FLOWID_RE = re.compile(r"\bflowid (\S+)")
MATCH_KEY_RE = re.compile(r"^\s*match ([0-9a-f]{8})/([0-9a-f]{8}) at (-?\d+)")


def same_handle(a: str, b: str) -> bool:
    """tc prints bucket 0 as nothing ("2::10"): compare handles as numbers."""
    def parts(h: str) -> tuple[int, ...]:
        return tuple(int(x or "0", 16) for x in h.split(":"))
    return parts(a) == parts(b)


def _mac_from_keys(keys: dict[int, tuple[int, int]]) -> str | None:
    """Rebuild the MAC from the keys `match ether src` writes: u32 at -8, u16 (high) at -4."""
    if -8 not in keys or -4 not in keys:
        return None
    (v1, m1), (v2, m2) = keys[-8], keys[-4]
    if m1 != 0xFFFFFFFF or m2 != 0xFFFF0000:
        return None
    raw = v1.to_bytes(4, "big") + (v2 >> 16).to_bytes(2, "big")
    return ":".join(f"{b:02x}" for b in raw)


def parse_show(text: str) -> tuple[bool, list[MacFilter]]:
    """(hash table and link filter present, MAC filters) from `tc filter show dev X`."""
    filters: list[MacFilter] = []
    handles: set[str] = set()
    current: dict[str, Any] | None = None

    def flush() -> None:
        if current and current["flowid"]:
            mac = _mac_from_keys(current["keys"])
            major, _, minor = current["flowid"].partition(":")
            if mac and int(major, 16) == OUR_MAJOR:
                filters.append(MacFilter(current["fh"], mac, int(minor or "0", 16)))

    for line in text.splitlines():
        if line.startswith("filter "):
            flush()
            fh, flowid = FH_RE.search(line), FLOWID_RE.search(line)
            current = {"fh": fh.group(1) if fh else "", "keys": {},
                       "flowid": flowid.group(1) if flowid else None}
            if fh:
                handles.add(fh.group(1) + (" link" if " link " in line else ""))
        elif current is not None and (m := MATCH_KEY_RE.match(line)):
            current["keys"][int(m.group(3))] = (int(m.group(1), 16), int(m.group(2), 16))
    flush()
    hashed = f"{HASH_TABLE:x}:" in handles and "800::800 link" in handles
    return hashed, filters
