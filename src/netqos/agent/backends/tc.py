"""The Linux tc + nftables backend: observe, plan, apply for ports on veth/tap devices.

Mechanisms (see netqos.agent.tc for the pieces and the reasons):
- bandwidth_limit ingress (into the VM): TBF as the tap's root qdisc, handle 4e51:.
- bandwidth_limit egress (out of the VM): the tap's clsact binds the shared tc block 0x4e51:
  an eBPF classifier (tc/bpf.py) sets skb->priority to the port's classid, looked up by the
  tap's ifindex, then a u32 match-all filter redirects to the IFB `nq-ifb`, where the HTB
  class of that id shapes it into a short bfifo. Whatever MAC, VLAN or address the guest
  sends from, its traffic is its port's.
- dscp_marking, packet_rate_limit: nftables tables `netqos` (inet and bridge), per device.
- minimum_bandwidth egress: HTB tree on the uplink, a class per port (rate=min,
  ceil=capacity) chosen by skb->priority, which nftables sets from the device the packet
  entered on (bridged or routed), and a default class for the unguaranteed rest.

Everything works inside `netns` (None: the current namespace). An apply runs one `tc -batch`
and one `nft -f` transaction, plus one `ip -batch` when the IFB comes or goes.

Why one shared IFB rather than an IFB per port (measured, README "Classifying by port"):
deleting an IFB costs ~20-34 ms (an RCU grace period per device), so removing 1000
per-port IFBs takes many seconds, against well under a second for 1000 HTB classes and map
entries. All egress-limited ports share the IFB's one qdisc lock (fine on 2 cores; on a
large host, shard ports over a few IFBs if that lock shows up in profiles).

Why no policer: act_police is absent here (the probe reports it in `capabilities`), and a
shaper queues where a policer drops, which is what lets TCP hold the rate.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from netqos.agent.backends.base import ApplyResult, Change, PortBackend, record_outcome
from netqos.agent.quiet import OwnEvents
from netqos.agent.tc import bpf, nft
from netqos.agent.tc.observe import observe, read_block
from netqos.wire import PortQos
from netqos.agent.tc.plan import HOST, P_TREE, Planner
from netqos.agent.tc.probe import probe
from netqos.agent.tc.runner import Runner
from netqos.agent.tc.spec import port_spec
from netqos.agent.tc.state import IFB_NAME, HostState
from netqos.agent.tc.watch import TcWatcher
from netqos.qos.backends import LINUX_TC


class TcBackend(PortBackend):
    support = LINUX_TC

    def __init__(self, netns: str | None = None, uplink: tuple[str, int] | None = None,
                 runner: Runner | None = None):
        self.netns = netns
        self.uplink = uplink          # (ifname, capacity in kbit/s)
        self.runner = runner or Runner(netns)
        self._capabilities: dict[str, bool] | None = None
        self._memo: dict[tuple[str, str], object] = {}   # what we wrote, for drift
        # where a new classifier is pinned for `tc` to attach (unpinned right after)
        pin_name = f"classifier-{(netns or 'host').replace('/', '_')}-{os.getpid()}"
        self._pin = os.path.join(bpf.PIN_ROOT, pin_name)
        self._owned: set[int] = set()      # ifindexes of the devices we manage (watcher)
        self._own = OwnEvents()            # our own apply's events are not drift

    @property
    def capabilities(self) -> dict[str, bool]:
        if self._capabilities is None:
            self._capabilities = probe(self.runner)
        return self._capabilities

    def use_reported(self, capabilities: Mapping[str, object]) -> None:
        self._capabilities = {k: v for k, v in capabilities.items() if isinstance(v, bool)}

    def observe(self, ports: Sequence[PortQos] = ()) -> HostState:
        """One dump per object kind, for all devices at once; `ports` is not needed."""
        state = observe(self.runner, self.uplink[0] if self.uplink else None)
        managed = {p.device or p.tap_name for p in ports} | {IFB_NAME}
        if self.uplink:
            managed.add(self.uplink[0])
        self._owned = {state.links[d] for d in managed if d in state.links}
        return state

    def enforced(self, ports: Sequence[PortQos], actual: Mapping[str, object] | None = None
                 ) -> dict[str, dict]:
        state = actual if isinstance(actual, HostState) else self.observe(ports)
        return {p.port_id: port_enforced(state, p) for p in ports}

    def watcher(self, netns: str | None, on_change) -> TcWatcher:
        """What the agent's loop runs: wakes it on drift of what we own (tc/watch.py)."""
        return TcWatcher(netns, on_change, lambda: self._owned, self._own.quiet)

    def plan(self, desired: Sequence[PortQos], actual: Mapping[str, object] | HostState
             ) -> list[Change]:
        specs = [port_spec(p) for p in desired]
        return Planner(specs, actual, self._memo, self.uplink, self.capabilities,
                       self._pin).plan()

    def sync(self, desired: Sequence[PortQos]) -> tuple[list[Change], ApplyResult]:
        """observe + plan + apply: the agent's one call per resync."""
        changes = self.plan(desired, self.observe(desired))
        result = self.apply(changes)
        self.forget({p.port_id for p in desired})
        return changes, result

    def apply(self, changes: Sequence[Change]) -> ApplyResult:
        result = ApplyResult()
        with self._own.applying(any(c.payload.commands for c in changes)):
            self._apply(changes, result)
        return result

    def _apply(self, changes: Sequence[Change], result: ApplyResult) -> None:
        failed: dict[int, str] = {}   # index of change -> reason
        work = [(i, c) for i, c in enumerate(changes) if c.action != "skip"]
        for i, c in enumerate(changes):
            if c.action == "skip":
                result.errors[c.port_id] = c.what
        self._run_ip([w for w in work if _phase_min(w[1], "ip") < P_TREE], failed)
        self._run_bpf([w for w in work if _phase_min(w[1], "bpf") < P_TREE], failed)
        try:
            self._run_tc(work, failed)
        finally:
            bpf.unpin(self._pin)   # attached (the filter holds it now) or not, it goes
        self._run_ip([w for w in work if _phase_min(w[1], "ip") >= P_TREE], failed)
        self._run_bpf([w for w in work if _phase_min(w[1], "bpf") >= P_TREE], failed)
        self._run_nft(work, failed)
        self._record(changes, failed, result)

    # ---- runners: one process per tool ----
    def _lines(self, work, tool: str, phase_filter=lambda p: True):
        rows = [(cmd.phase, n, i, cmd.line) for n, (i, c) in enumerate(work)
                for cmd in c.payload.commands if cmd.tool == tool and phase_filter(cmd.phase)]
        rows.sort(key=lambda r: (r[0], r[1]))
        return [r[3] for r in rows], [r[2] for r in rows]

    def _run_ip(self, work, failed: dict[int, str]) -> None:
        lines, owners = self._lines(work, "ip")
        for owner, reason in self.runner.batch("ip", lines).blame(owners).items():
            failed.setdefault(owner, reason)

    def _run_tc(self, work, failed: dict[int, str]) -> None:
        lines, owners = self._lines(work, "tc")
        for owner, reason in self.runner.batch("tc", lines).blame(owners).items():
            failed.setdefault(owner, reason)

    def _run_bpf(self, work, failed: dict[int, str]) -> None:
        lines, owners = self._lines(work, "bpf")
        for n, reason in self.run_bpf(lines).items():
            failed.setdefault(owners[n], reason)

    def run_bpf(self, lines: Sequence[str]) -> dict[int, str]:
        """`pin` loads a new classifier for the tc batch to attach; `set|del IFINDEX
        [CLASSID]` edit the map of the classifier attached now. {line index: error}."""
        errors: dict[int, str] = {}
        ports = None
        try:
            for n, line in enumerate(lines):
                op, *args = line.split()
                try:
                    if op == "pin":
                        bpf.pin_new_program(os.path.basename(self._pin))
                        continue
                    if ports is None:
                        ports = bpf.PortMap(self._classifier_id())
                    if op == "set":
                        ports.set(int(args[0]), int(args[1]))
                    else:
                        ports.delete(int(args[0]))
                except (OSError, LookupError, ValueError) as e:
                    errors[n] = f"bpf {line}: {e}"
        finally:
            if ports is not None:
                ports.close()
        return errors

    def _classifier_id(self) -> int:
        state = HostState(redirected={"*"})   # read the block whatever binds it
        read_block(self.runner, state, with_map=False)
        if not state.classifier_prog:
            raise LookupError("no port classifier on the block")
        return state.classifier_prog

    def _run_nft(self, work, failed: dict[int, str]) -> None:
        lines, owners = self._lines(work, "nft")
        if not lines or self.runner.nft(lines) is None:
            return
        # The transaction is atomic and failed as a whole: retry change by change to pin the
        # failure on its port (host skeleton first), so one bad port can't block the others.
        for i in dict.fromkeys(owners):
            one = [ln for ln, o in zip(lines, owners) if o == i]
            if err := self.runner.nft(one):
                failed[i] = err

    def _record(self, changes: Sequence[Change], failed: dict[int, str],
                result: ApplyResult) -> None:
        record_outcome(changes, failed, result, self._memo,
                       is_port=lambda port_id: port_id != HOST and not port_id.startswith("("))

    def forget(self, keep_ports: set[str]) -> None:
        """Drop what we remember of ports no longer desired (so a return is not 'drift')."""
        self._memo = {k: v for k, v in self._memo.items()
                      if k[0] == HOST or k[0] in keep_ports}


