"""desired - actual = changes. Pure: reads the observed HostState, touches nothing.

Each Change carries a Payload: its commands (tool, phase, line) and what netqos will have
written once it is applied (`memo`), which is how a later plan tells drift (the kernel
differs from what we wrote) from an ordinary update (the desired state moved).

Phases order the commands of one batch: redirects stop before the classes they feed go,
classes exist before their filters, a tap is redirected only once its class exists.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from netqos.agent.backends.changes import HOST, Action, Change, leftover
from netqos.agent.tc import bpf, maths, nft
from netqos.agent.tc.spec import PacketLimit, PortSpec, Shaper
from netqos.agent.tc.state import (CLASSIFIER_PREF, FIRST_PORT_MINOR, IFB_NAME,
                                   LAST_PORT_MINOR, OUR_BLOCK, OUR_MAJOR, REDIRECT_PREF,
                                   UNMATCHED_MINOR, UPLINK_DEFAULT_MINOR, UPLINK_ROOT_MINOR,
                                   HostState, HtbTree, NftFamily, PortChain)

UNMATCHED_RATE_BYTES_PER_S = maths.kbit_to_bytes_per_s(1000)   # a tap not in the map yet

# phases: ip before tc before ip (link deletions), nft in its own transaction
P_IP_CREATE, P_UNREDIRECT, P_DEL_FILTER, P_DEL_CLASS, P_DEL_ROOT = 0, 10, 20, 30, 40
P_TREE, P_CLASS, P_LEAF, P_FILTER, P_ROOT, P_REDIRECT, P_BLOCK = 50, 60, 70, 80, 90, 100, 110
P_DEL_TREE, P_IP_DELETE = 120, 200
P_PIN, P_CLASSIFY = 5, 105   # bpf: pin before the tc batch, map entries after it
N_SKELETON, N_DEL_ELEM, N_DEL_CHAIN, N_CHAIN, N_ADD_ELEM, N_DEL_TABLE = 10, 20, 30, 40, 50, 90


@dataclass(frozen=True)
class Cmd:
    tool: str    # "ip" | "tc" | "nft"
    phase: int
    line: str


@dataclass(frozen=True)
class Payload:
    commands: tuple[Cmd, ...] = ()
    memo: tuple[tuple[tuple[str, str], object], ...] = ()   # ((port, aspect), value) pairs


def _tc(phase: int, *lines: str) -> list[Cmd]:
    return [Cmd("tc", phase, ln) for ln in lines]


def _nft(phase: int, lines: list[str]) -> list[Cmd]:
    return [Cmd("nft", phase, ln) for ln in lines]


def _bits(rate_bytes_per_s: int) -> str:
    return f"{rate_bytes_per_s * 8}bit"


def htb_class_line(dev: str, minor: int, parent: str, rate: int, ceil: int, burst: int) -> str:
    return (f"class replace dev {dev} parent {parent} classid {OUR_MAJOR:x}:{minor:x} htb "
            f"rate {_bits(rate)} ceil {_bits(ceil)} burst {burst} cburst {burst} "
            f"quantum {maths.htb_quantum_bytes(rate)}")


def leaf_line(dev: str, minor: int, queue_bytes: int) -> str:
    return (f"qdisc replace dev {dev} parent {OUR_MAJOR:x}:{minor:x} handle {minor:x}: "
            f"bfifo limit {queue_bytes}")


def tbf_line(dev: str, s: Shaper) -> str:
    return (f"qdisc replace dev {dev} root handle {OUR_MAJOR:x}: tbf rate "
            f"{_bits(s.rate_bytes_per_s)} burst {s.burst_bytes} limit {s.queue_bytes}")


# nft chain -> (port id, device, its rules, (map, packet limit, DSCP)): what a port's
# chain should hold
WantedChain = tuple[str, str, list[str], tuple[str, PacketLimit | None, int | None]]


class Planner:
    def __init__(self, desired: Sequence[PortSpec], actual: HostState,
                 memo: Mapping[tuple[str, str], object], uplink: tuple[str, int] | None,
                 capabilities: Mapping[str, bool],
                 classifier_pin: str = f"{bpf.PIN_ROOT}/classifier"):
        self.desired = sorted(desired, key=lambda s: s.port_id)
        self.actual = actual
        self.memo = memo
        self.uplink = uplink
        self.caps = capabilities
        self.classifier_pin = classifier_pin   # where the backend pins a new classifier
        self.uplink_minors: dict[str, int] = {}   # device -> its class on the uplink
        self.changes: list[Change] = []

    # ---- helpers ----
    def _emit(self, port: str, action: Action, what: str, detail: str, commands: list[Cmd],
              key: tuple[str, str] | None = None, value: object = None,
              differs: bool = True) -> None:
        drift = key is not None and differs and key in self.memo and self.memo[key] == value
        memo = ((key, value),) if key else ()
        self.changes.append(Change(port, action, what, detail, drift,
                                   Payload(tuple(commands), memo)))

    def _remembered(self, port: str, aspect: str) -> int | None:
        """The class minor we last gave `port` (so a lost map entry gets its class back)."""
        value = self.memo.get((port, aspect))
        return value[1] if isinstance(value, tuple) else value if isinstance(value, int) \
            else None

    def _skip(self, spec: PortSpec, reason: str) -> None:
        self.changes.append(Change(spec.port_id, Action.SKIP, reason, "", False, Payload()))

    @staticmethod
    def _action(before: object, after: object) -> Action:
        return Action.CREATE if before is None else Action.DELETE if after is None else Action.UPDATE

    # ---- entry ----
    def plan(self) -> list[Change]:
        present = [s for s in self.desired if s.device in self.actual.links]
        for spec in self.desired:
            if spec.device not in self.actual.links:
                self._skip(spec, f"device {spec.device} absent")
        egress = self._egress_ports(present)
        guaranteed = self._guaranteed_ports(present)
        for spec in present:
            self._ingress(spec)
        self._ifb(egress)
        self._uplink(guaranteed)
        self._stale_roots({s.device for s in present if s.ingress})
        self._nft(present)
        return self.changes

    # ---- ingress: TBF root of the tap ----
    def _ingress(self, spec: PortSpec) -> None:
        have = self.actual.root_tbf.get(spec.device)
        want = spec.ingress
        if want is None or want.same_as(have):
            return
        detail = f"{have or self.actual.foreign_root.get(spec.device, 'none')} -> {want}"
        self._emit(spec.port_id, self._action(have, want), f"ingress shaper on {spec.device}",
                   detail, _tc(P_ROOT, tbf_line(spec.device, want)),
                   (spec.port_id, "ingress"), want)

    def _stale_roots(self, wanted: set[str]) -> None:
        for dev, have in sorted(self.actual.root_tbf.items()):
            if dev not in wanted:
                self._emit(self._owner(dev), Action.DELETE, f"ingress shaper on {dev}", str(have),
                           _tc(P_DEL_ROOT, f"qdisc del dev {dev} root handle {OUR_MAJOR:x}:"))

    def _owner(self, dev: str) -> str:
        return next((s.port_id for s in self.desired if s.device == dev), leftover(dev))

    # ---- egress: shared IFB, one HTB class per port, chosen by the tap it came in on ----
    def _egress_ports(self, present: list[PortSpec]) -> list[PortSpec]:
        chosen = []
        for spec in present:
            if spec.egress is None:
                continue
            if not self.caps.get("ifb", True):
                self._skip(spec, "egress limit needs an IFB device, which this kernel lacks")
            elif not self.caps.get("bpf", True):
                self._skip(spec, "egress limit needs eBPF programs (bpf(2)), which this "
                                 "kernel refuses")
            else:
                chosen.append(spec)
        return chosen

    def _ifb(self, ports: list[PortSpec]) -> None:
        tree, exists = self.actual.ifb, IFB_NAME in self.actual.links
        if not ports:
            self._unredirect(set())
            if exists:
                self._emit(HOST, Action.DELETE, f"IFB {IFB_NAME}", "no port limits egress",
                           [Cmd("ip", P_IP_DELETE, f"link del {IFB_NAME}")])
            return
        if not exists or not tree.present or tree.default_minor != UNMATCHED_MINOR:
            self._ifb_skeleton(exists)
        ifindex = {s.port_id: self.actual.links[s.device] for s in ports}
        legacy = {f.mac: f.minor for f in tree.filters}   # an older layout's MAC filters
        minors = self._allocate(tree, ports, {
            s.port_id: self.actual.port_classes.get(
                ifindex[s.port_id], self._remembered(s.port_id, "classify") or legacy.get(s.mac))
            for s in ports})
        self._drop_stale_classes(tree, set(minors.values()))
        for spec in ports:
            self._egress_class(spec, minors[spec.port_id])
        self._unredirect({s.device for s in ports})
        self._redirect(ports)
        self._classify(ports, ifindex, minors)

    def _ifb_skeleton(self, exists: bool) -> None:
        cmds = [] if exists else [Cmd("ip", P_IP_CREATE, f"link add {IFB_NAME} type ifb")]
        cmds.append(Cmd("ip", P_IP_CREATE, f"link set {IFB_NAME} up"))
        cmds += _tc(P_TREE,
                    f"qdisc replace dev {IFB_NAME} root handle {OUR_MAJOR:x}: htb "
                    f"default {UNMATCHED_MINOR:x}",
                    htb_class_line(IFB_NAME, UNMATCHED_MINOR, f"{OUR_MAJOR:x}:",
                                   UNMATCHED_RATE_BYTES_PER_S, UNMATCHED_RATE_BYTES_PER_S,
                                   maths.default_burst_bytes(UNMATCHED_RATE_BYTES_PER_S)))
        self._emit(HOST, Action.CREATE, f"IFB {IFB_NAME} with HTB root", "", cmds,
                   (HOST, "ifb"), True)

    @staticmethod
    def _allocate(tree: HtbTree, ports: list[PortSpec],
                  current: Mapping[str, int | None]) -> dict[str, int]:
        """Keep the class a port is classified into now (`current`); else the lowest free."""
        minors: dict[str, int] = {}
        for spec in ports:
            have = current.get(spec.port_id)
            if have is not None and FIRST_PORT_MINOR <= have <= LAST_PORT_MINOR \
                    and have not in minors.values():
                minors[spec.port_id] = have
        used = set(minors.values()) | set(tree.classes)
        free = (m for m in range(FIRST_PORT_MINOR, LAST_PORT_MINOR + 1) if m not in used)
        for spec in ports:
            if spec.port_id not in minors:
                minors[spec.port_id] = next(free)
        return minors

    def _drop_stale_classes(self, tree: HtbTree, kept_minors: set[int]) -> None:
        """Classes no desired port uses (removed ports, crash leftovers), and the MAC
        filters an older netqos classified with."""
        dev = tree.device
        if tree.hashed or tree.filters:   # the whole prio: hash table, link and MAC filters
            self._emit(HOST, Action.DELETE, f"MAC classifier on {dev}",
                       f"{len(tree.filters)} MAC filter(s)",
                       _tc(P_DEL_FILTER, f"filter del dev {dev} parent {OUR_MAJOR:x}: prio 1"))
        for minor in sorted(tree.classes):
            if minor >= FIRST_PORT_MINOR and minor not in kept_minors:
                self._emit(leftover(f"{dev} {minor:x}"), Action.DELETE,
                           f"class {OUR_MAJOR:x}:{minor:x} "
                           f"on {dev}", "", _tc(P_DEL_CLASS, f"class del dev {dev} classid "
                                                             f"{OUR_MAJOR:x}:{minor:x}"))

    @staticmethod
    def _class_cmds(tree: HtbTree, minor: int, parent: str, rate: int, ceil: int,
                    burst: int, queue: int) -> tuple[list[Cmd], str]:
        have = tree.classes.get(minor)
        cmds: list[Cmd] = []
        if have is None or not (maths.same_rate(have.rate_bytes_per_s, rate)
                                and maths.same_rate(have.ceil_bytes_per_s, ceil)
                                and maths.close_enough(have.burst_bytes, burst)):
            cmds += _tc(P_CLASS, htb_class_line(tree.device, minor, parent, rate, ceil, burst))
        if have is None or have.queue_bytes is None \
                or not maths.close_enough(have.queue_bytes, queue):
            cmds += _tc(P_LEAF, leaf_line(tree.device, minor, queue))
        detail = "new" if have is None else (
            f"{have.shaper()} ceil {have.ceil_bytes_per_s * 8 // 1000}kbit")
        return cmds, detail

    def _egress_class(self, spec: PortSpec, minor: int) -> None:
        s = spec.egress
        if s is None:   # _egress_ports chose ports with an egress limit only
            return
        cmds, before = self._class_cmds(self.actual.ifb, minor, f"{OUR_MAJOR:x}:",
                                        s.rate_bytes_per_s, s.rate_bytes_per_s, s.burst_bytes,
                                        s.queue_bytes)
        if cmds:
            self._emit(spec.port_id, Action.CREATE if before == "new" else Action.UPDATE,
                       f"egress shaper {IFB_NAME} class {OUR_MAJOR:x}:{minor:x}",
                       f"{before} -> {s}", cmds, (spec.port_id, "egress"), s)

    def _unredirect(self, keep: set[str]) -> None:
        for dev in sorted(self.actual.redirected - keep):
            self._emit(self._owner(dev), Action.DELETE, f"egress redirect of {dev}", "",
                       _tc(P_UNREDIRECT, f"qdisc del dev {dev} clsact"))

    def _redirect(self, ports: list[PortSpec]) -> None:
        for spec in ports:
            if spec.device not in self.actual.redirected:
                self._emit(spec.port_id, Action.CREATE, f"egress redirect of {spec.device}",
                           f"-> {IFB_NAME}",
                           _tc(P_REDIRECT, f"qdisc replace dev {spec.device} ingress_block "
                                           f"{OUR_BLOCK} clsact"),
                           (spec.port_id, "redirect"), True)
        self._block_filter(CLASSIFIER_PREF, "bpf", self.actual.classifier_prog is None,
                           "port classifier", "tap ifindex -> class",
                           [Cmd("bpf", P_PIN, "pin")],
                           f"handle 1 bpf da object-pinned {self.classifier_pin}")
        self._block_filter(REDIRECT_PREF, "u32", self.actual.block_filter_to != IFB_NAME,
                           "redirect filter", f"-> {IFB_NAME}", [],
                           f"handle 800::800 u32 match u32 0 0 action mirred egress "
                           f"redirect dev {IFB_NAME}")

    def _block_filter(self, pref: int, kind: str, missing: bool, what: str, detail: str,
                      before: list[Cmd], spec: str) -> None:
        if not missing:
            return
        cmds = list(before)
        if self.actual.block_prefs.get(pref, kind) != kind:   # an older layout's filter
            cmds += _tc(P_DEL_FILTER, f"filter del block {OUR_BLOCK} protocol all pref {pref}")
        cmds += _tc(P_BLOCK, f"filter replace block {OUR_BLOCK} protocol all pref {pref} "
                             f"{spec}")
        self._emit(HOST, Action.CREATE, f"{what} of block {OUR_BLOCK}", detail, cmds,
                   (HOST, f"block-{pref}"), True)

    def _classify(self, ports: list[PortSpec], ifindex: dict[str, int],
                  minors: dict[str, int]) -> None:
        """The classifier map: each port's tap (by ifindex) -> its class on the IFB."""
        have = self.actual.port_classes
        for spec in ports:
            i, minor = ifindex[spec.port_id], minors[spec.port_id]
            if have.get(i) != minor:
                self._emit(spec.port_id, Action.CREATE if i not in have else Action.UPDATE,
                           f"classifier entry of {spec.device}",
                           f"ifindex {i} -> {OUR_MAJOR:x}:{minor:x}",
                           [Cmd("bpf", P_CLASSIFY, f"set {i} {(OUR_MAJOR << 16) | minor}")],
                           (spec.port_id, "classify"), (spec.device, minor))
        for i in sorted(set(have) - set(ifindex.values())):
            self._emit(leftover(f"ifindex {i}"), Action.DELETE, "classifier entry", f"ifindex {i}",
                       [Cmd("bpf", P_CLASSIFY, f"del {i}")])

    # ---- minimum bandwidth: HTB tree on the uplink, classes chosen by nftables ----
    def _guaranteed_ports(self, present: list[PortSpec]) -> list[PortSpec]:
        chosen = []
        for spec in present:
            if spec.min_egress_bytes_per_s is None:
                continue
            if self.uplink is None:
                self._skip(spec, "minimum bandwidth needs an uplink (uplink=(ifname, kbps))")
            else:
                chosen.append(spec)
        return chosen

    def _uplink(self, ports: list[PortSpec]) -> None:
        tree = self.actual.uplink
        if tree is None:
            return
        if not ports:
            if tree.present:
                self._emit(HOST, Action.DELETE, f"guarantee tree on {tree.device}", "",
                           _tc(P_DEL_TREE, f"qdisc del dev {tree.device} root"))
            return
        if tree.device not in self.actual.links:
            for spec in ports:
                self._skip(spec, f"uplink {tree.device} absent")
            return
        if self.uplink is None:   # _guaranteed_ports chose no port without an uplink
            return
        capacity = maths.kbit_to_bytes_per_s(self.uplink[1])
        # (each chosen port has a guarantee: `or 0` only tells mypy so)
        self._uplink_skeleton(tree, capacity,
                              sum(p.min_egress_bytes_per_s or 0 for p in ports))
        classified = self.actual.nft.get("inet")
        current = {p.port_id: (classified.uplink_class if classified else {}).get(
            p.device, self._remembered(p.port_id, "nft-inet-uplink")) for p in ports}
        minors = self._allocate(tree, ports, current)
        self._drop_stale_classes(tree, set(minors.values()))
        burst = maths.default_burst_bytes(capacity)
        for spec in ports:
            minor, rate = minors[spec.port_id], spec.min_egress_bytes_per_s or 0
            self.uplink_minors[spec.device] = minor
            cmds, before = self._class_cmds(tree, minor, f"{OUR_MAJOR:x}:{UPLINK_ROOT_MINOR:x}",
                                            rate, capacity, burst,
                                            maths.queue_limit_bytes(rate))
            if cmds:
                self._emit(spec.port_id, Action.CREATE if before == "new" else Action.UPDATE,
                           f"guarantee on {tree.device} class {OUR_MAJOR:x}:{minor:x}",
                           f"{before} -> min {rate * 8 // 1000}kbit", cmds,
                           (spec.port_id, "minimum"), rate)

    def _uplink_skeleton(self, tree: HtbTree, capacity: int, guaranteed: int) -> None:
        dev, root = tree.device, f"{OUR_MAJOR:x}:{UPLINK_ROOT_MINOR:x}"
        spare = max(capacity - guaranteed, capacity // 100)
        burst = maths.default_burst_bytes(capacity)
        cmds: list[Cmd] = []
        if not tree.present or tree.default_minor != UPLINK_DEFAULT_MINOR:
            cmds += _tc(P_TREE, f"qdisc replace dev {dev} root handle {OUR_MAJOR:x}: htb "
                                f"default {UPLINK_DEFAULT_MINOR:x}")
        want = {UPLINK_ROOT_MINOR: (f"{OUR_MAJOR:x}:", capacity, capacity),
                UPLINK_DEFAULT_MINOR: (root, spare, capacity)}
        for minor, (parent, rate, ceil) in want.items():
            have = tree.classes.get(minor) if tree.present else None
            if have is None or not (maths.same_rate(have.rate_bytes_per_s, rate)
                                    and maths.same_rate(have.ceil_bytes_per_s, ceil)):
                cmds += _tc(P_TREE, htb_class_line(dev, minor, parent, rate, ceil, burst))
        if not tree.present or UPLINK_DEFAULT_MINOR not in tree.classes \
                or tree.classes[UPLINK_DEFAULT_MINOR].queue_bytes is None:
            cmds += _tc(P_TREE, leaf_line(dev, UPLINK_DEFAULT_MINOR,
                                          maths.queue_limit_bytes(spare)))
        if cmds:
            self._emit(HOST, Action.UPDATE if tree.present else Action.CREATE,
                       f"guarantee tree on {dev}", f"capacity {capacity * 8 // 1000}kbit, "
                       f"unguaranteed {spare * 8 // 1000}kbit", cmds, (HOST, "uplink"),
                       (capacity, spare))

    # ---- nftables: DSCP and packet rate ----
    def _nft(self, present: list[PortSpec]) -> None:
        wanted: dict[str, WantedChain] = {}
        for spec in present:
            out = nft.chain_rules(spec.pps_egress, spec.dscp)
            if out:
                wanted[nft.chain_name(spec.port_id, "egress")] = (
                    spec.port_id, spec.device, out, ("from_vm", spec.pps_egress, spec.dscp))
            inn = nft.chain_rules(spec.pps_ingress, None)
            if inn:
                wanted[nft.chain_name(spec.port_id, "ingress")] = (
                    spec.port_id, spec.device, inn, ("to_vm", spec.pps_ingress, None))
        for family in nft.FAMILIES:
            self._nft_family(family, wanted)

    def _nft_family(self, family: str, wanted: dict[str, WantedChain]) -> None:
        have = self.actual.nft.get(family)
        uplink = self.uplink[0] if self.uplink else None
        if not wanted and not self.uplink_minors:
            if have and have.present:
                self._emit(HOST, Action.DELETE, f"nft table {family} {nft.TABLE}", "",
                           _nft(N_DEL_TABLE, nft.drop_table(family)))
            return
        if not have or not have.hooks_ok or have.uplink_hook != nft.uplink_hook_of(family, uplink):
            self._emit(HOST, Action.CREATE, f"nft table {family} {nft.TABLE}", "",
                       _nft(N_SKELETON, nft.skeleton(family, uplink)),
                       (HOST, f"nft-{family}"), uplink or True)
        have = have if have and have.present else None
        self._nft_stale(family, have, wanted)
        for chain, (port, device, rules, (map_name, limit, dscp)) in sorted(wanted.items()):
            self._nft_port(family, have, chain, port, device, rules, map_name, limit, dscp)
        self._nft_uplink(family, have)

    def _nft_uplink(self, family: str, have: NftFamily | None) -> None:
        """Elements of uplink_class: a guaranteed port's device -> its uplink class."""
        got = have.uplink_class if have else {}
        for dev, minor in sorted(self.uplink_minors.items()):
            if got.get(dev) != minor:
                port = self._owner(dev)
                self._emit(port, Action.CREATE if dev not in got else Action.UPDATE,
                           f"nft {family} uplink class of {dev}",
                           f"-> {OUR_MAJOR:x}:{minor:x}",
                           _nft(N_ADD_ELEM, nft.class_element(family, dev, minor, dev in got)),
                           (port, f"nft-{family}-uplink"), minor)
        for dev in sorted(set(got) - set(self.uplink_minors)):
            self._emit(self._owner(dev), Action.DELETE, f"nft {family} uplink class of {dev}", "",
                       _nft(N_DEL_ELEM, nft.delete_element(family, nft.UPLINK_MAP, dev)))

    def _nft_stale(self, family: str, have: NftFamily | None,
                   wanted: dict[str, WantedChain]) -> None:
        if have is None:
            return
        for map_name, elements in (("from_vm", have.from_vm), ("to_vm", have.to_vm)):
            for dev, chain in sorted(elements.items()):
                want = wanted.get(chain)
                if want is None or want[1] != dev or want[3][0] != map_name:
                    self._emit(self._owner(dev), Action.DELETE, f"nft {family} {map_name} {dev}",
                               chain, _nft(N_DEL_ELEM, nft.delete_element(family, map_name,
                                                                           dev)))
        for chain in sorted(have.chains):
            parsed = nft.port_of_chain(chain)
            if chain not in wanted and parsed is not None:   # (parse_ruleset keeps only
                owner = parsed[0]                            # chains it names)
                self._emit(owner, Action.DELETE, f"nft {family} chain {chain}", "",
                           _nft(N_DEL_CHAIN, nft.delete_chain(family, chain)))

    def _nft_port(self, family: str, have: NftFamily | None, chain: str, port: str,
                  device: str, rules: list[str], map_name: str, limit: PacketLimit | None,
                  dscp: int | None) -> None:
        got = have.chains.get(chain) if have else None
        same = got is not None and got.limit == limit and got.other_rules == 0 \
            and got.dscp4 == dscp and got.dscp6 == dscp
        elements = (have.from_vm if map_name == "from_vm" else have.to_vm) if have else {}
        cmds = [] if same else _nft(N_CHAIN, nft.write_chain(family, chain, rules,
                                                             got is not None))
        if elements.get(device) != chain:   # a wrong element went in the stale pass
            cmds += _nft(N_ADD_ELEM, nft.set_element(family, map_name, device, chain, None))
        if cmds:
            what = "dscp/pps out of VM" if map_name == "from_vm" else "pps into VM"
            detail = f"{'none' if got is None else _chain_text(got)} -> " \
                     f"{'; '.join(rules)}"
            self._emit(port, Action.CREATE if got is None else Action.UPDATE,
                       f"nft {family} {what} on {device}", detail, cmds,
                       (port, f"nft-{family}-{map_name}"), (limit, dscp))


def _chain_text(chain: PortChain) -> str:
    parts = []
    if chain.limit:
        parts.append(f"limit {chain.limit}")
    if chain.dscp4 is not None or chain.dscp6 is not None:
        parts.append(f"dscp {chain.dscp4}/{chain.dscp6}")
    if chain.other_rules:
        parts.append(f"+{chain.other_rules} foreign rules")
    return ", ".join(parts) or "empty"
