"""u32 classification by source MAC, hashed on the MAC's last byte.

Layout on a device's HTB root (prio 1):
    handle 2:  u32 divisor 256                     the hash table, one bucket per last byte
    ht 800::   match all, hashkey = source MAC's last byte -> link 2:
    handle 2:<bucket>:<minor>  match ether src MAC -> classid OUR:<minor>

u32 offsets are relative to the network header, so the Ethernet source address sits at -8..-3
(also behind an ingress redirect to an IFB: mirred pushes the MAC header back). Hashing keeps
the per-packet cost at a few key compares for thousands of ports instead of a linear walk.

pyroute2 0.9 misreads u32 keys and `tc -j` keeps only the last of repeated "match" keys, so
filters are read from the text of `tc filter show`.
"""
from __future__ import annotations

import re

from netqos.agent.tc.state import OUR_MAJOR, MacFilter

HASH_TABLE = 2
_FH = re.compile(r"\bfh (\S+)")
_FLOWID = re.compile(r"\bflowid (\S+)")
_MATCH = re.compile(r"^\s*match ([0-9a-f]{8})/([0-9a-f]{8}) at (-?\d+)")


def bucket_of(mac: str) -> int:
    return int(mac.split(":")[-1], 16)


def handle_of(mac: str, minor: int) -> str:
    return f"{HASH_TABLE:x}:{bucket_of(mac):x}:{minor:x}"


def same_handle(a: str, b: str) -> bool:
    """tc prints bucket 0 as nothing ("2::10"): compare handles as numbers."""
    def parts(h: str) -> tuple[int, ...]:
        return tuple(int(x or "0", 16) for x in h.split(":"))
    return parts(a) == parts(b)


def skeleton(dev: str) -> list[str]:
    """tc lines creating the hash table and the filter that hashes into it."""
    parent = f"{OUR_MAJOR:x}:"
    return [
        f"filter replace dev {dev} parent {parent} prio 1 handle {HASH_TABLE:x}: "
        f"protocol all u32 divisor 256",
        f"filter replace dev {dev} parent {parent} prio 1 handle 800::800 protocol all u32 "
        f"ht 800:: match u32 0 0 hashkey mask 0x00ff0000 at -4 link {HASH_TABLE:x}:",
    ]


def add_mac(dev: str, mac: str, minor: int) -> str:
    bucket = bucket_of(mac)
    return (f"filter replace dev {dev} parent {OUR_MAJOR:x}: prio 1 "
            f"handle {handle_of(mac, minor)} protocol all u32 ht {HASH_TABLE:x}:{bucket:x}: "
            f"match ether src {mac} classid {OUR_MAJOR:x}:{minor:x}")


def delete(dev: str, handle: str) -> str:
    return (f"filter del dev {dev} parent {OUR_MAJOR:x}: prio 1 handle {handle} "
            f"protocol all u32")


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
    current: dict | None = None

    def flush() -> None:
        if current and current["flowid"]:
            mac = _mac_from_keys(current["keys"])
            major, _, minor = current["flowid"].partition(":")
            if mac and int(major, 16) == OUR_MAJOR:
                filters.append(MacFilter(current["fh"], mac, int(minor or "0", 16)))

    for line in text.splitlines():
        if line.startswith("filter "):
            flush()
            fh, flowid = _FH.search(line), _FLOWID.search(line)
            current = {"fh": fh.group(1) if fh else "", "keys": {},
                       "flowid": flowid.group(1) if flowid else None}
            if fh:
                handles.add(fh.group(1) + (" link" if " link " in line else ""))
        elif current is not None and (m := _MATCH.match(line)):
            current["keys"][int(m.group(3))] = (int(m.group(1), 16), int(m.group(2), 16))
    flush()
    hashed = f"{HASH_TABLE:x}:" in handles and "800::800 link" in handles
    return hashed, filters
