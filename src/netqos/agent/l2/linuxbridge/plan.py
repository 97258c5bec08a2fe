"""desired - actual = typed changes, one kernel operation each. Pure: touches nothing.

Per network with a port whose device is on this host: a bridge `brq<net[:11]>`, up, with
its uplink enslaved — flat: the mapped physical interface; vlan: `<iface>.<vid>`; vxlan:
`vxlan-<vni>` (local IP, learning off, dstport 4789; with --dscp-inherit the outer
header's TOS copies the inner packet's, Neutron's dscp_inherit) whose fdb holds a flood entry per
remote host of the network and, with l2population, an entry per remote MAC; local: none.
Each port's tap is enslaved and up (admin state up) or out of the bridge and down.
Bridges and vxlan/vlan devices no port needs any more are deleted; a device that is not a
desired port's or uplink is taken out of a netqos bridge (isolation first).

A port the host cannot wire (a VLAN network on a kernel without 802.1Q, a physical network
with no mapped interface, VXLAN without a local IP) is refused with a reason, and nothing of
its network is created: never half-plugged.

Each change carries an Op: its tool, phase and line, and the fact it establishes. The
engine remembers the facts that held at the end of its last pass; a change restoring one of
them is drift (someone changed the kernel behind its back), not an update.
Phases: 0 deletes links (a device to recreate goes first), 1 creates/sets links, 2 fdb.
"""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from netqos.agent.backends.base import Change
from netqos.agent.l2.linuxbridge import names
from netqos.agent.l2.linuxbridge.state import FLOOD_MAC, Fdb, L2State, Link
from netqos.agent.l2.model import L2Desired, LocalPort, Segment
from netqos.agent.l2.report import FactPlanner
from netqos.agent.l2.report import refusal as common_refusal

VXLAN_PORT = 4789
DELETE, LINKS, FDB = 0, 1, 2


@dataclass(frozen=True)
class L2Options:
    """The agent's L2 options, named as Neutron's Linux-bridge agent names them."""
    local_ip: str | None = None                              # --local-ip
    mappings: dict[str, str] = field(default_factory=dict)   # --physical-interface-mappings
    l2_population: bool = False                              # --l2-population
    vlan_supported: bool = True                              # probed on the kernel at start
    dscp_inherit: bool = False                               # --dscp-inherit

    @property
    def tunnel_types(self) -> list[str]:
        return ["vxlan"] if self.local_ip else []


@dataclass(frozen=True)
class Op:
    tool: str                  # "ip" | "bridge"
    phase: int
    line: str                  # a -batch line
    fact: tuple = ()           # what the line establishes (for drift)


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)    # port id -> reason
    absent: list[str] = field(default_factory=list)          # port ids with no device here
    wired: dict[str, str] = field(default_factory=dict)      # port id -> its network id
    facts: set[tuple] = field(default_factory=set)           # what the desired state holds


# Neutron's Linux-bridge agent has no GRE either (its tunnel_types: vxlan only).
NO_GRE = ("GRE networks are not supported by the Linux-bridge L2 role (as Neutron's "
          "linuxbridge agent: VXLAN only); the port is not plugged")


def refusal(seg: Segment, opts: L2Options, links: Collection[str]) -> str | None:
    """Why this host cannot wire a network of that segment, or None."""
    untunnelled = {"gre": NO_GRE}
    if not opts.local_ip:
        untunnelled["vxlan"] = "VXLAN network, but this agent has no --local-ip"
    why = common_refusal(seg, untunnelled, opts.mappings, links, "interface",
                         "--physical-interface-mappings")
    if why:
        return why
    if seg.network_type == "vlan" and not opts.vlan_supported:
        return ("VLAN networks are not supported on this host: the kernel has no 802.1Q "
                "VLAN support (8021q); the port is not plugged")
    return None


