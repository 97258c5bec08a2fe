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
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from netqos.agent.backends import driver
from netqos.agent.backends.base import ApplyResult, Change, PortBackend
from netqos.agent.backends.changes import HOST
from netqos.agent.quiet import OwnEvents
from netqos.agent.tc import bpf, nft
from netqos.agent.tc.observe import observe, read_block
from netqos.wire import PortQos
from netqos.agent.tc.plan import P_TREE, Cmd, Payload, Planner
from netqos.agent.tc.probe import probe
from netqos.agent.tc.runner import Runner
from netqos.agent.tc.spec import Shaper, port_spec
from netqos.agent.tc.state import IFB_NAME, HostState
from netqos.agent.tc.watch import TcWatcher
from netqos.qos.backends import LINUX_TC


Batch = Mapping[int, str]   # {index of a failed line: reason}


class TcBackend(PortBackend[HostState]):
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

    def enforced(self, ports: Sequence[PortQos], actual: HostState | None = None
                 ) -> dict[str, dict[str, Any]]:
        state = actual if isinstance(actual, HostState) else self.observe(ports)
        return {p.port_id: port_enforced(state, p) for p in ports}

    def watcher(self, netns: str | None, on_change: Callable[[], None]) -> TcWatcher:
        """What the agent's loop runs: wakes it on drift of what we own (tc/watch.py)."""
        return TcWatcher(netns, on_change, lambda: self._owned, self._own.quiet)

    def plan(self, desired: Sequence[PortQos], actual: HostState) -> list[Change]:
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
        with self.applying(changes):
            return driver.apply(changes, self.steps(), self.remember)

    def applying(self, changes: Sequence[Change]) -> AbstractContextManager[None]:
        """While our own apply runs, its tc events are not drift (the watcher's quiet)."""
        return self._own.applying(any(_commands(c) for c in changes))

    def remember(self, change: Change) -> None:
        if isinstance(change.payload, Payload):   # every change of this backend's plans
            self._memo.update(change.payload.memo)

    # ---- the batches of an apply, in order: one process (or transaction) per tool ----
    def steps(self) -> list[driver.Step]:
        def early(phase: int) -> bool:
            return phase < P_TREE

        def late(phase: int) -> bool:
            return phase >= P_TREE
        return [self._step("ip", _first_phase("ip", early), self._batch("ip")),
                self._step("bpf", _first_phase("bpf", early), self.run_bpf),
                self._step("tc", lambda c: True, self._batch("tc"),
                           cleanup=lambda: bpf.unpin(self._pin)),   # attached or not, it goes
                self._step("ip", _first_phase("ip", late), self._batch("ip")),
                self._step("bpf", _first_phase("bpf", late), self.run_bpf),
                # The nft transaction is atomic and fails as a whole: retried change by
                # change to pin the failure on its port, so one bad port can't block the rest.
                self._step("nft", lambda c: True, self._transaction, isolate=True)]

    @staticmethod
    def _step(tool: str, takes: Callable[[Change], bool], run: Callable[[list[str]], Batch],
              cleanup: Callable[[], None] | None = None, isolate: bool = False
              ) -> driver.Step:
        """A batch of the `tool` lines of the changes `takes` selects, by phase, then in
        plan order (a change's own lines keep their order)."""
        return driver.Step(tool, lambda c: [cmd for cmd in _commands(c) if cmd.tool == tool]
                           if takes(c) else [],
                           lambda cmds: run([cmd.line for cmd in cmds]),
                           key=lambda cmd: cmd.phase, cleanup=cleanup, isolate=isolate)

    def _batch(self, tool: str) -> Callable[[list[str]], Batch]:
        def run(lines: list[str]) -> dict[int, str]:
            return self.runner.batch(tool, lines).blame(range(len(lines)))
        return run

    def _transaction(self, lines: list[str]) -> dict[int, str]:
        err = self.runner.nft(lines)
        if err is not None:
            raise driver.BatchFailed(err)
        return {}

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

    def forget(self, keep_ports: set[str]) -> None:
        """Drop what we remember of ports no longer desired (so a return is not 'drift')."""
        self._memo = {k: v for k, v in self._memo.items()
                      if k[0] == HOST or k[0] in keep_ports}


def _shaper(s: Shaper | None) -> dict[str, int] | None:
    return None if s is None else {"rate_kbps": round(s.rate_bytes_per_s * 8 / 1000),
                                   "burst_bytes": s.burst_bytes, "queue_bytes": s.queue_bytes}


def port_enforced(state: HostState, port: PortQos) -> dict[str, Any]:
    """What the kernel holds for one port, in the API's units (PortBackend.enforced)."""
    device = port.device or ""   # located ports have one; "" is no device's name either
    out: dict[str, Any] = {"ingress": _shaper(state.root_tbf.get(device)), "egress": None,
                 "dscp_mark": None, "packet_rate": {}, "min_egress_kbps": None}
    cls = state.egress_class(device)
    if cls is not None:
        out["egress"] = _shaper(cls.shaper())
    if device not in state.redirected and out["egress"] is not None:
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
    cls = state.uplink_class(device)
    if cls is not None:
        out["min_egress_kbps"] = round(cls.rate_bytes_per_s * 8 / 1000)
    return out
def _commands(change: Change) -> tuple[Cmd, ...]:
    """The tc backend's commands of a change (none for another backend's payload)."""
    return change.payload.commands if isinstance(change.payload, Payload) else ()


def _first_phase(tool: str, test: Callable[[int], bool]) -> Callable[[Change], bool]:
    """Whether the first `tool` command of a change is in the phases `test` accepts: all of
    a change's ip (or bpf) lines go before the tc batch or all after it."""
    def takes(change: Change) -> bool:
        phases = [c.phase for c in _commands(change) if c.tool == tool]
        return test(min(phases) if phases else -1)
    return takes
