"""desired - actual = changes, for one router namespace. Pure: touches nothing.

Each Change carries a Work: the router's namespace, its commands (tool, phase, line) and
what netqos will have written once applied (`memo`, to tell drift from an update).
Phases order one batch: the redirect stops before the IFB's tree goes, filters go before
the classes they feed, classes exist before their filters, the redirect starts last.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from netqos.agent.backends.changes import Action, Change
from netqos.agent.l3 import u32
from netqos.agent.l3.observe import RouterState, Tree
from netqos.agent.l3.spec import GATEWAY, IFB_NAME, Flow, RouterSpec
from netqos.agent.tc import maths
from netqos.agent.tc.plan import Cmd, htb_class_line, leaf_line
from netqos.agent.tc.state import OUR_MAJOR

GATEWAY_MINOR = 0x2               # the gateway's class, on both devices
FIRST_FIP_MINOR = 0x10
LAST_FIP_MINOR = u32.GATEWAY_NODE - 1   # FIP filters use their minor as u32 node id
ROOT = f"{OUR_MAJOR:x}:"

P_IP_CREATE, P_UNREDIRECT, P_DEL_FILTER, P_DEL_CLASS, P_DEL_ROOT = 0, 10, 20, 30, 40
P_TREE, P_CLASS, P_LEAF, P_FILTER, P_REDIRECT, P_IP_DELETE = 50, 60, 70, 80, 100, 200


@dataclass(frozen=True)
class Work:
    namespace: str
    commands: tuple[Cmd, ...] = ()
    memo: tuple[tuple[tuple[str, str], object], ...] = ()


def _tc(phase: int, *lines: str) -> list[Cmd]:
    return [Cmd("tc", phase, ln) for ln in lines]


class RouterPlanner:
    """Plan one router namespace: `spec` None removes everything netqos put there."""

    def __init__(self, spec: RouterSpec | None, actual: RouterState,
                 memo: Mapping[tuple[str, str], object], port_id: str):
        self.spec = spec
        self.actual = actual
        self.memo = memo
        self.port_id = port_id
        self.ns = actual.namespace
        self.changes: list[Change] = []

    def _emit(self, action: Action, what: str, detail: str, commands: list[Cmd],
              key: tuple[str, str] | None = None, value: object = None) -> None:
        drift = key is not None and key in self.memo and self.memo[key] == value
        memo = ((key, value),) if key else ()
        self.changes.append(Change(self.port_id, action, what, detail, drift,
                                   Work(self.ns, tuple(commands), memo)))

    def plan(self) -> list[Change]:
        if not self.actual.device_present:
            if self.spec is not None and (self.spec.egress or self.spec.ingress):
                self.changes.append(Change(self.port_id, Action.SKIP,
                                           f"device {self.actual.device} absent in {self.ns}",
                                           "", False, Work(self.ns)))
            return self.changes
        egress = self.spec.egress if self.spec else ()
        ingress = self.spec.ingress if self.spec else ()
        assert self.actual.egress is not None   # observe() reads it when the device is here
        self._tree(self.actual.egress, egress, "egress")
        self._ingress(ingress)
        return self.changes

    # ---- one HTB tree: a class per flow, u32 filters by address ----
    def _tree(self, tree: Tree, flows: tuple[Flow, ...], direction: str,
              fresh: bool = False) -> None:
        dev = tree.device
        if not flows:
            if tree.present:
                self._emit(Action.DELETE, f"{direction} tree on {dev}", "no limit left",
                           _tc(P_DEL_ROOT, f"qdisc del dev {dev} root handle {ROOT}"))
            return
        if fresh:
            tree = Tree(dev, tree.field)
        cmds: list[Cmd] = []
        if not tree.present or tree.default_minor != 0:
            cmds += _tc(P_TREE, f"qdisc replace dev {dev} root handle {ROOT} htb default 0")
        if not tree.present or not tree.hashed:
            cmds += _tc(P_TREE, *u32.skeleton(dev, tree.field))
        if cmds:
            before = tree.foreign_root or ("ours, incomplete" if tree.present else "none")
            self._emit(Action.CREATE, f"{direction} tree on {dev}", f"{before} -> htb {ROOT}",
                       cmds, (self.port_id, f"{direction}:tree"), True)
        minors = self._allocate(tree, flows)
        wanted = {a: (minors[f.key], node) for f in flows
                  for a, node in zip(f.addresses, _nodes(f, minors[f.key]))}
        for f in tree.filters:
            want = wanted.get(f.address)
            if want is None or want[0] != f.minor \
                    or not u32.same_handle(f.handle, u32.handle_of(f.address, want[1])):
                self._emit(Action.DELETE, f"{direction} filter on {dev}", f.address or f.handle,
                           _tc(P_DEL_FILTER, u32.delete(dev, f.handle)))
        keep = set(minors.values())
        for minor in sorted(tree.classes):
            if minor not in keep:
                self._emit(Action.DELETE, f"{direction} class {OUR_MAJOR:x}:{minor:x} on {dev}", "",
                           _tc(P_DEL_CLASS, f"class del dev {dev} classid "
                                            f"{OUR_MAJOR:x}:{minor:x}"))
        for flow in flows:
            self._flow(tree, flow, minors[flow.key], direction)

    @staticmethod
    def _allocate(tree: Tree, flows: tuple[Flow, ...]) -> dict[str, int]:
        """The gateway has its fixed class; a floating IP keeps the class its filter
        already points at (adoption after a restart), else takes the lowest free one."""
        minors: dict[str, int] = {}
        taken = {GATEWAY_MINOR}
        for flow in flows:
            if flow.key == GATEWAY:
                minors[flow.key] = GATEWAY_MINOR
                continue
            f = tree.filter_of(flow.addresses[0])
            if f and FIRST_FIP_MINOR <= f.minor <= LAST_FIP_MINOR and f.minor not in taken:
                minors[flow.key] = f.minor
                taken.add(f.minor)
        used = taken | set(tree.classes)
        free = (m for m in range(FIRST_FIP_MINOR, LAST_FIP_MINOR + 1) if m not in used)
        for flow in flows:
            if flow.key not in minors:
                minors[flow.key] = next(free)
        return minors

    def _flow(self, tree: Tree, flow: Flow, minor: int, direction: str) -> None:
        dev, s, have = tree.device, flow.shaper, tree.classes.get(minor)
        cmds: list[Cmd] = []
        if have is None or not (maths.close_enough(have.rate_bytes_per_s, s.rate_bytes_per_s)
                                and maths.close_enough(have.ceil_bytes_per_s,
                                                       s.rate_bytes_per_s)
                                and maths.close_enough(have.burst_bytes, s.burst_bytes)):
            cmds += _tc(P_CLASS, htb_class_line(dev, minor, ROOT, s.rate_bytes_per_s,
                                                s.rate_bytes_per_s, s.burst_bytes))
        if have is None or have.queue_bytes is None \
                or not maths.close_enough(have.queue_bytes, s.queue_bytes):
            cmds += _tc(P_LEAF, leaf_line(dev, minor, s.queue_bytes))
        for address, node in zip(flow.addresses, _nodes(flow, minor)):
            f = tree.filter_of(address)
            if f is None or f.minor != minor \
                    or not u32.same_handle(f.handle, u32.handle_of(address, node)):
                cmds += _tc(P_FILTER, u32.add(dev, tree.field, address, node, minor))
        if cmds:
            before = "new" if have is None else str(have.shaper())
            self._emit(Action.CREATE if have is None else Action.UPDATE,
                       f"{flow.label} {direction} class {OUR_MAJOR:x}:{minor:x} on {dev}",
                       f"{before} -> {s}", cmds, (self.port_id, f"{direction}:{flow.key}"), s)

    # ---- ingress: redirect to the namespace's IFB, shape there ----
    def _ingress(self, flows: tuple[Flow, ...]) -> None:
        dev, a = self.actual.device, self.actual
        ours = a.redirect_to == IFB_NAME
        if not flows:
            if a.clsact and ours:
                self._emit(Action.DELETE, f"ingress redirect of {dev}", f"-> {IFB_NAME}",
                           _tc(P_UNREDIRECT, f"qdisc del dev {dev} clsact"))
            if IFB_NAME in a.links:
                self._emit(Action.DELETE, f"IFB {IFB_NAME}", "no ingress limit left",
                           [Cmd("ip", P_IP_DELETE, f"link del {IFB_NAME}")])
            return
        exists = IFB_NAME in a.links
        if not exists or IFB_NAME in a.down:
            cmds = [] if exists else [Cmd("ip", P_IP_CREATE, f"link add {IFB_NAME} type ifb")]
            cmds.append(Cmd("ip", P_IP_CREATE, f"link set {IFB_NAME} up"))
            self._emit(Action.CREATE if not exists else Action.UPDATE, f"IFB {IFB_NAME}", "up",
                       cmds, (self.port_id, "ifb"), True)
        assert a.ifb is not None                # observe() reads it when the device is here
        self._tree(a.ifb, flows, "ingress", fresh=not exists)
        if not ours:
            cmds = [] if a.clsact else _tc(P_REDIRECT, f"qdisc replace dev {dev} clsact")
            cmds += _tc(P_REDIRECT, f"filter replace dev {dev} ingress prio 1 handle 800::800 "
                                    f"protocol all u32 match u32 0 0 action mirred egress "
                                    f"redirect dev {IFB_NAME}")
            self._emit(Action.CREATE, f"ingress redirect of {dev}", f"-> {IFB_NAME}", cmds,
                       (self.port_id, "redirect"), True)


def converged_memo(spec: RouterSpec) -> dict[tuple[str, str], object]:
    """What a router holds once it is at `spec`, in the planner's memo keys: recorded after
    every clean pass (also one that changed nothing, as after a restart), so that a later
    difference from it is drift, not an update."""
    memo: dict[tuple[str, str], object] = {}
    for direction, flows in (("egress", spec.egress), ("ingress", spec.ingress)):
        if flows:
            memo[(spec.port_id, f"{direction}:tree")] = True
        for flow in flows:
            memo[(spec.port_id, f"{direction}:{flow.key}")] = flow.shaper
    if spec.ingress:
        memo[(spec.port_id, "ifb")] = memo[(spec.port_id, "redirect")] = True
    return memo


def _nodes(flow: Flow, minor: int) -> list[int]:
    """u32 node ids of a flow's filters: unique within their bucket."""
    if flow.key == GATEWAY:
        return [u32.GATEWAY_NODE + i for i in range(len(flow.addresses))]
    return [minor] * len(flow.addresses)
