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
from collections.abc import Callable, Sequence
from typing import Any

from netqos.agent.backends import driver
from netqos.agent.backends.base import ApplyResult, PortBackend
from netqos.agent.backends.changes import HOST, Action, Change
from netqos.wire import PortQos
from netqos.agent.ovs import flows as fl
from netqos.agent.ovs.openflow import MeterOp, Switch, failed_cookies
from netqos.agent.ovs.ovsdb import Op, Ovsdb
from netqos.agent.ovs.plan import Mechanisms, Planner
from netqos.agent.ovs.spec import port_spec
from netqos.agent.ovs.state import OvsState
from netqos.agent.ovs.watch import FlowWatcher
from netqos.agent.quiet import OwnEvents
from netqos.qos.backends import OPENVSWITCH, OPENVSWITCH_NETDEV, BackendSupport

LOG = logging.getLogger(__name__)


class PrerequisiteError(RuntimeError):
    """The switch lacks something the backend needs; the message says what to do."""


class OvsBackend(PortBackend[OvsState]):
    vif_type = "ovs"
    device_kind = "ovs-interface"

    def __init__(self, netns: str | None = None, uplink: tuple[str, int] | None = None,
                 bridge: str | None = None, ovsdb: str | None = None, rundir: str | None = None,
                 datapath_type: str | None = None, env: dict[str, str] | None = None):
        """`rundir`: ovs-vswitchd's run directory, where <bridge>.mgmt and db.sock are
        (default $OVS_RUNDIR, else /var/run/openvswitch); `ovsdb` defaults to its db.sock.
        Connecting changes nothing: the bridge is created by `prepare` (the agent only)."""
        if netns:
            raise ValueError("the ovs backend works in ovs-vswitchd's namespace (no --netns)")
        bridge = bridge or "br-int"
        self.bridge = bridge
        self.uplink = uplink
        self.datapath_type = datapath_type
        self.db = Ovsdb(ovsdb or (f"unix:{rundir}/db.sock" if rundir else None), bridge)
        self.switch = Switch(bridge, rundir, env)
        self._memo: dict[tuple[str, str], object] = {}
        self._own = OwnEvents()   # the flow events of our own applies are not drift
        self._mech: Mechanisms | None = None
        self.timings: dict[str, float] = {}     # seconds per phase of the last apply

    def prepare(self) -> None:
        """Before the agent's first pass: the userspace datapath's prerequisite, then the
        bridge (created if missing, as Neutron's OVS agent creates br-int)."""
        state = self.db.snapshot()
        dp = state.datapath_type if state.bridge_exists else \
            self.datapath_type or _default_datapath()
        if dp == "netdev" and not state.userspace_tso:
            raise PrerequisiteError(
                f"bridge {self.bridge} uses Open vSwitch's userspace datapath (netdev), "
                f"through which TCP stalls unless userspace TSO is on. Run `ovs-vsctl set "
                f"Open_vSwitch . other_config:userspace-tso-enable=true` before the first "
                f"port is added (ports added before it: restart ovs-vswitchd), then start "
                f"the agent again.")
        if not state.bridge_exists:
            LOG.info("creating bridge %s (datapath %s)", self.bridge, dp)
            self.db.transact([Op("bridge", (self.bridge, dp))])
            self._mech = None

    def close(self) -> None:
        self.db.close()

    # ---- what this switch can do ----
    @property
    def mechanisms(self) -> Mechanisms:
        """Decided from the bridge's datapath and the switch's meter features. Kept only
        once the switch answered: a failed read (bridge not there yet, ovs-vswitchd
        restarting) is asked again next time, not taken as "no meters" for good."""
        if self._mech is not None:
            return self._mech
        snapshot = self.db.snapshot()
        try:
            feats = self.switch.meter_features()
        except Exception as exc:   # no answer (yet), or no OpenFlow 1.3 meters
            LOG.warning("meter features of %s: %s (asked again next time)", self.bridge, exc)
            return Mechanisms(snapshot.datapath_type, False, False, snapshot.userspace_tso)
        mech = Mechanisms(snapshot.datapath_type, feats.kbps and feats.max_meter > 0,
                          feats.pktps and feats.max_meter > 0, snapshot.userspace_tso)
        if snapshot.bridge_exists:
            self._mech = mech
        return mech

    @property
    def support(self) -> BackendSupport:   # type: ignore[override]
        # The userspace datapath enforces less (no set_queue): its own table.
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

    def watcher(self, netns: str | None, on_change: Callable[[], None]) -> _OvsdbWatcher:
        """The agent loop's hook: OVSDB row events (an Interface plugged or unplugged, a
        QoS or Queue row edited by hand) and flow monitor events on our cookies (a flow or
        meter deleted by hand) call `on_change`; no polling."""
        return _OvsdbWatcher(self.db, on_change,
                             FlowWatcher(self.switch, on_change, self._own.quiet))

    # ---- observe / plan / apply ----
    def observe(self, ports: Sequence[PortQos] = ()) -> OvsState:
        state = self.db.snapshot()
        if not state.bridge_exists:
            raise FileNotFoundError(f"no bridge {self.bridge} in the switch at "
                                    f"{self.db.remote} (the agent creates it when it starts)")
        state.meters, state.cookies = self.switch.read(fl.COOKIE, fl.COOKIE_MASK)
        return state

    def enforced(self, ports: Sequence[PortQos], actual: OvsState | None = None
                 ) -> dict[str, dict[str, Any]]:
        """Egress: the Interface's ingress policing; ingress: the max-rate of queue 0 of
        the port's QoS row, both as OVSDB holds them now."""
        state = actual if isinstance(actual, OvsState) else self.observe(ports)
        return {p.port_id: _enforced(state, p) for p in ports}

    def plan(self, desired: Sequence[PortQos], actual: OvsState) -> list[Change]:
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
        self.timings = {}
        with self._own.applying(any(c.action != Action.SKIP for c in changes)):
            return driver.apply(changes, self.steps(), driver.remember_payload(self._memo),
                                self.timings)

    # ---- the batches of an apply, in order; a change that failed goes no further ----
    def steps(self) -> list[driver.Step]:
        def payload(field: str) -> Callable[[Change], Sequence[Any]]:   # a Payload's list
            return lambda change: getattr(change.payload, field)
        def transaction(field: str) -> driver.Step:   # one; atomic: retried change by change
            return driver.Step("ovsdb", payload(field), self._transact, after_failure=False,
                               isolate=True, describe=lambda exc: f"OVSDB: {exc}")
        return [transaction("db"),
                driver.Step("meters", payload("meters"), self._meters, after_failure=False,
                            describe=lambda exc: f"OpenFlow: {exc}"),
                # A bundle stops at its first bad flow: pinned on its change by cookie, the
                # rest is sent again (three times at most).
                driver.Step("flows", payload("flows"), self._flows, after_failure=False,
                            attempts=3),
                driver.Step("meters", payload("meters_late"), self._meters,
                            after_failure=False, describe=lambda exc: f"OpenFlow: {exc}"),
                transaction("db_late")]

    def _transact(self, ops: list[Op]) -> dict[int, str]:
        self.db.transact(ops)    # raises: the driver retries change by change
        return {}

    def _meters(self, ops: list[MeterOp]) -> dict[int, str]:
        errors = self.switch.meter_ops(ops)
        return {n: f"{ops[n]}: {reason}" for n, reason in errors.items()}

    def _flows(self, lines: list[str]) -> dict[int, str]:
        err = self.switch.flow_bundle(lines)
        if err is None:
            return {}
        bad = failed_cookies(err)
        pinned = {n: f"flows: {err.splitlines()[0]}" for n, line in enumerate(lines)
                  if any(f"cookie={c:#x}," in line for c in bad)}
        # not pinned on a line: the whole bundle failed
        return pinned or {n: f"flows: {err}" for n in range(len(lines))}


