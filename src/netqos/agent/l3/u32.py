"""u32 classification by IP address, hashed on the address's last byte.

Layout on the HTB root 4e51: of a device (prio 1, protocol all):
    handle 1:   u32 divisor 256          IPv4 table, a bucket per last byte
    handle 6:   u32 divisor 256          IPv6 table
    800::1      ethertype 0x0800 -> hash the address's last byte -> link 1:
    800::2      ethertype 0x86dd -> hash the address's last byte -> link 6:
    1:<bkt>:<node>  match ip  src|dst A/32  -> classid 4e51:<minor>
    6:<bkt>:<node>  match ip6 src|dst A/128 -> classid 4e51:<minor>

The ethertype sits at -2 from the network header: the Ethernet header is there on a
device's egress and on an IFB fed by an ingress redirect (mirred pushes it back). Node ids
are 12 bits: a floating IP's filter uses its class minor; the gateway's addresses use
GATEWAY_NODE + their index (the gateway has one class, maybe several addresses).
"""
from __future__ import annotations

import functools
import ipaddress
import re
from typing import Any
from dataclasses import dataclass

from netqos.agent.tc.state import OUR_MAJOR
from netqos.agent.tc.u32 import FH_RE, FLOWID_RE, MATCH_KEY_RE
from netqos.agent.tc.u32 import same_handle as same_handle   # l3/plan.py uses it from here

V4_TABLE, V6_TABLE = 0x1, 0x6
ETH_P_IP, ETH_P_IPV6 = 0x0800, 0x86DD
GATEWAY_NODE = 0x800
# byte offset of the address in the IP header: (IPv4, IPv6) for source and destination
OFFSETS = {"src": (12, 8), "dst": (16, 24)}
_HASH = re.compile(r"^\s*hash mask ([0-9a-f]{8}) at (-?\d+)")


@dataclass
class AddrFilter:
    handle: str       # "1:a:10"
    address: str      # normalised
    minor: int        # class it sends to


def table_of(address: str) -> int:
    return V4_TABLE if ipaddress.ip_address(address).version == 4 else V6_TABLE


def bucket_of(address: str) -> int:
    return ipaddress.ip_address(address).packed[-1]


@functools.lru_cache(maxsize=65536)   # parsing addresses dominated a 1000-filter plan
def handle_of(address: str, node: int) -> str:
    return f"{table_of(address):x}:{bucket_of(address):x}:{node:x}"


def _hash_offset(field: str, version: int) -> int:
    """Offset of the 32-bit word holding the address's last byte."""
    v4, v6 = OFFSETS[field]
    return v4 if version == 4 else v6 + 12


def skeleton(dev: str, field: str) -> list[str]:
    parent = f"{OUR_MAJOR:x}:"
    head = f"filter replace dev {dev} parent {parent} prio 1"
    return [
        f"{head} handle {V4_TABLE:x}: protocol all u32 divisor 256",
        f"{head} handle {V6_TABLE:x}: protocol all u32 divisor 256",
        f"{head} handle 800::1 protocol all u32 ht 800:: match u16 0x{ETH_P_IP:04x} 0xffff "
        f"at -2 hashkey mask 0x000000ff at {_hash_offset(field, 4)} link {V4_TABLE:x}:",
        f"{head} handle 800::2 protocol all u32 ht 800:: match u16 0x{ETH_P_IPV6:04x} 0xffff "
        f"at -2 hashkey mask 0x000000ff at {_hash_offset(field, 6)} link {V6_TABLE:x}:",
    ]


def add(dev: str, field: str, address: str, node: int, minor: int) -> str:
    version = ipaddress.ip_address(address).version
    match = f"ip {field} {address}/32" if version == 4 else f"ip6 {field} {address}/128"
    return (f"filter replace dev {dev} parent {OUR_MAJOR:x}: prio 1 "
            f"handle {handle_of(address, node)} protocol all u32 "
            f"ht {table_of(address):x}:{bucket_of(address):x}: match {match} "
            f"classid {OUR_MAJOR:x}:{minor:x}")


def delete(dev: str, handle: str) -> str:
    return f"filter del dev {dev} parent {OUR_MAJOR:x}: prio 1 handle {handle} protocol all u32"


def _address(table: int, field: str, keys: dict[int, tuple[int, int]]) -> str | None:
    v4, v6 = OFFSETS[field]
    if table == V4_TABLE:
        value, mask = keys.get(v4, (0, 0))
        return str(ipaddress.IPv4Address(value)) if mask == 0xFFFFFFFF and len(keys) == 1 \
            else None
    words = [keys.get(v6 + 4 * i, (0, 0)) for i in range(4)]
    if len(keys) != 4 or any(m != 0xFFFFFFFF for _, m in words):
        return None
    return str(ipaddress.IPv6Address(b"".join(v.to_bytes(4, "big") for v, _ in words)))


def parse_show(text: str, field: str) -> tuple[bool, list[AddrFilter]]:
    """(hash tables and both link filters present and hashing `field`, address filters)
    from `tc filter show dev X parent 4e51:`. A filter we cannot read comes back with
    address "" so that the plan deletes it."""
    filters: list[AddrFilter] = []
    tables: set[int] = set()
    links: dict[str, int] = {}         # link filter handle -> hash offset
    current: dict[str, Any] | None = None

    def flush() -> None:
        if not current:
            return
        fh = current["fh"]
        parts = fh.split(":")
        if current["link"] is not None:
            links[fh] = current["hash"]
        elif current["flowid"] and len(parts) == 3 and parts[2]:
            major, _, minor = current["flowid"].partition(":")
            table = int(parts[0] or "0", 16)
            address = _address(table, field, current["keys"]) or ""
            if int(major, 16) == OUR_MAJOR:
                filters.append(AddrFilter(fh, address, int(minor or "0", 16)))

    for line in text.splitlines():
        if line.startswith("filter "):
            flush()
            current = None
            fh, flowid = FH_RE.search(line), FLOWID_RE.search(line)
            if not fh:
                continue
            if " ht divisor 256" in line:
                tables.add(int(fh.group(1).split(":")[0], 16))
                continue
            current = {"fh": fh.group(1), "keys": {}, "hash": None,
                       "flowid": flowid.group(1) if flowid else None,
                       "link": re.search(r"\blink (\S+)", line)}
        elif current is not None and (m := MATCH_KEY_RE.match(line)):
            current["keys"][int(m.group(3))] = (int(m.group(1), 16), int(m.group(2), 16))
        elif current is not None and (m := _HASH.match(line)):
            current["hash"] = int(m.group(2))
    flush()
    hashed = {V4_TABLE, V6_TABLE} <= tables and any(
        same_handle(h, "800::1") and off == _hash_offset(field, 4) for h, off in links.items()
    ) and any(same_handle(h, "800::2") and off == _hash_offset(field, 6)
              for h, off in links.items())
    return hashed, filters
