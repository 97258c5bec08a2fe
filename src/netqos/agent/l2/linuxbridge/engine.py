"""The Linux-bridge L2 engine: observe, plan, apply in batches, check, report per port.

One pass runs at most three processes to change the kernel, whatever the number of ports:
`ip -batch` for deletions, `ip -batch` for links, `bridge -batch` for the fdb (each with
-force, so one failing line names its port and the others still run), then re-reads the
kernel (CHECK): whatever a second plan still finds is reported on the ports it concerns.
"""
from __future__ import annotations

import dataclasses
import logging
import os

from netqos.agent.backends.base import Change
from netqos.agent.l2.linuxbridge import observe as obs
from netqos.agent.l2.linuxbridge.plan import DELETE, FDB, LINKS, NO_GRE, L2Options, Plan, plan
from netqos.agent.l2.linuxbridge.state import L2State
from netqos.agent.l2.linuxbridge.watch import L2Watcher
from netqos.agent.l2.model import L2Desired
from netqos.agent.l2.report import (ACTIVE, DOWN, ERROR, L2Report, PortStatus,  # noqa: F401
                                    fill_statuses)
from netqos.agent.tc.runner import Runner

LOG = logging.getLogger(__name__)


def probe_vlan(runner: Runner) -> bool:
    """Whether the kernel can make 802.1Q sub-interfaces (the 8021q module). The probe
    creates one on lo: "Unknown device type" means no; anything else (even lo refusing
    VLANs) means the link type exists."""
    name = f"nqvp{os.getpid() % 100000}"
    proc = runner.run("ip", "link", "add", "link", "lo", "name", name, "type", "vlan",
                      "id", "4094")
    if proc.returncode == 0:
        runner.run("ip", "link", "del", "dev", name)
        return True
    return "Unknown device type" not in proc.stderr


class LinuxBridgeL2:
    agent_type = "Linux bridge agent"

    def __init__(self, opts: L2Options, netns: str | None = None, probe: bool = True):
        self.runner = Runner(netns)
        self.netns = netns
        if probe:
            opts = dataclasses.replace(opts, vlan_supported=probe_vlan(self.runner))
        self.opts = opts
        self.memo: set[tuple] = set()    # facts that held after the last pass
        self.kernel_ops = 0              # lines sent to ip/bridge since start

    @property
    def capabilities(self) -> dict[str, bool]:
        return {"vlan": self.opts.vlan_supported, "vxlan": True, "flat": True}

    def configurations(self) -> dict:
        """What Neutron's Linux-bridge agent reports in its heartbeat, plus capabilities."""
        conf = {"l2": "linuxbridge",
                "interface_mappings": dict(self.opts.mappings),
                "bridge_mappings": {},
                "tunnel_types": self.opts.tunnel_types,
                "l2_population": self.opts.l2_population,
                "dscp_inherit": self.opts.dscp_inherit,
                "network_types": [t for t, ok in (("flat", True), ("local", True),
                                                  ("vlan", self.opts.vlan_supported),
                                                  ("vxlan", bool(self.opts.local_ip)))
                                  if ok],
                "missing_capabilities": ([] if self.opts.vlan_supported else
                                         ["vlan: no 802.1Q (8021q) in this kernel"]) +
                                        [f"gre: {NO_GRE}"]}
        if self.opts.local_ip:
            conf["tunneling_ip"] = conf["local_ip"] = self.opts.local_ip
        return conf

    def watcher(self, on_change):
        """What wakes a pass between resyncs: netlink events of our devices."""
        return L2Watcher(self.netns, self.opts.mappings.values(), on_change)

    def observe(self) -> L2State:
        return obs.observe(self.runner)

    def plan(self, desired: L2Desired, actual: L2State | None = None) -> Plan:
        return plan(desired, actual or self.observe(), self.opts, self.memo)

    def sync(self, desired: L2Desired) -> L2Report:
        """One level-triggered pass."""
        p = self.plan(desired)
        report = L2Report(changes=p.changes, failed=self.apply(p.changes))
        if p.changes:
            again = self.plan(desired)
            report.unconverged = again.changes
        # What holds now is what the next pass calls drift if it finds it changed.
        broken = {report.changes[i].payload.fact for i in report.failed}
        broken |= {c.payload.fact for c in report.unconverged}
        self.memo = p.facts - broken
        fill_statuses(desired, p, report)
        return report

    def apply(self, changes: list[Change]) -> dict[int, str]:
        """Run the changes, one batch per phase; index -> reason of those that failed."""
        failed: dict[int, str] = {}
        for phase, tool in ((DELETE, "ip"), (LINKS, "ip"), (FDB, "bridge")):
            idx = [i for i, c in enumerate(changes) if c.payload.phase == phase]
            if not idx:
                continue
            result = self.runner.batch(tool, [changes[i].payload.line for i in idx])
            self.kernel_ops += len(idx)
            for line, reason in result.failed_lines.items():
                hit = [idx[line - 1]] if 0 < line <= len(idx) else idx
                for i in hit:
                    failed[i] = reason or "failed"
        return failed
