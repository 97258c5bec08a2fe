"""The Open vSwitch backend: ports on an OVS bridge (br-int), found by iface-id.

Mechanisms (decided per bridge from its datapath type and the switch's meter features;
see netqos.agent.ovs for the pieces and shared/reference/dataplane-here.md for the
measurements behind them):

| rule                      | kernel (`system`) datapath      | userspace (`netdev`) datapath   |
|---------------------------|---------------------------------|---------------------------------|
| bandwidth_limit egress    | Interface ingress_policing_rate | OpenFlow kbps meter, drop band  |
|                           | / _burst (kbit)                 | (policing is silently ignored)  |
| bandwidth_limit ingress   | linux-htb QoS on the port, queue 0 max-rate (+ burst), QoS  |
|                           | max-rate too; table 2 sets queue 0 (netdev ignores set_queue |
|                           | but the single queue is the default class: it shapes)        |
| dscp_marking              | set_field:N->ip_dscp, IPv4 and IPv6 flows of the port        |
| packet_rate_limit         | pktps meters: table 1 by in_port, table 2 by dl_dst          |
| minimum_bandwidth egress  | uplink linux-htb, a queue with    | refused: set_queue is ignored |
|                           | min-rate per port, set_queue      | (support table has no such    |
|                           |                                   | rule; reported if asked)      |

Cost per change set: at most two OVSDB transactions (the second only when meters are
deleted), one OpenFlow connection per meter phase (all meter mods and a barrier), one
`ovs-ofctl --bundle add-flows` process. Observe reads the OVSDB replica (no round trip) and
one OpenFlow connection (meters and our flows' cookies).
"""
from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping, Sequence

from netqos.agent.backends.base import ApplyResult, Backend, Change, record_outcome
from netqos.agent.model import PortQos
from netqos.agent.ovs import flows as fl
from netqos.agent.ovs.openflow import Switch, failed_cookies
from netqos.agent.ovs.ovsdb import Op, Ovsdb
from netqos.agent.ovs.plan import HOST, Mechanisms, Planner
from netqos.agent.ovs.spec import port_spec
from netqos.agent.ovs.state import OvsState
from netqos.agent.ovs.watch import FlowWatcher
from netqos.agent.quiet import OwnEvents
from netqos.qos.backends import OPENVSWITCH, OPENVSWITCH_NETDEV, BackendSupport

LOG = logging.getLogger(__name__)