class _OvsdbWatcher:
    def __init__(self, db: Ovsdb, on_change: Callable[[], None], flows: FlowWatcher):
        self.db, self.on_change, self.flows = db, on_change, flows

    def start(self) -> None:
        self.db.watch(self.on_change)
        self.flows.start()

    def stop(self) -> None:
        self.db.unwatch(self.on_change)
        self.flows.stop()


def _enforced(state: OvsState, port: PortQos) -> dict[str, Any]:
    out: dict[str, Any] = {"ingress": None, "egress": None, "dscp_mark": None, "packet_rate": {},
                 "min_egress_kbps": None}
    iface = state.ifaces.get(port.port_id)
    if iface is not None and iface.policing_kbps:
        out["egress"] = {"rate_kbps": iface.policing_kbps,
                         "burst_bytes": iface.policing_burst_kbit * 125, "queue_bytes": 0}
    for qos in state.qos_of_port(port.port_id):
        queue = qos.queues.get(0)
        if queue is not None and queue.max_rate_bps:
            out["ingress"] = {"rate_kbps": round(queue.max_rate_bps / 1000),
                              "burst_bytes": (queue.burst_bits or 0) // 8, "queue_bytes": 0}
    return out


def _default_datapath() -> str:
    from pathlib import Path
    return "system" if Path("/sys/module/openvswitch").exists() else "netdev"
