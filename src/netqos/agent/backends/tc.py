"""The Linux tc + nftables backend: observe, plan, apply for ports on veth/tap devices.

Mechanisms (see netqos.agent.tc for the pieces and the reasons):
- bandwidth_limit ingress (into the VM): TBF as the tap's root qdisc, handle 4e51:.
- bandwidth_limit egress (out of the VM): the tap's clsact binds the shared tc block 0x4e51,
  whose one u32 match-all filter redirects to the IFB `nq-ifb`; there an HTB class per port,
  classified by source MAC through a hashed u32 table, shapes it into a short bfifo.
- dscp_marking, packet_rate_limit: nftables tables `netqos` (inet and bridge).
- minimum_bandwidth egress: HTB tree on the uplink, a class per port (rate=min,
  ceil=capacity) chosen by source MAC, and a default class for the unguaranteed rest.

Everything works inside `netns` (None: the current namespace). An apply runs one `tc -batch`
and one `nft -f` transaction, plus one `ip -batch` when the IFB comes or goes.

Why one shared IFB rather than an IFB per port (measured here, 200 ports, `ip -batch`):
creating an IFB costs 0.33 ms, deleting one 34 ms (an RCU grace period per device), so
removing 1000 per-port IFBs would take 34 s, against well under a second for 1000 HTB
classes and filters. The price of sharing: ports are told apart by source MAC (a u32 hash on
the MAC's last byte keeps that a few compares per packet), so two ports with one MAC on one
host cannot both have an egress limit (the second is refused), a VM sending from a MAC not
its own lands in a 1 Mbit/s class for strangers instead of escaping its limit, and all
egress-limited ports share the IFB's one qdisc lock (fine on 2 cores; on a large host,
shard ports over a few IFBs by hash if that lock shows up in profiles).

Why no policer: act_police is absent here (the probe reports it in `capabilities`), and a
shaper queues where a policer drops, which is what lets TCP hold the rate.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from netqos.agent.backends.base import ApplyResult, Backend, Change, record_outcome
from netqos.agent.model import PortQos
from netqos.agent.tc.observe import observe
from netqos.agent.tc.plan import HOST, P_TREE, Planner
from netqos.agent.tc.probe import probe
from netqos.agent.tc.runner import Runner
from netqos.agent.tc.spec import port_spec
from netqos.agent.tc.state import HostState
from netqos.qos.backends import LINUX_TC


class TcBackend(Backend):
    support = LINUX_TC

    def __init__(self, netns: str | None = None, uplink: tuple[str, int] | None = None,
                 runner: Runner | None = None):
        self.netns = netns
        self.uplink = uplink          # (ifname, capacity in kbit/s)
        self.runner = runner or Runner(netns)
        self._capabilities: dict[str, bool] | None = None
        self._memo: dict[tuple[str, str], object] = {}   # what we wrote, for drift

    @property
    def capabilities(self) -> dict[str, bool]:
        if self._capabilities is None:
            self._capabilities = probe(self.runner)
        return self._capabilities

    def observe(self, ports: Sequence[PortQos] = ()) -> HostState:
        """One dump per object kind, for all devices at once; `ports` is not needed."""
        return observe(self.runner, self.uplink[0] if self.uplink else None)

    def plan(self, desired: Sequence[PortQos], actual: Mapping[str, object] | HostState
             ) -> list[Change]:
        specs = [port_spec(p) for p in desired]
        return Planner(specs, actual, self._memo, self.uplink, self.capabilities).plan()

    def sync(self, desired: Sequence[PortQos]) -> tuple[list[Change], ApplyResult]:
        """observe + plan + apply: the agent's one call per resync."""
        changes = self.plan(desired, self.observe(desired))
        result = self.apply(changes)
        self.forget({p.port_id for p in desired})
        return changes, result

    def apply(self, changes: Sequence[Change]) -> ApplyResult:
        result = ApplyResult()
        failed: dict[int, str] = {}   # index of change -> reason
        work = [(i, c) for i, c in enumerate(changes) if c.action != "skip"]
        for i, c in enumerate(changes):
            if c.action == "skip":
                result.errors[c.port_id] = c.what
        self._run_ip([w for w in work if _phase_min(w[1], "ip") < P_TREE], failed)
        self._run_tc(work, failed)
        self._run_ip([w for w in work if _phase_min(w[1], "ip") >= P_TREE], failed)
        self._run_nft(work, failed)
        self._record(changes, failed, result)
        return result

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
