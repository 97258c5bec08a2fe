"""The Open vSwitch L2 engine: observe, plan, apply, check, report per port.

A change set costs one OVSDB transaction (bridges, patch and tunnel ports, every VM port's
tag and local VLAN) and one `ovs-ofctl --bundle add-flows` per bridge whose flows change
(atomic per bridge: OpenFlow bundles do not span switches). Ports created in the
transaction get their OpenFlow numbers from ovs-vswitchd, so a pass re-plans after it and
installs the flows that name them (at most ROUNDS rounds), then re-reads everything
(CHECK): what a last plan still finds is reported on the ports it concerns.

Observe never flushes: flows whose cookie is right stay, so an agent restart changes
nothing, and an ovs-vswitchd restart (every flow gone) reinstalls all of them.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence

from netqos.agent.backends.base import Change
from netqos.agent.l2.model import L2Desired
from netqos.agent.l2.openvswitch import observe as obs
from netqos.agent.l2.openvswitch.ovsdb import L2Ovsdb
from netqos.agent.l2.openvswitch.plan import FLOWS, OVSDB, Plan, plan
from netqos.agent.l2.openvswitch.options import TUNNEL_TYPES, OvsL2Options
from netqos.agent.l2.openvswitch.state import OvsL2State
from netqos.agent.l2.openvswitch.watch import OvsL2Watcher
from netqos.agent.l2.report import L2Report, fill_statuses
from netqos.agent.ovs.openflow import Switch, failed_cookies

LOG = logging.getLogger(__name__)
ROUNDS = 3


class OvsL2:
    agent_type = "Open vSwitch agent"
    netns = None          # OVS is reached through its sockets, from any namespace

    def __init__(self, opts: OvsL2Options, ovsdb: str | None = None,
                 rundir: str | None = None, env: dict | None = None):
        self.opts = opts
        self.db = L2Ovsdb(ovsdb, opts.integration_bridge)
        self.rundir, self.env = rundir, env
        self._switches: dict[str, Switch] = {}
        self.memo: frozenset = frozenset()
        self.expected: dict[str, set[int]] = {}   # bridge -> cookies the last pass left
        self.kernel_ops = 0                       # OVSDB transactions + flow bundles
        self.bundles = 0
        self.restarts_seen = 0                    # passes that found every flow gone

    def close(self) -> None:
        self.db.close()

    def switch(self, bridge: str) -> Switch:
        if bridge not in self._switches:
            self._switches[bridge] = Switch(bridge, self.rundir, self.env)
        return self._switches[bridge]

    # ---- what this host reports ----
    @property
    def bridges(self) -> list[str]:
        mine = [self.opts.integration_bridge] + \
            ([self.opts.tunnel_bridge] if self.opts.tunneling else [])
        return mine + sorted(set(self.opts.bridge_mappings.values()))

    @property
    def tunnel_csum_offload(self) -> bool:
        """Whether the userspace datapath completes a guest's offloaded checksums when it
        encapsulates (OVS 3.3 added it). Measured on 3.1 (tests/l2/test_ovs_multihost.py):
        TCP over VXLAN gets no answer from guests that offload TX checksums (veth, virtio
        default) - their segments arrive with the checksum unfinished - while ping (ICMP
        checksums are always computed) and TCP on VLAN/flat networks work."""
        if self.opts.datapath_type != "netdev":
            return True
        return _version(obs.snapshot(self.db).ovs_version) >= (3, 3)

    @property
    def capabilities(self) -> dict[str, bool]:
        return {"vlan": True, "flat": True, "vxlan": self.opts.tunnels("vxlan"),
                "datapath_netdev": self.opts.datapath_type == "netdev",
                "native_tunnelling": self.opts.datapath_type == "netdev",
                "tunnel_csum_offload": self.tunnel_csum_offload,
                "gre": self.opts.tunnels("gre"),   # carried here: bench/l2_ovs.py tunnels
                "flow_bundles": True}

    def configurations(self) -> dict:
        """What Neutron's OVS agent reports in its heartbeat, plus capabilities."""
        tunnels = [t for t in TUNNEL_TYPES if self.opts.tunnels(t)]
        missing = [] if not tunnels or self.tunnel_csum_offload else [
            f"{t}: this OVS userspace datapath does not finish offloaded checksums when it "
            f"encapsulates; guests must not offload TX checksums for TCP/UDP over "
            f"{t.upper()}" for t in tunnels]
        conf = {"l2": "openvswitch",
                "integration_bridge": self.opts.integration_bridge,
                "tunnel_bridge": self.opts.tunnel_bridge,
                "bridge_mappings": dict(self.opts.bridge_mappings),
                "interface_mappings": {},
                "tunnel_types": tunnels,
                "l2_population": self.opts.l2_population,
                "dscp_inherit": self.opts.dscp_inherit,
                "datapath_type": self.opts.datapath_type,
                "network_types": ["flat", "local", "vlan"] + tunnels,
                "missing_capabilities": missing}
        if self.opts.local_ip:
            conf["tunneling_ip"] = conf["local_ip"] = self.opts.local_ip
        return conf

    def watcher(self, on_change):
        return OvsL2Watcher(self, on_change)

    # ---- observe / plan / apply ----
    def observe(self) -> OvsL2State:
        state = obs.snapshot(self.db)
        state.cookies = self._cookies([b for b in self.bridges if b in state.bridges])
        return state

    def _cookies(self, bridges: list[str]) -> dict[str, set[int]]:
        return obs.read_cookies(self.switch, bridges,
                                [b for b in bridges if b != self.opts.integration_bridge])

    def plan(self, desired: L2Desired, actual: OvsL2State | None = None) -> Plan:
        return plan(desired, actual or self.observe(), self.opts, self.memo)

    def flows_differ(self) -> bool:
        """The flow check: do the bridges still hold the flows the last pass left?"""
        expected = dict(self.expected)
        return bool(expected) and self._cookies(list(expected)) != expected

    def sync(self, desired: L2Desired) -> L2Report:
        """One level-triggered pass."""
        report = L2Report()
        actual = self.observe()
        if any(self.expected.values()) and not any(
                actual.cookies.get(b, set()) & c for b, c in self.expected.items()):
            self.restarts_seen += 1
            report.drift.append("every L2 flow gone (ovs-vswitchd restarted?): reinstalling")
            LOG.warning("every L2 flow is gone (ovs-vswitchd restarted?); reinstalling")
        p = self.plan(desired, actual)
        for _ in range(ROUNDS):
            if not p.changes:
                break
            failed = self.apply(p.changes)
            base = len(report.changes)
            report.changes += p.changes
            report.failed.update({base + i: r for i, r in failed.items()})
            p = self.plan(desired)
        report.unconverged = p.changes
        broken = {report.changes[i].payload.fact for i in report.failed}
        broken |= {c.payload.fact for c in report.unconverged}
        self.memo = frozenset(p.facts - broken)
        self.expected = p.expected
        fill_statuses(desired, p, report)
        return report

    def apply(self, changes: Sequence[Change]) -> dict[int, str]:
        """OVSDB edits in one transaction, then one flow bundle per bridge; index ->
        reason of the changes that failed."""
        failed: dict[int, str] = {}
        db = [i for i, c in enumerate(changes) if c.payload.kind == OVSDB]
        if db:
            self.kernel_ops += 1
            try:
                self.db.edit([changes[i].payload.edit for i in db])
            except Exception as exc:      # the transaction is atomic: all of it failed
                failed.update({i: f"OVSDB: {exc}" for i in db})
        bridges: dict[str, list[int]] = {}
        for i, c in enumerate(changes):
            if c.payload.kind == FLOWS:
                bridges.setdefault(c.payload.bridge, []).append(i)
        for bridge, idx in bridges.items():
            self.kernel_ops += 1
            self.bundles += 1
            # adds before deletes: an add with the same match replaces the old flow
            order = sorted(idx, key=lambda i: changes[i].payload.line.startswith("delete"))
            try:
                err = self.switch(bridge).flow_bundle([changes[i].payload.line
                                                       for i in order])
            except OSError as exc:
                err = str(exc)
            if err:
                bad = failed_cookies(err)
                hit = [i for i in idx if any(f"cookie={c:#x}," in changes[i].payload.line
                                             for c in bad)] or idx
                failed.update({i: f"flows on {bridge}: {err.splitlines()[0]}" for i in hit})
        return failed


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)
