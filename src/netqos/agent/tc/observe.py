"""Read the host's actual state in one dump per object kind.

netlink (pyroute2, in process): links, every qdisc of every device, the classes of the IFB
and the uplink. Subprocesses, a fixed handful whatever the number of ports: u32 filters of
the IFB and the uplink (`tc filter show`, text: see u32.py), clsact blocks of all devices
and the shared block's filter (`tc -j`: pyroute2 does not decode ingress_block), and the
whole nft ruleset (`nft -j`).
"""
from __future__ import annotations

from contextlib import contextmanager

from pyroute2 import IPRoute, NetNS

from netqos.agent.tc import maths, nft, u32
from netqos.agent.tc.runner import Runner
from netqos.agent.tc.spec import Shaper
from netqos.agent.tc.state import (IFB_NAME, OUR_BLOCK, OUR_MAJOR, HostState, HtbClass,
                                   HtbTree)

TC_H_ROOT = 0xFFFFFFFF
CLSACT_HANDLE = 0xFFFF0000


@contextmanager
def netlink(netns: str | None):
    sock = NetNS(netns) if netns else IPRoute()
    try:
        yield sock
    finally:
        sock.close()


def _major(handle: int) -> int:
    return handle >> 16


def _fifo_limit(options) -> int | None:
    """bfifo's options are a bare u32 limit; pyroute2 shows them as hex bytes."""
    if isinstance(options, str):
        raw = bytes.fromhex(options.replace(":", ""))
        return int.from_bytes(raw[:4], "little") if len(raw) >= 4 else None
    if isinstance(options, dict):
        return options.get("limit")
    return None


def _tbf(options) -> Shaper | None:
    attrs = dict(options["attrs"]) if options else {}
    parms = attrs.get("TCA_TBF_PARMS")
    if not parms:
        return None
    rate = attrs.get("TCA_TBF_RATE64") or parms["rate"]
    return Shaper(rate, maths.tbf_buffer_bytes(parms["buffer"], rate), parms["limit"])


def _htb_class(msg) -> HtbClass | None:
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


def _read_qdiscs(sock, state: HostState, names: dict[int, str],
                 trees: dict[str, HtbTree]) -> dict[tuple[str, int], int]:
    """Fill root qdiscs and redirects; return the byte limits of our fifo leaves."""
    leaves: dict[tuple[str, int], int] = {}
    for q in sock.get_qdiscs():
        dev, kind = names.get(q["index"]), q.get_attr("TCA_KIND")
        if dev is None:
            continue
        handle, parent = q["handle"], q["parent"]
        if kind == "clsact" and handle == CLSACT_HANDLE:
            pass   # pyroute2 0.9 does not decode ingress_block: see _read_redirects
        elif parent == TC_H_ROOT and dev in trees:
            tree = trees[dev]
            tree.present = kind == "htb" and _major(handle) == OUR_MAJOR
            if tree.present:
                init = dict(q.get_attr("TCA_OPTIONS")["attrs"]).get("TCA_HTB_INIT", {})
                tree.default_minor = init.get("defcls")
        elif parent == TC_H_ROOT:
            shaper = _tbf(q.get_attr("TCA_OPTIONS")) if kind == "tbf" else None
            if shaper and _major(handle) == OUR_MAJOR:
                state.root_tbf[dev] = shaper
            elif kind not in ("noqueue", "noop", "pfifo_fast", "mq", "fq_codel", None):
                state.foreign_root[dev] = kind
        elif dev in trees and kind == "bfifo" and _major(parent) == OUR_MAJOR:
            limit = _fifo_limit(q.get_attr("TCA_OPTIONS"))
            if limit is not None:
                leaves[(dev, parent & 0xFFFF)] = limit
    return leaves


def _read_tree(sock, runner: Runner, tree: HtbTree, ifindex: int | None,
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


def _read_redirects(runner: Runner, state: HostState) -> None:
    """Taps whose clsact binds our shared block: one `tc -j qdisc show` for all devices."""
    for q in runner.tc_json("qdisc", "show"):
        if q.get("kind") == "clsact" and q.get("ingress_block") == OUR_BLOCK:
            state.redirected.add(q["dev"])


def _read_block(runner: Runner, state: HostState) -> None:
    if not state.redirected:
        return   # a shared block lives only while a qdisc binds it
    for f in runner.tc_json("filter", "show", "block", str(OUR_BLOCK)):
        for action in f.get("options", {}).get("actions", []):
            if action.get("kind") == "mirred" and action.get("mirred_action") == "redirect":
                state.block_filter_to = action.get("to_dev")


def observe(runner: Runner, uplink: str | None) -> HostState:
    state = HostState()
    if uplink:
        state.uplink = HtbTree(uplink)
    trees = {t.device: t for t in (state.ifb, state.uplink) if t is not None}
    with netlink(runner.netns) as sock:
        for link in sock.get_links():
            state.links[link.get_attr("IFLA_IFNAME")] = link["index"]
        names = {i: n for n, i in state.links.items()}
        leaves = _read_qdiscs(sock, state, names, trees)
        for tree in trees.values():
            _read_tree(sock, runner, tree, state.links.get(tree.device), leaves)
    _read_redirects(runner, state)
    _read_block(runner, state)
    state.nft = nft.parse_ruleset(runner.nft_ruleset())
    return state


__all__ = ["observe", "IFB_NAME"]
