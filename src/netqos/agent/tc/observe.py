"""Read the host's actual state in one dump per object kind, whatever the number of ports.

- links: one `ip -j link show`; qdiscs of every device: one `tc -j qdisc show` (pyroute2
  0.9 needs 0.8 s to decode each of these dumps for 2000 devices, and misses ingress_block);
- HTB classes of the IFB and the uplink: netlink (pyroute2), exact rates and buckets, which
  `tc -j` does not print for HTB;
- u32 filters of the IFB and the uplink: `tc filter show` text (see u32.py);
- the shared block's classifier and redirect: `tc -j filter show block`, and the classifier's
  map (tap ifindex -> classid) through bpf(2); nftables: one `nft -j list ruleset`.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pyroute2 import IPRoute, NetNS

from netqos.agent.tc import bpf, maths, nft, u32
from netqos.agent.tc.runner import Runner
from netqos.agent.tc.spec import Shaper
from netqos.agent.tc.state import (CLASSIFIER_PREF, OUR_BLOCK, OUR_MAJOR, REDIRECT_PREF,
                                   HostState, HtbClass, HtbTree)

TC_H_ROOT = 0xFFFFFFFF


# pyroute2 ships no type information: its sockets and messages are Any to mypy.
@contextmanager
def netlink(netns: str | None) -> Iterator[Any]:
    sock = NetNS(netns) if netns else IPRoute()
    try:
        yield sock
    finally:
        sock.close()


def _major(handle: int) -> int:
    return handle >> 16


def _tbf(options: dict[str, Any]) -> Shaper | None:
    """tc -j shows TBF's rate (bytes/s), burst (bytes) and latency (us) instead of its queue
    limit; tc computed latency = limit/rate - burst/rate, so limit = lat x rate + burst."""
    rate, burst, lat_us = options.get("rate"), options.get("burst"), options.get("lat")
    if not rate or burst is None or lat_us is None:
        return None
    return Shaper(rate, burst, lat_us * rate // 1_000_000 + burst)


def _htb_class(msg: Any) -> HtbClass | None:
    options = msg.get_attr("TCA_OPTIONS")
    attrs = dict(options["attrs"]) if options else {}
    parms = attrs.get("TCA_HTB_PARMS")
    if not parms:
        return None
    rate = attrs.get("TCA_HTB_RATE64") or parms["rate"]
    ceil = attrs.get("TCA_HTB_CEIL64") or parms["ceil"]
    parent = msg["parent"]
    return HtbClass(minor=msg["handle"] & 0xFFFF,
                    parent_minor=None if parent == TC_H_ROOT or _major(parent) != OUR_MAJOR
                    or parent & 0xFFFF == 0 else parent & 0xFFFF,
                    rate_bytes_per_s=rate, ceil_bytes_per_s=ceil,
                    burst_bytes=maths.tbf_buffer_bytes(parms["buffer"], rate))


def _handle(text: str | None) -> tuple[int, int]:
    """"4e51:" -> (0x4e51, 0); "4e51:10" -> (0x4e51, 0x10)."""
    major, _, minor = (text or "0:").partition(":")
    return int(major or "0", 16), int(minor or "0", 16)


def _read_qdiscs(runner: Runner, state: HostState,
                 trees: dict[str, HtbTree]) -> dict[tuple[str, int], int]:
    """One `tc -j qdisc show` for every device: roots, redirects, and the byte limits of our
    fifo leaves (pyroute2 takes 0.8 s to decode the same dump for 2000 devices)."""
    leaves: dict[tuple[str, int], int] = {}
    for q in runner.tc_json("qdisc", "show"):
        dev, kind, options = q.get("dev"), q.get("kind"), q.get("options") or {}
        major, _ = _handle(q.get("handle"))
        if kind == "clsact":
            if q.get("ingress_block") == OUR_BLOCK:
                state.redirected.add(dev)
        elif q.get("root") and dev in trees:
            tree = trees[dev]
            tree.present = kind == "htb" and major == OUR_MAJOR
            if tree.present:
                tree.default_minor = int(str(options.get("default", "0")), 16)
        elif q.get("root"):
            shaper = _tbf(options) if kind == "tbf" else None
            if shaper and major == OUR_MAJOR:
                state.root_tbf[dev] = shaper
            elif kind not in ("noqueue", "noop", "pfifo_fast", "mq", "fq_codel", None):
                state.foreign_root[dev] = kind
        elif dev in trees and kind == "bfifo" and "limit" in options:
            parent_major, parent_minor = _handle(q.get("parent"))
            if parent_major == OUR_MAJOR:
                leaves[(dev, parent_minor)] = options["limit"]
    return leaves


def _read_tree(sock: Any, runner: Runner, tree: HtbTree, ifindex: int | None,
               leaves: dict[tuple[str, int], int]) -> None:
    if ifindex is None or not tree.present:
        return
    for msg in sock.get_classes(index=ifindex):
        if msg.get_attr("TCA_KIND") == "htb" and _major(msg["handle"]) == OUR_MAJOR:
            cls = _htb_class(msg)
            if cls is not None:
                cls.queue_bytes = leaves.get((tree.device, cls.minor))
                tree.classes[cls.minor] = cls
    tree.hashed, tree.filters = u32.parse_show(
        runner.tc_text("filter", "show", "dev", tree.device, "parent", f"{OUR_MAJOR:x}:"))


def read_block(runner: Runner, state: HostState, with_map: bool = True) -> None:
    if not state.redirected:
        return   # a shared block lives only while a qdisc binds it
    for f in runner.tc_json("filter", "show", "block", str(OUR_BLOCK)):
        state.block_prefs.setdefault(f.get("pref", 0), f.get("kind", ""))
        options = f.get("options", {})
        if f.get("pref") == CLASSIFIER_PREF and options.get("direct-action"):
            state.classifier_prog = options.get("prog", {}).get("id")
        for action in options.get("actions", []):
            if action.get("kind") == "mirred" and action.get("mirred_action") == "redirect" \
                    and f.get("pref") == REDIRECT_PREF:
                state.block_filter_to = action.get("to_dev")
    if state.classifier_prog and with_map:
        with bpf.PortMap(state.classifier_prog) as ports:
            state.port_classes = {ifindex: classid & 0xFFFF
                                  for ifindex, classid in ports.items().items()
                                  if _major(classid) == OUR_MAJOR}


def observe(runner: Runner, uplink: str | None) -> HostState:
    state = HostState()
    if uplink:
        state.uplink = HtbTree(uplink)
    trees = {t.device: t for t in (state.ifb, state.uplink) if t is not None}
    for link in runner.ip_json("link", "show"):
        state.links[link["ifname"]] = link["ifindex"]
    leaves = _read_qdiscs(runner, state, trees)
    wanted = [t for t in trees.values() if t.present and t.device in state.links]
    if wanted:
        with netlink(runner.netns) as sock:
            for tree in wanted:
                _read_tree(sock, runner, tree, state.links[tree.device], leaves)
    read_block(runner, state)
    state.nft = nft.parse_ruleset(runner.nft_ruleset())
    return state