class OvsBackend(Backend):
    vif_type = "ovs"

    def __init__(self, netns: str | None = None, uplink: tuple[str, int] | None = None,
                 bridge: str | None = None, ovsdb: str | None = None, rundir: str | None = None,
                 datapath_type: str | None = None, env: dict | None = None):
        if netns:
            raise ValueError("the ovs backend works in ovs-vswitchd's namespace (no --netns)")
        bridge = bridge or "br-int"
        self.bridge = bridge
        self.uplink = uplink
        self.db = Ovsdb(ovsdb, bridge)
        self.switch = Switch(bridge, rundir, env)
        self._memo: dict[tuple[str, str], object] = {}
        self._own = OwnEvents()   # the flow events of our own applies are not drift
        self._mech: Mechanisms | None = None
        self.timings: dict[str, float] = {}     # seconds per phase of the last apply
        state = self.db.snapshot()
        if not state.bridge_exists:
            dp = datapath_type or _default_datapath()
            LOG.info("creating bridge %s (datapath %s)", bridge, dp)
            self.db.transact([Op("bridge", (bridge, dp))])

    def close(self) -> None:
        self.db.close()

    # ---- what this switch can do ----
    @property
    def mechanisms(self) -> Mechanisms:
        if self._mech is None:
            snapshot = self.db.snapshot()
            dp = snapshot.datapath_type
            try:
                feats = self.switch.meter_features()
                kbps, pktps = feats.kbps and feats.max_meter > 0, feats.pktps and feats.max_meter > 0
            except Exception as exc:   # no OpenFlow 1.3 meters on this switch
                LOG.warning("meter features of %s: %s", self.bridge, exc)
                kbps = pktps = False
            self._mech = Mechanisms(dp, kbps, pktps, snapshot.userspace_tso)
        return self._mech

    @property
    def support(self) -> BackendSupport:   # type: ignore[override]
        return OPENVSWITCH if self.mechanisms.kernel else OPENVSWITCH_NETDEV

    @property
    def capabilities(self) -> dict[str, bool]:
        m = self.mechanisms
        return {"datapath_netdev": not m.kernel, "meters_kbps": m.meters_kbps,
                "meters_pktps": m.meters_pktps, "ingress_policing": m.kernel,
                "set_queue": m.kernel, "egress_limit_by_meter": m.egress_limit == "meter",
                "egress_limit_by_policing": m.egress_limit == "policing",
                "meter_rate_scaled_for_tso": m.meter_scale != 1.0}

    # ---- discovery ----
    def locate(self, ports: Sequence[PortQos]) -> tuple[list[PortQos], list[PortQos]]:
        """(ports with an attached Interface of this iface-id on the bridge, device set to
        it; ports without one)."""
        ifaces = self.db.snapshot().ifaces
        found, missing = [], []
        for port in ports:
            iface = ifaces.get(port.port_id)
            if iface is None or iface.ofport <= 0:
                missing.append(port)
            else:
                found.append(dataclasses.replace(port, device=iface.name))
        return found, missing

    def pull(self, client, host: str) -> tuple[int, list[PortQos], list[PortQos]]:
        """The agent loop's hook: the host's desired ports, located through OVSDB."""
        revision, desired = client.desired(host)
        return (revision, *self.locate(desired))

    def watcher(self, netns: str | None, on_change: Callable[[], None]):
        """The agent loop's hook: OVSDB row events (an Interface plugged or unplugged, a
        QoS or Queue row edited by hand) and flow monitor events on our cookies (a flow or
        meter deleted by hand) call `on_change`; no polling."""
        return _OvsdbWatcher(self.db, on_change,
                             FlowWatcher(self.switch, on_change, self._own.quiet))

    # ---- observe / plan / apply ----
    def observe(self, ports: Sequence[PortQos] = ()) -> OvsState:
        state = self.db.snapshot()
        state.meters, state.cookies = self.switch.read(fl.COOKIE, fl.COOKIE_MASK)
        return state

    def plan(self, desired: Sequence[PortQos], actual: Mapping[str, object] | OvsState
             ) -> list[Change]:
        return Planner([port_spec(p) for p in desired], actual, self._memo, self.mechanisms,
                       self.uplink).plan()

    def sync(self, desired: Sequence[PortQos]) -> tuple[list[Change], ApplyResult]:
        changes = self.plan(desired, self.observe(desired))
        result = self.apply(changes)
        keep = {p.port_id for p in desired}
        self._memo = {k: v for k, v in self._memo.items()
                      if k[0] in keep or k[0] == HOST}
        return changes, result

    def apply(self, changes: Sequence[Change]) -> ApplyResult:
        result = ApplyResult()
        failed: dict[int, str] = {}
        for c in changes:
            if c.action == "skip":
                result.errors[c.port_id] = c.what
        work = [(i, c) for i, c in enumerate(changes) if c.action != "skip"]
        self.timings = {}
        with self._own.applying(bool(work)):
            for phase, run in (("ovsdb", lambda: self._transact(work, "db", failed)),
                               ("meters", lambda: self._meters(work, "meters", failed)),
                               ("flows", lambda: self._flows(work, failed)),
                               ("meters", lambda: self._meters(work, "meters_late", failed)),
                               ("ovsdb", lambda: self._transact(work, "db_late", failed))):
                started = time.perf_counter()
                run()
                self.timings[phase] = self.timings.get(phase, 0.0) \
                    + time.perf_counter() - started
        self._record(changes, failed, result)
        return result

    def _transact(self, work, field: str, failed: dict[int, str]) -> None:
        items = [(i, getattr(c.payload, field)) for i, c in work
                 if i not in failed and getattr(c.payload, field)]
        if not items:
            return
        try:
            self.db.transact([op for _, ops in items for op in ops])
            return
        except Exception as exc:
            LOG.warning("OVSDB transaction of %d change(s) failed (%s); retrying one by one",
                        len(items), exc)
        for i, ops in items:   # pin the failure on its change; the others still land
            try:
                self.db.transact(list(ops))
            except Exception as exc:
                failed[i] = f"OVSDB: {exc}"

    def _meters(self, work, field: str, failed: dict[int, str]) -> None:
        rows = [(i, op) for i, c in work if i not in failed for op in getattr(c.payload, field)]
        if not rows:
            return
        try:
            errors = self.switch.meter_ops([op for _, op in rows])
        except Exception as exc:
            for i, _ in rows:
                failed.setdefault(i, f"OpenFlow: {exc}")
            return
        for n, reason in errors.items():
            failed.setdefault(rows[n][0], f"{rows[n][1]}: {reason}")

    def _flows(self, work, failed: dict[int, str]) -> None:
        for _attempt in range(3):
            rows = [(i, ln) for i, c in work if i not in failed for ln in c.payload.flows]
            if not rows:
                return
            err = self.switch.flow_bundle([ln for _, ln in rows])
            if err is None:
                return
            bad = failed_cookies(err)
            owners = {i for i, ln in rows if any(f"cookie={c:#x}," in ln for c in bad)}
            if not owners:   # not pinned on a line: the whole bundle failed
                for i, _ in rows:
                    failed.setdefault(i, f"flows: {err}")
                return
            for i in owners:
                failed[i] = f"flows: {err.splitlines()[0]}"

    def _record(self, changes: Sequence[Change], failed: dict[int, str],
                result: ApplyResult) -> None:
        record_outcome(changes, failed, result, self._memo,
                       is_port=lambda port_id: not port_id.startswith("("))


class _OvsdbWatcher:
    def __init__(self, db: Ovsdb, on_change: Callable[[], None], flows: FlowWatcher):
        self.db, self.on_change, self.flows = db, on_change, flows

    def start(self) -> None:
        self.db.watch(self.on_change)
        self.flows.start()

    def stop(self) -> None:
        self.db.unwatch(self.on_change)
        self.flows.stop()


def _default_datapath() -> str:
    from pathlib import Path
    return "system" if Path("/sys/module/openvswitch").exists() else "netdev"
