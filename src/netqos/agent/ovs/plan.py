"""desired - actual = changes. Pure: reads the observed OvsState, touches nothing.

Each Change carries a Payload: its OVSDB ops, meter ops and flow lines, in the phase they
run in, and what netqos will have written once it is applied (`memo`), which is how a later
plan tells drift (the switch differs from what we wrote) from an ordinary update.

Phases of one apply (see the backend): OVSDB transaction (rows, meter records) → meter
adds/mods → one flow bundle (deletes and adds) → meter deletes → OVSDB transaction (meter
records of deleted meters). A flow never refers to a meter that does not exist yet, and a
meter is forgotten only once it is gone.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
import dataclasses
from dataclasses import dataclass

from netqos.agent.backends.changes import HOST, Action, Change, leftover
from netqos.agent.ovs import flows as fl
from netqos.agent.ovs.openflow import MeterOp
from netqos.agent.ovs.ovsdb import Op
from netqos.agent.ovs.spec import MeterSpec, PortSpec, QueueSpec
from netqos.agent.ovs.state import Iface, OvsState, QosRow

TCP_PAYLOAD_PER_FRAME = 1448 / 1514
KINDS = ("egress-kbps", "egress-pktps", "ingress-pktps")


@dataclass(frozen=True)
class Payload:
    db: tuple[Op, ...] = ()              # first transaction
    meters: tuple[MeterOp, ...] = ()     # adds and mods, before the flows
    flows: tuple[str, ...] = ()          # ovs-ofctl add-flows lines (add / delete)
    meters_late: tuple[MeterOp, ...] = ()  # deletes, after the flows
    db_late: tuple[Op, ...] = ()         # second transaction: records of deleted meters
    memo: tuple[tuple[tuple[str, str], object], ...] = ()


@dataclass(frozen=True)
class Mechanisms:
    """How this switch enforces what; decided from the datapath and the meter features."""
    datapath_type: str
    meters_kbps: bool
    meters_pktps: bool
    userspace_tso: bool = False

    @property
    def meter_scale(self) -> float:
        """Rate factor of egress kbps meters. With userspace TSO a TCP sender's packets
        reach the meter as segments of up to 64 KB with one set of headers: the meter
        counts about the payload, and TCP got 1.02 of the limit as goodput (wire 1.07).
        Scaled by 1448/1514 the wire rate of TCP lands on the limit (measured goodput
        0.94-0.98 at 10 and 100 Mbit/s); other traffic then gets 0.956 of it: under, never
        over."""
        return TCP_PAYLOAD_PER_FRAME if self.userspace_tso and not self.kernel else 1.0

    @property
    def kernel(self) -> bool:
        return self.datapath_type in ("system", "")

    @property
    def egress_limit(self) -> str:
        """`policing` (the kernel datapath enforces ingress_policing_rate), `meter`
        (netdev: policing is silently ignored), or `none`."""
        if self.kernel:
            return "policing"
        return "meter" if self.meters_kbps else "none"


Present = list[tuple[PortSpec, Iface]]   # the desired ports found, with their Interface


class Planner:
    def __init__(self, desired: Sequence[PortSpec], actual: OvsState,
                 memo: Mapping[tuple[str, str], object], mech: Mechanisms,
                 uplink: tuple[str, int] | None = None):
        self.desired = sorted(desired, key=lambda s: s.port_id)
        self.actual = actual
        self.memo = memo
        self.mech = mech
        self.uplink = uplink
        self.changes: list[Change] = []
        self._meter_ids = dict(actual.registry)      # id -> (port, kind), as allocated
        self._by_owner = {v: k for k, v in actual.registry.items()}
        self._into_macs: Counter[str] = Counter()      # into-VM MAC -> ports present

    # ---- helpers ----
    def _emit(self, port: str, action: Action, what: str, detail: str,
              key: tuple[str, str] | None = None, value: object = None,
              present: bool = False, db: tuple[Op, ...] = (), meters: tuple[MeterOp, ...] = (),
              flows: tuple[str, ...] = (), meters_late: tuple[MeterOp, ...] = (),
              db_late: tuple[Op, ...] = ()) -> None:
        """`present`: the thing exists but differs; a create or a differing thing is drift
        when it is exactly what we last wrote."""
        drift = key is not None and key in self.memo and self.memo[key] == value
        memo = ((key, value),) if key else ()
        self.changes.append(Change(port, action, what, detail, drift,
                                   Payload(db, meters, flows, meters_late, db_late, memo)))

    def _skip(self, port_id: str, reason: str) -> None:
        self.changes.append(Change(port_id, Action.SKIP, reason, "", False, Payload()))

    # ---- entry ----
    def plan(self) -> list[Change]:
        present: list[tuple[PortSpec, Iface]] = []
        for spec in self.desired:
            iface = self.actual.ifaces.get(spec.port_id)
            if iface is None or iface.ofport <= 0:
                self._skip(spec.port_id, "no interface with this iface-id on the bridge")
            else:
                present.append((spec, iface))
        self._into_macs = Counter(s.mac or i.mac for s, i in present)
        present = [(self._unshared_into_vm(s, i), i) for s, i in present]
        present = [(s, i) for s, i in present if self._admissible(s, i)]
        meters = self._meters(present)
        queues = self._uplink(present)
        for spec, iface in present:
            self._ingress_queue(spec, iface)
            self._policing(spec, iface)
        self._stale_qos({s.port_id for s, _ in present})
        self._flows(present, meters, queues)
        return self.changes

    def _admissible(self, spec: PortSpec, iface: Iface) -> bool:
        reasons = []
        if spec.egress_bw and self.mech.egress_limit == "none":
            reasons.append("egress bandwidth_limit: this switch has neither kernel policing "
                           "nor kbps meters")
        if (spec.egress_pps or spec.ingress_pps) and not self.mech.meters_pktps:
            reasons.append("packet_rate_limit: this switch has no pktps meters")
        if (spec.ingress_pps or spec.ingress_bw) and not (spec.mac or iface.mac):
            reasons.append("into-VM limits match the port's MAC, which is unknown")
        if spec.min_egress_kbps:
            if not self.mech.kernel:
                reasons.append(f"minimum_bandwidth is unsupported on the {self.mech.datapath_type}"
                               " datapath: it ignores set_queue, so no queue guarantee holds")
            elif self.uplink is None:
                reasons.append("minimum_bandwidth needs an uplink (--uplink IFACE:KBPS)")
        if reasons:
            self._skip(spec.port_id, "; ".join(reasons))
            return False
        return True

    def _unshared_into_vm(self, spec: PortSpec, iface: Iface) -> PortSpec:
        """Into-VM limits match dl_dst, which cannot tell apart two ports on the bridge
        with one MAC (a project chooses its port's MAC): one port's limit would take the
        other's traffic. Such ports keep their from-VM QoS; their into-VM limits are
        refused, reported, and not written."""
        mac = spec.mac or iface.mac
        if not (spec.ingress_pps or spec.ingress_bw) or self._into_macs[mac] < 2:
            return spec
        self._skip(spec.port_id, f"into-VM limits refused: they match the port's MAC {mac},"
                   " which another port on this bridge also has")
        return dataclasses.replace(spec, ingress_pps=None, ingress_bw=None)

    # ---- meters ----
    def _wanted_meters(self, spec: PortSpec) -> dict[str, MeterSpec]:
        out = {}
        if spec.egress_bw and self.mech.egress_limit == "meter":
            out["egress-kbps"] = MeterSpec("kbps", round(spec.egress_bw.rate
                                                         * self.mech.meter_scale),
                                           spec.egress_bw.burst)
        if spec.egress_pps:
            out["egress-pktps"] = spec.egress_pps
        if spec.ingress_pps:
            out["ingress-pktps"] = spec.ingress_pps
        return out

    def _allocate(self, owner: tuple[str, str]) -> int:
        if owner in self._by_owner:
            return self._by_owner[owner]
        used = set(self._meter_ids) | set(self.actual.meters)
        meter_id = next(i for i in range(1, len(used) + 2) if i not in used)
        self._meter_ids[meter_id] = owner
        self._by_owner[owner] = meter_id
        return meter_id

    def _meters(self, present: Present) -> dict[tuple[str, str], int]:
        """Meters of the desired ports (created, updated in place); stale ones deleted."""
        ids: dict[tuple[str, str], int] = {}
        wanted_owners = set()
        for spec, _ in present:
            for kind, want in self._wanted_meters(spec).items():
                owner = (spec.port_id, kind)
                wanted_owners.add(owner)
                recorded = owner in self._by_owner
                meter_id = self._allocate(owner)
                ids[owner] = meter_id
                have = self.actual.meters.get(meter_id)
                if have is not None and (have.unit, have.rate, have.burst) == \
                        (want.unit, want.rate, want.burst):
                    continue
                op = MeterOp("add" if have is None else "mod", meter_id, want.unit, want.rate,
                             want.burst)
                db = () if recorded else (Op("register", (meter_id,
                                                          f"{spec.port_id}/{kind}")),)
                before = "none" if have is None else str(MeterSpec(have.unit, have.rate,
                                                                   have.burst))
                self._emit(spec.port_id, Action.CREATE if have is None else Action.UPDATE,
                           f"{_meter_purpose(kind)}: OpenFlow meter {meter_id}",
                           f"{before} -> {want}{_scaled(kind, self.mech)}",
                           (spec.port_id, f"meter-{kind}"), want, db=db, meters=(op,))
        for meter_id, owner in sorted(self.actual.registry.items()):
            if owner in wanted_owners:
                continue
            exists = meter_id in self.actual.meters
            self._emit(owner[0], Action.DELETE, f"{_meter_purpose(owner[1])}: OpenFlow meter "
                       f"{meter_id}", "" if exists else "(record only)",
                       meters_late=(MeterOp("del", meter_id),) if exists else (),
                       db_late=(Op("register", (meter_id, None)),))
        return ids

    # ---- into the VM: linux-htb QoS with one queue on the port ----
    def _ingress_queue(self, spec: PortSpec, iface: Iface) -> None:
        rows = self.actual.qos_of_port(spec.port_id)
        want = spec.ingress_bw
        if want is None:
            for row in rows:
                self._unqos(spec.port_id, row, "into-VM shaper")
            return
        keep, extra = (rows[0], rows[1:]) if rows else (None, [])
        for row in extra:
            self._unqos(spec.port_id, row, "duplicate into-VM shaper")
        if keep is not None and _queue_matches(keep, want, iface.port_name):
            return
        queues = {0: (want.max_rate_bps, None, want.burst_bits, spec.port_id)}
        before = "none" if keep is None else _qos_text(keep)
        self._emit(spec.port_id, Action.CREATE if keep is None else Action.UPDATE,
                   f"into-VM shaper: linux-htb QoS on {iface.port_name}, queue 0",
                   f"{before} -> {want}", (spec.port_id, "qos"), want,
                   db=(Op("qos", (iface.port_name, spec.port_id, want.max_rate_bps, queues,
                                  False, keep.uuid if keep else None)),))

    def _unqos(self, owner: str, row: QosRow, what: str) -> None:
        port = row.attached[0] if row.attached else ""
        self._emit(owner, Action.DELETE, f"{what}: QoS {row.uuid[:8]}"
                   + (f" on {port}" if port else ""), _qos_text(row),
                   db=(Op("unqos", (row.uuid, port)),))

    def _stale_qos(self, present_ports: set[str]) -> None:
        for row in self.actual.qos.values():
            if not row.uplink and row.port_id not in present_ports:
                self._unqos(row.port_id or leftover("unowned"), row,
                            "into-VM shaper of a gone port")

    # ---- out of the VM on the kernel datapath: ingress policing ----
    def _policing(self, spec: PortSpec, iface: Iface) -> None:
        if self.mech.egress_limit == "policing" and spec.egress_bw:
            want = (spec.egress_bw.rate, spec.egress_bw.burst)
        else:
            want = (0, 0)
        have = (iface.policing_kbps, iface.policing_burst_kbit)
        if have == want:
            return
        action = Action.DELETE if want == (0, 0) \
            else Action.CREATE if have == (0, 0) else Action.UPDATE
        self._emit(spec.port_id, action, f"egress limit: ingress_policing on {iface.name}",
                   f"{have[0]}kbit/s burst {have[1]}kbit -> {want[0]}kbit/s burst "
                   f"{want[1]}kbit", (spec.port_id, "policing"), want,
                   db=(Op("policing", (iface.name, *want)),))

    # ---- minimum bandwidth (kernel datapath): queues with min-rate on the uplink ----
    def _uplink(self, present: Present) -> dict[str, int]:
        """{port id: uplink queue}; creates / updates / removes the uplink's QoS."""
        rows = [q for q in self.actual.qos.values() if q.uplink]
        guaranteed = [s for s, _ in present if s.min_egress_kbps]
        if not guaranteed or self.uplink is None:
            for stale in rows:
                self._unqos(HOST, stale, "uplink guarantees")
            return {}
        name, capacity_kbps = self.uplink
        capacity = capacity_kbps * 1000
        row = rows[0] if rows else None
        for extra in rows[1:]:
            self._unqos(HOST, extra, "duplicate uplink guarantees")
        have = row.queues if row else {}
        keys = {q.port_id: k for k, q in have.items() if q.port_id and k}
        free = (k for k in range(1, 0xFFFF) if k not in have or not have[k].port_id
                or have[k].port_id not in {s.port_id for s in guaranteed})
        queue_of = {}
        for spec in guaranteed:
            queue_of[spec.port_id] = keys.get(spec.port_id) or next(free)
        # queue -> (max-rate, min-rate, burst, owner port), as Op "qos" takes them
        queues: dict[int, tuple[int, int | None, int | None, str | None]] = {
            0: (capacity, None, None, None)}
        for spec in guaranteed:   # (each has a minimum: `or 0` only tells mypy so)
            queues[queue_of[spec.port_id]] = (capacity, (spec.min_egress_kbps or 0) * 1000,
                                              None, spec.port_id)
        same = row is not None and row.max_rate_bps == capacity and name in row.attached \
            and set(have) == set(queues) and all(
                (have[k].max_rate_bps, have[k].min_rate_bps, have[k].port_id)
                == (v[0], v[1], v[3]) for k, v in queues.items())
        if not same:
            self._emit(HOST, Action.CREATE if row is None else Action.UPDATE,
                       f"uplink guarantees: linux-htb QoS on {name}",
                       f"{len(guaranteed)} queue(s) with min-rate, capacity "
                       f"{capacity_kbps}kbit/s", (HOST, "uplink"), tuple(sorted(
                           (k, v[1]) for k, v in queues.items())),
                       db=(Op("qos", (name, None, capacity, queues, True,
                                      row.uuid if row else None)),))
        return queue_of

    # ---- flows ----
    def _flows(self, present: Present, meters: dict[tuple[str, str], int],
               queues: dict[str, int]) -> None:
        have = self.actual.cookies
        wanted: set[int] = set()
        groups: list[tuple[str, list[fl.Flow], str]] = [(HOST, fl.host_flows(),
                                                         "pipeline tables 0-2")]
        for spec, iface in present:
            mac = spec.mac or iface.mac
            flows = fl.port_flows(
                iface.ofport, mac, meters.get((spec.port_id, "egress-kbps")), spec.dscp,
                queues.get(spec.port_id), meters.get((spec.port_id, "egress-pktps")),
                meters.get((spec.port_id, "ingress-pktps")), spec.ingress_bw is not None)
            groups.append((spec.port_id, flows, _flows_text(spec, iface, meters, queues,
                                                            self.mech)))
        for owner, flows, text in groups:
            cookies = frozenset(f.cookie for f in flows)
            wanted |= cookies
            missing = [f for f in flows if f.cookie not in have]
            old = self._flows_written(owner)
            stale = sorted(c for c in old if c in have and c not in cookies)
            if not missing and not stale:
                continue
            action = Action.DELETE if not flows else Action.CREATE if len(missing) == len(flows) \
                and not (old & have) else Action.UPDATE
            self._emit(owner, action, f"flows ({len(flows)})", text, (owner, "flows"),
                       cookies, flows=tuple([fl.delete_line(c) for c in stale]
                                            + [f.add_line() for f in missing]))
        claimed = {c for owner, _, _ in groups for c in self._flows_written(owner)}
        leftovers = sorted(have - wanted - claimed)
        if leftovers:
            self._emit(leftover("flows"), Action.DELETE, f"{len(leftovers)} stale flow(s)",
                       "of ports gone or changed", flows=tuple(fl.delete_line(c)
                                                               for c in leftovers))


    def _flows_written(self, owner: str) -> frozenset[int]:
        """The cookies of the flows we last wrote for `owner` (memo key (owner, "flows"))."""
        cookies = self.memo.get((owner, "flows"))
        return cookies if isinstance(cookies, frozenset) else frozenset()


def _scaled(kind: str, mech: Mechanisms) -> str:
    if kind != "egress-kbps" or mech.meter_scale == 1.0:
        return ""
    return f" (limit x {mech.meter_scale:.4f}: userspace TSO hides TCP headers from meters)"


def _meter_purpose(kind: str) -> str:
    return {"egress-kbps": "egress limit", "egress-pktps": "egress packet rate",
            "ingress-pktps": "ingress packet rate"}[kind]


def _queue_matches(row: QosRow, want: QueueSpec, port_name: str) -> bool:
    q = row.queues.get(0)
    return (set(row.queues) == {0} and q is not None and row.max_rate_bps == want.max_rate_bps
            and q.max_rate_bps == want.max_rate_bps and q.burst_bits == want.burst_bits
            and row.attached == [port_name] and row.kind == "linux-htb")


def _qos_text(row: QosRow) -> str:
    q = row.queues.get(0)
    rate = f"max-rate {(q.max_rate_bps or 0) // 1000}kbit/s" if q else "no queue 0"
    return f"{rate} on {','.join(row.attached) or 'no port'}"


def _flows_text(spec: PortSpec, iface: Iface, meters: dict[tuple[str, str], int],
                queues: dict[str, int], mech: Mechanisms) -> str:
    parts = []
    m = meters.get((spec.port_id, "egress-kbps"))
    if m:
        parts.append(f"in_port={iface.ofport}: egress meter {m} (kbps)")
    if spec.dscp is not None:
        parts.append(f"dscp {spec.dscp} on ip/ipv6 from in_port={iface.ofport}")
    if spec.port_id in queues:
        parts.append(f"set_queue:{queues[spec.port_id]} (uplink guarantee)")
    m = meters.get((spec.port_id, "egress-pktps"))
    if m:
        parts.append(f"egress pps meter {m}")
    m = meters.get((spec.port_id, "ingress-pktps"))
    if m:
        parts.append(f"dl_dst={spec.mac or iface.mac}: ingress pps meter {m}")
    if spec.ingress_bw:
        parts.append("set_queue:0 into the VM")
    return "; ".join(parts) or "none"