class Planner(FactPlanner):
    def __init__(self, desired: L2Desired, actual: L2State, opts: L2Options,
                 memo: Collection[tuple] = ()):
        self.desired = desired
        self.actual = actual
        self.opts = opts
        self.memo = memo
        self.plan = Plan(refused=dict(desired.refused))
        self._recreated: set[str] = set()
        self._keep: set[str] = set()          # our devices that stay

    def run(self) -> Plan:
        for net_id in sorted(self.desired.networks):
            self._network(self.desired.networks[net_id])
        self._remove_unneeded()
        self.plan.changes.sort(key=lambda c: c.payload.phase)   # stable within a phase
        return self.plan

    # --- helpers ------------------------------------------------------------------
    def _link(self, name: str) -> Link | None:
        return None if name in self._recreated else self.actual.links.get(name)

    # --- one network --------------------------------------------------------------
    def _network(self, seg: Segment) -> None:
        ports = self.desired.ports_of(seg.network_id)
        reason = refusal(seg, self.opts, self.actual.links)
        if reason:
            for port in ports:
                self.plan.refused[port.port_id] = reason
            return
        here = []
        for port in ports:
            if port.tap in self.actual.links:
                here.append(port)
            else:
                self.plan.absent.append(port.port_id)
        if not here:
            return   # no port of it here: its devices go (see _remove_unneeded)
        bridge = names.bridge(seg.network_id)
        self._keep.add(bridge)
        self._bridge(seg, bridge)
        uplink = self._uplink(seg, bridge)
        if seg.network_type == "vxlan":
            self._fdb(seg, uplink)
        for port in here:
            self.plan.wired[port.port_id] = seg.network_id
            self._port(port, seg, bridge)
        self._evict(seg.network_id, bridge, {uplink} | {p.tap for p in here})

    def _bridge(self, seg: Segment, bridge: str) -> None:
        link = self._link(bridge)
        net = seg.network_id
        self.plan.facts |= {("link", bridge), ("up", bridge)}
        if link is not None and link.kind != "bridge":
            self._delete(net, link, "not a bridge")
            link = None
        if link is None:
            self._add(net, "create", f"bridge {bridge}", Op(
                "ip", LINKS, f"link add name {bridge} type bridge forward_delay 0 stp_state 0",
                ("link", bridge)))
        if link is None or not link.up:
            self._add(net, "update" if link else "create", f"bridge {bridge} up",
                      Op("ip", LINKS, f"link set dev {bridge} up", ("up", bridge)))

    def _uplink(self, seg: Segment, bridge: str) -> str | None:
        """Create the segment's device if needed and enslave it; its name."""
        net = seg.network_id
        if seg.network_type == "local":
            return None
        if seg.network_type == "flat":
            name = self.opts.mappings[seg.physical_network]
        elif seg.network_type == "vlan":
            parent = self.opts.mappings[seg.physical_network]
            name = names.vlan(parent, seg.segmentation_id)
            self.plan.facts.add(("up", parent))
            if not self.actual.links[parent].up:   # a sub-interface of a down link is dead
                self._add(net, "update", f"{parent} up", Op(
                    "ip", LINKS, f"link set dev {parent} up", ("up", parent)))
            self._ensure(net, name, "vlan", lambda l: l.vlan_id == seg.segmentation_id
                         and l.parent == parent,
                         f"link add link {parent} name {name} type vlan "
                         f"id {seg.segmentation_id}")
        else:
            name = names.vxlan(seg.segmentation_id)
            mtu = f" mtu {seg.mtu}" if seg.mtu else ""
            self._ensure(net, name, "vxlan", lambda l: l.vni == seg.segmentation_id
                         and l.local == self.opts.local_ip and l.learning is False
                         and l.dstport == VXLAN_PORT
                         and l.tos_inherit == self.opts.dscp_inherit,
                         f"link add name {name}{mtu} type vxlan id {seg.segmentation_id} "
                         f"local {self.opts.local_ip} dstport {VXLAN_PORT} nolearning"
                         + (" tos inherit" if self.opts.dscp_inherit else ""))
        self._keep.add(name)
        self._enslave(net, name, bridge, None if seg.network_type == "flat" else seg.mtu)
        return name

    def _ensure(self, net: str, name: str, kind: str, matches, create: str) -> None:
        link = self._link(name)
        self.plan.facts.add(("link", name))
        if link is not None and (link.kind != kind or not matches(link)):
            self._delete(net, link, f"attributes differ ({kind})")
            link = None
        if link is None:
            self._add(net, "create", f"{kind} {name}", Op("ip", LINKS, create, ("link", name)))

    def _enslave(self, owner: str, name: str, bridge: str, mtu: int | None,
                 what: str | None = None) -> None:
        link = self._link(name)
        self.plan.facts.add(("plug", name, bridge))
        wrong = []
        if link is None or link.master != bridge:
            wrong.append(f"master {link.master if link else None} -> {bridge}")
        if link is None or not link.up:
            wrong.append("down -> up")
        if mtu and (link is None or link.mtu != mtu):
            wrong.append(f"mtu {link.mtu if link else None} -> {mtu}")
        if not wrong:
            return
        set_mtu = f" mtu {mtu}" if mtu else ""
        self._add(owner, "update" if link else "create", what or f"{name} into {bridge}",
                  Op("ip", LINKS, f"link set dev {name} master {bridge}{set_mtu} up",
                     ("plug", name, bridge)), ", ".join(wrong), repairs=link is not None)

    def _port(self, port: LocalPort, seg: Segment, bridge: str) -> None:
        if port.admin_state_up:
            self._enslave(port.port_id, port.tap, bridge, seg.mtu,
                          f"plug {port.tap} into {bridge}")
            return
        link = self._link(port.tap)
        self.plan.facts.add(("unplugged", port.tap))
        if link.master is not None or link.up:
            self._add(port.port_id, "update", f"unplug {port.tap} (admin state down)",
                      Op("ip", LINKS, f"link set dev {port.tap} nomaster down",
                         ("unplugged", port.tap)), f"master {link.master}")

    def _fdb(self, seg: Segment, device: str) -> None:
        want: dict[str, set[str]] = {}       # mac -> destinations
        for remote in self.desired.remote_of(seg.network_id):
            if remote.local_ip == self.opts.local_ip:
                continue
            want.setdefault(FLOOD_MAC, set()).add(remote.local_ip)
            if self.opts.l2_population:
                for mac in remote.macs:
                    want.setdefault(mac, set()).add(remote.local_ip)
        wanted = {Fdb(device, FLOOD_MAC, dst) for dst in want.get(FLOOD_MAC, ())}
        # A unicast MAC has one destination; should two hosts claim it, the lowest wins.
        wanted |= {Fdb(device, mac, min(dsts)) for mac, dsts in want.items()
                   if mac != FLOOD_MAC}
        have = set() if device in self._recreated or device not in self.actual.links else \
            {f for f in self.actual.fdb if f.device == device}
        net = seg.network_id
        self.plan.facts |= {("fdb", f) for f in wanted}
        for f in sorted(have - wanted, key=_fdb_key):
            self._add(net, "delete", f"fdb {f.mac} dst {f.dst} on {device}",
                      Op("bridge", FDB, f"fdb del {f.mac} dev {device} dst {f.dst}"))
        for f in sorted(wanted - have, key=_fdb_key):
            verb = "append" if f.mac == FLOOD_MAC else "replace"
            self._add(net, "create", f"fdb {f.mac} dst {f.dst} on {device}",
                      Op("bridge", FDB, f"fdb {verb} {f.mac} dev {device} dst {f.dst}",
                         ("fdb", f)))

    def _evict(self, owner: str, bridge: str, allowed: set) -> None:
        """Take out of a netqos bridge what is neither its uplink nor its ports' taps.
        Our own devices are left to _remove_unneeded (deleted) or _enslave (moved)."""
        for link in self.actual.slaves(bridge):
            if link.name not in allowed and link.name not in self._recreated \
                    and not self._ours(link):
                self._add(owner, "update", f"release {link.name} from {bridge}",
                          Op("ip", LINKS, f"link set dev {link.name} nomaster"))

    def _delete(self, owner: str, link: Link, why: str) -> None:
        self._recreated.add(link.name)
        self._add(owner, "delete", f"{link.kind or 'link'} {link.name}",
                  Op("ip", DELETE, f"link del dev {link.name}"), why)

    def _ours(self, link: Link) -> bool:
        """A bridge, vxlan or vlan device netqos makes (and so may delete)."""
        return names.ours(link.name) or (link.kind == "vlan"
                                          and link.parent in self.opts.mappings.values())

    def _remove_unneeded(self) -> None:
        """netqos's devices that no port needs: bridges, vxlan, vlan on mapped uplinks."""
        for link in sorted(self.actual.links.values(), key=lambda l: l.name):
            if link.name not in self._keep and link.name not in self._recreated \
                    and self._ours(link):
                self._delete("(host)", link, "no port needs it")


def _fdb_key(f: Fdb) -> tuple:
    return (f.device, f.mac, f.dst)


def plan(desired: L2Desired, actual: L2State, opts: L2Options,
         memo: Collection[tuple] = ()) -> Plan:
    return Planner(desired, actual, opts, memo).run()
