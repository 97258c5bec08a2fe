"""Read what a router namespace holds now, in a fixed handful of reads whatever the number
of floating IPs: `ip -j link`, `tc -j qdisc` (all devices), the HTB classes of both trees
over netlink (exact rates and buckets), the u32 filters of both trees as text (see u32.py),
and the gateway device's ingress filter.
"""
from __future__ import annotations

import json
import dataclasses
from dataclasses import dataclass, field
from typing import Any

from netqos.agent.l3 import u32
from netqos.agent.l3.spec import IFB_NAME
from netqos.agent.tc import maths
from netqos.agent.tc.observe import netlink
from netqos.agent.tc.runner import Runner
from netqos.agent.tc.state import OUR_MAJOR, HtbClass


ROOT_HANDLE = f"{OUR_MAJOR:x}:"


@dataclass
class Tree:
    """An HTB root of ours on one device, with its classes and address filters."""

    device: str
    field: str                       # "src" (gateway device) | "dst" (IFB)
    present: bool = False
    default_minor: int | None = None
    hashed: bool = False
    classes: dict[int, HtbClass] = dataclasses.field(default_factory=dict)
    filters: list[u32.AddrFilter] = dataclasses.field(default_factory=list)
    foreign_root: str | None = None  # kind of a root qdisc that is not ours

    _index: dict[str, u32.AddrFilter] | None = dataclasses.field(default=None, repr=False,
                                                                 compare=False)

    def filter_of(self, address: str) -> u32.AddrFilter | None:
        """The first filter of the address (filters are read once, then only looked up)."""
        if self._index is None:
            self._index = {f.address: f for f in reversed(self.filters)}
        return self._index.get(address)


@dataclass
class RouterState:
    namespace: str
    device: str
    links: set[str] = field(default_factory=set)
    down: set[str] = field(default_factory=set)     # links administratively down
    egress: Tree | None = None
    ifb: Tree | None = None
    clsact: bool = False             # clsact qdisc on the gateway device
    redirect_to: str | None = None   # device its ingress filter redirects to

    @property
    def device_present(self) -> bool:
        return self.device in self.links


def observe(runner: Runner, device: str) -> RouterState:
    state = RouterState(runner.netns or "", device)
    state.egress, state.ifb = Tree(device, "src"), Tree(IFB_NAME, "dst")
    trees = {device: state.egress, IFB_NAME: state.ifb}
    links = _json(runner, "ip", "-j", "link", "show")
    for link in links:
        state.links.add(link["ifname"])
        if "UP" not in link.get("flags", ()):
            state.down.add(link["ifname"])
    if device not in state.links:
        return state
    leaves = _qdiscs(_json(runner, "tc", "-j", "qdisc", "show"), state, trees)
    ifindex = {link["ifname"]: link["ifindex"] for link in links}
    wanted = [t for t in trees.values() if t.present and t.device in ifindex]
    if wanted:
        with netlink(runner.netns) as sock:
            for tree in wanted:
                _classes(sock, tree, ifindex[tree.device], leaves)
    for tree in wanted:
        tree.hashed, tree.filters = u32.parse_show(
            runner.tc_text("filter", "show", "dev", tree.device, "parent", f"{ROOT_HANDLE}"),
            tree.field)
    if state.clsact:
        for f in _json(runner, "tc", "-j", "filter", "show", "dev", device, "ingress"):
            for action in f.get("options", {}).get("actions", []):
                if action.get("kind") == "mirred" and action.get("mirred_action") == "redirect":
                    state.redirect_to = action.get("to_dev")
    return state


def _json(runner: Runner, tool: str, *args: str) -> list[Any]:
    """Untyped JSON objects, as Runner.tc_json."""
    proc = runner.run(tool, *args)
    if proc.returncode != 0 or not proc.stdout.strip():
        return []
    objects: list[Any] = json.loads(proc.stdout)
    return objects


def _handle(text: str | None) -> tuple[int, int]:
    """"4e51:" -> (0x4e51, 0); "4e51:10" -> (0x4e51, 0x10)."""
    major, _, minor = (text or "0:").partition(":")
    return int(major or "0", 16), int(minor or "0", 16)


def _qdiscs(qdiscs: list[Any], state: RouterState,
            trees: dict[str, Tree]) -> dict[tuple[str, int], int]:
    """Roots and clsact of both devices; the byte limits of our bfifo leaves."""
    leaves: dict[tuple[str, int], int] = {}
    for q in qdiscs:
        dev, kind, options = q.get("dev"), q.get("kind"), q.get("options") or {}
        if dev not in trees:
            continue
        tree, (major, _) = trees[dev], _handle(q.get("handle"))
        if kind == "clsact":
            state.clsact = state.clsact or dev == state.device
        elif q.get("root"):
            tree.present = kind == "htb" and major == OUR_MAJOR
            if tree.present:
                tree.default_minor = int(str(options.get("default", "0")), 16)
            elif kind not in ("noqueue", "noop", "pfifo_fast", "mq", "fq_codel", None):
                tree.foreign_root = kind
        elif kind == "bfifo" and "limit" in options:
            parent_major, parent_minor = _handle(q.get("parent"))
            if parent_major == OUR_MAJOR:
                leaves[(dev, parent_minor)] = options["limit"]
    return leaves


def _classes(sock: Any, tree: Tree, ifindex: int,
             leaves: dict[tuple[str, int], int]) -> None:
    """HTB classes over netlink: exact rates and buckets (the text rounds them)."""
    for msg in sock.get_classes(index=ifindex):
        if msg.get_attr("TCA_KIND") != "htb" or msg["handle"] >> 16 != OUR_MAJOR:
            continue
        options = msg.get_attr("TCA_OPTIONS")
        attrs = dict(options["attrs"]) if options else {}
        parms = attrs.get("TCA_HTB_PARMS")
        if not parms:
            continue
        rate = attrs.get("TCA_HTB_RATE64") or parms["rate"]
        ceil = attrs.get("TCA_HTB_CEIL64") or parms["ceil"]
        minor = msg["handle"] & 0xFFFF
        tree.classes[minor] = HtbClass(
            minor=minor, parent_minor=None, rate_bytes_per_s=rate, ceil_bytes_per_s=ceil,
            burst_bytes=maths.tbf_buffer_bytes(parms["buffer"], rate),
            queue_bytes=leaves.get((tree.device, minor)))