def _phase_min(change: Change, tool: str) -> int:
    phases = [c.phase for c in change.payload.commands if c.tool == tool]
    return min(phases) if phases else -1


def _shaper(s) -> dict | None:
    return None if s is None else {"rate_kbps": round(s.rate_bytes_per_s * 8 / 1000),
                                   "burst_bytes": s.burst_bytes, "queue_bytes": s.queue_bytes}


def port_enforced(state: HostState, port: PortQos) -> dict:
    """What the kernel holds for one port, in the API's units (PortBackend.enforced)."""
    out: dict = {"ingress": _shaper(state.root_tbf.get(port.device)), "egress": None,
                 "dscp_mark": None, "packet_rate": {}, "min_egress_kbps": None}
    cls = state.egress_class(port.device)
    if cls is not None:
        out["egress"] = _shaper(cls.shaper())
    if port.device not in state.redirected and out["egress"] is not None:
        out["egress"] = {**out["egress"], "redirected": False}
    family = state.nft.get("inet")
    if family is not None:
        for direction in ("egress", "ingress"):
            chain = family.chains.get(nft.chain_name(port.port_id, direction))
            if chain is None:
                continue
            if chain.limit is not None:
                out["packet_rate"][direction] = {"pps": chain.limit.rate_pps,
                                                 "burst_packets": chain.limit.burst_packets}
            if direction == "egress" and chain.dscp4 is not None:
                out["dscp_mark"] = chain.dscp4
    cls = state.uplink_class(port.device)
    if cls is not None:
        out["min_egress_kbps"] = round(cls.rate_bytes_per_s * 8 / 1000)
    return out
