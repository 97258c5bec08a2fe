"""desired - actual = typed changes (pure: touches nothing, so --plan can print them).

What the engine keeps true, from the desired L2 state and the OVS it reads:
- bridges: br-int and (tunnelling) br-tun exist, fail_mode=secure; each mapped physical
  bridge must exist (the operator makes it and adds its NIC, as with Neutron) and is set
  secure; a network on a missing one is refused;
- patch ports patch-tun <-> patch-int, and int-<br> <-> phy-<br> per mapped bridge;
- every VM port on br-int (an Interface with external_ids:iface-id): its network's local
  VLAN as `tag` and the allocation in its other_config, or the dead VLAN 4095 (admin down,
  not bound to this host, its network refused);
- one VXLAN or GRE port on br-tun per remote tunnel endpoint of a wired network of that
  type (l2population);
  tunnel ports nobody needs are deleted;
- the flows of flows.py on br-int, br-tun and each physical bridge; flows that are not
  desired are deleted (on br-int only those carrying the L2 cookie).

Each change carries an Op: an OVSDB edit or a flow line, and the fact it establishes; a
change restoring a fact that held after the engine's last pass is drift.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from netqos.agent.backends.base import Change
from netqos.agent.l2.model import L2Desired, Segment
from netqos.agent.l2.openvswitch import flows as fl
from netqos.agent.l2.openvswitch import names
from netqos.agent.l2.openvswitch.options import TUNNEL_TYPES, OvsL2Options
from netqos.agent.l2.openvswitch.state import NET_KEY, VLAN_KEY, OvsL2State, PortRow
from netqos.agent.l2.openvswitch.vlans import VlansExhausted, allocate
from netqos.agent.l2.report import FactPlanner
from netqos.agent.l2.report import refusal as common_refusal
from netqos.agent.ovs.flows import Flow, delete_line

HOST = "(host)"
SECURE = "secure"
OVSDB, FLOWS = "ovsdb", "flows"


@dataclass(frozen=True)
class Op:
    kind: str                 # OVSDB | FLOWS
    bridge: str = ""          # FLOWS: the bridge of the line
    edit: tuple = ()          # OVSDB: (verb, *args), see openvswitch/ovsdb.py
    line: str = ""            # FLOWS: an ovs-ofctl add-flows line
    fact: tuple = ()


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)    # port id -> reason
    absent: list[str] = field(default_factory=list)          # port ids not on br-int
    wired: dict[str, str] = field(default_factory=dict)      # port id -> network id
    vlans: dict[str, int] = field(default_factory=dict)      # network id -> local VLAN
    facts: set[tuple] = field(default_factory=set)
    expected: dict[str, set[int]] = field(default_factory=dict)  # bridge -> our cookies


def refusal(seg: Segment, opts: OvsL2Options, state: OvsL2State) -> str | None:
    untunnelled = {kind: f"{kind.upper()} network, but this agent has no --local-ip / "
                         f"--tunnel-types {kind}"
                   for kind in TUNNEL_TYPES if not opts.tunnels(kind)}
    return common_refusal(seg, untunnelled, opts.bridge_mappings, state.bridges, "bridge",
                          "--bridge-mappings")


class Planner(FactPlanner):
    def __init__(self, desired: L2Desired, actual: OvsL2State, opts: OvsL2Options,
                 memo=frozenset()):
        self.desired, self.actual, self.opts, self.memo = desired, actual, opts, memo
        self.plan = Plan(refused=dict(desired.refused))
        self.int = opts.integration_bridge
        self.flows: dict[str, list[tuple[str, Flow]]] = {}   # bridge -> (owner, flow)

    def run(self) -> Plan:
        self._bridges()
        live = self._networks()
        try:
            self.plan.vlans = allocate(live, self.actual.ports(self.int).values())
        except VlansExhausted as exc:
            for net in live:
                self._refuse(net, str(exc))
            live = {}
        self._vm_ports(live)
        tunnels = self._tunnels(live)
        self._tun_flows(live, tunnels)
        self._phys_flows(live)
        self._flow_changes()
        return self.plan

    # --- helpers ------------------------------------------------------------------
    def _db(self, owner: str, action: str, what: str, edit: tuple, fact: tuple,
            detail: str = "") -> None:
        self._add(owner, action, what, Op(OVSDB, edit=edit, fact=fact), detail)

    def _refuse(self, net: str, reason: str) -> None:
        for port in self.desired.ports_of(net):
            self.plan.refused[port.port_id] = reason

    # --- bridges and patch ports --------------------------------------------------
    def _bridges(self) -> None:
        mine = [self.int] + ([self.opts.tunnel_bridge] if self.opts.tunneling else [])
        for name in mine:
            self._bridge(name, create=True)
        for bridge in sorted(set(self.opts.bridge_mappings.values())):
            self._bridge(bridge, create=False)
        if self.opts.tunneling:
            self._patch(self.int, names.PATCH_TUN, names.PATCH_INT)
            self._patch(self.opts.tunnel_bridge, names.PATCH_INT, names.PATCH_TUN)
        for bridge in sorted(set(self.opts.bridge_mappings.values())):
            if bridge in self.actual.bridges:
                self._patch(self.int, names.int_patch(bridge), names.phy_patch(bridge))
                self._patch(bridge, names.phy_patch(bridge), names.int_patch(bridge))

    def _bridge(self, name: str, create: bool) -> None:
        row = self.actual.bridges.get(name)
        self.plan.facts.add(("bridge", name))
        if row is None:
            if create:
                self._db(HOST, "create", f"bridge {name}",
                         ("bridge", name, self.opts.datapath_type, SECURE), ("bridge", name))
            return
        if row.fail_mode != SECURE:
            self._db(HOST, "update", f"bridge {name} fail_mode secure",
                     ("fail_mode", name, SECURE), ("secure", name), f"was {row.fail_mode}")

    def _patch(self, bridge: str, name: str, peer: str) -> None:
        self._iface(bridge, name, "patch", {"peer": peer})

    def _iface(self, bridge: str, name: str, kind: str, options: dict[str, str],
               owner: str = HOST) -> None:
        row = self.actual.ports(bridge).get(name)
        fact = ("port", bridge, name, kind, tuple(sorted(options.items())))
        self.plan.facts.add(fact)
        if row is None:
            self._db(owner, "create", f"{kind} port {name} on {bridge}",
                     ("add_port", bridge, name, kind, options), fact)
        elif row.iface_type != kind or row.opts != options:
            self._db(owner, "update", f"{kind} port {name} on {bridge}",
                     ("iface", name, kind, options), fact,
                     f"{row.iface_type or 'system'} {row.opts} -> {options}")

    # --- networks and VM ports ----------------------------------------------------
    def _networks(self) -> dict[str, Segment]:
        """The networks to wire here: not refused, with a port attached and up."""
        present = {p.iface_id for p in self.actual.ports(self.int).values()
                   if p.iface_id and p.ofport > 0}
        live: dict[str, Segment] = {}
        claimed: dict[tuple, str] = {}      # segment -> the network that has it here
        for net_id in sorted(self.desired.networks):
            seg = self.desired.networks[net_id]
            ports = self.desired.ports_of(net_id)
            reason = refusal(seg, self.opts, self.actual)
            key = _segment_key(seg)
            if not reason and key in claimed:
                # Its flows would match the same frames as the other network's and the
                # two would replace each other on every pass: the first (by id) keeps it.
                reason = f"segment {key[0]} {key[1:]} already used by network {claimed[key]}"
            if reason:
                self._refuse(net_id, reason)
                continue
            for port in ports:
                if port.port_id not in present:
                    self.plan.absent.append(port.port_id)
                elif port.admin_state_up:
                    live[net_id] = seg
            if key is not None and net_id in live:
                claimed[key] = net_id
        return live

    def _vm_ports(self, live: dict[str, Segment]) -> None:
        by_id = {p.port_id: p for p in self.desired.ports}
        for row in sorted(self.actual.ports(self.int).values(), key=lambda r: r.name):
            if not row.iface_id:
                continue
            port = by_id.get(row.iface_id)
            if port is not None and port.network_id in live and port.admin_state_up:
                seg = live[port.network_id]
                vlan = self.plan.vlans[seg.network_id]
                self.plan.wired[port.port_id] = seg.network_id
                self._tag(port.port_id, row, vlan, _config(seg, vlan))
            else:
                why = "admin state down" if port is not None and not port.admin_state_up \
                    else "refused" if port is not None else "not bound to this host"
                self._tag(row.iface_id, row, fl.DEAD_VLAN, {}, why)
                if row.ofport > 0:
                    self._flow(self.int, row.iface_id, fl.int_dead(row.ofport))

    def _tag(self, owner: str, row: PortRow, tag: int, config: dict, why: str = "") -> None:
        fact = ("tag", row.name, tag, tuple(sorted(config.items())))
        self.plan.facts.add(fact)
        if row.tag == tag and row.config == config:
            return
        what = f"tag {row.name} dead VLAN ({why})" if tag == fl.DEAD_VLAN else \
            f"tag {row.name} local VLAN {tag}"
        self._db(owner, "update", what, ("port", row.name, tag, config), fact,
                 f"tag {row.tag} -> {tag}")

    # --- tunnels ------------------------------------------------------------------
    def _tunnels(self, live: dict[str, Segment]) -> dict[tuple[str, str], str]:
        """(tunnel type, remote IP) -> tunnel port name, for every endpoint a wired VXLAN
        or GRE network needs (vxlan-<hex ip>, gre-<hex ip>: one port per type and remote
        host, as Neutron's agent makes them); the tunnel ports nobody needs go."""
        if not self.opts.tunneling:
            return {}
        wanted: dict[tuple[str, str], str] = {}
        for net_id, seg in live.items():
            if seg.network_type not in TUNNEL_TYPES:
                continue
            for remote in self.desired.remote_of(net_id):
                if remote.local_ip != self.opts.local_ip:
                    wanted[(seg.network_type, remote.local_ip)] = names.tunnel(
                        seg.network_type, remote.local_ip)
        br = self.opts.tunnel_bridge
        for (kind, ip), name in sorted(wanted.items()):
            # in_key/out_key=flow (Neutron's; together the same as key=flow): the key is
            # set_tunnel's on the way out and tun_id on the way in, per network.
            options = {"remote_ip": ip, "local_ip": self.opts.local_ip, "in_key": "flow",
                       "out_key": "flow", "df_default": "true"}
            if self.opts.dscp_inherit:      # the outer header's TOS copies the inner's
                options["tos"] = "inherit"
            self._iface(br, name, kind, options)
        for row in sorted(self.actual.ports(br).values(), key=lambda r: r.name):
            if row.iface_type in TUNNEL_TYPES and row.name not in wanted.values():
                self._db(HOST, "delete", f"{row.iface_type} port {row.name} on {br}",
                         ("del_port", br, row.name), (), "no network needs it")
        return wanted

    def _tun_flows(self, live: dict[str, Segment], tunnels: dict[tuple[str, str], str]) -> None:
        br = self.opts.tunnel_bridge
        if not self.opts.tunneling or br not in self.actual.bridges:
            return
        ofport = {key: self.actual.ofport(br, name) for key, name in tunnels.items()}
        ofport = {key: n for key, n in ofport.items() if n > 0}
        by_type: dict[str, list[int]] = {}
        for (kind, _), n in ofport.items():
            by_type.setdefault(kind, []).append(n)
        patch = self.actual.ofport(br, names.PATCH_INT)
        for f in fl.tun_base(patch, by_type):
            self._flow(br, HOST, f)
        if patch <= 0:
            return
        for net_id, seg in live.items():
            kind = seg.network_type
            if kind not in TUNNEL_TYPES:
                continue
            port_of = {ip: n for (k, ip), n in ofport.items() if k == kind}
            remotes = [r for r in self.desired.remote_of(net_id) if r.local_ip in port_of]
            unicast: dict[str, str] = {}      # a MAC on two hosts: the lowest IP wins
            if self.opts.l2_population:
                for r in sorted(remotes, key=lambda r: r.local_ip, reverse=True):
                    unicast.update({mac: r.local_ip for mac in r.macs})
            for f in fl.tun_network(kind, seg.segmentation_id, self.plan.vlans[net_id], patch,
                                    sorted({port_of[r.local_ip] for r in remotes}),
                                    {m: port_of[ip] for m, ip in unicast.items()}):
                self._flow(br, net_id, f)

    # --- physical bridges ---------------------------------------------------------
    def _phys_flows(self, live: dict[str, Segment]) -> None:
        for physnet, br in sorted(self.opts.bridge_mappings.items()):
            if br not in self.actual.bridges:
                continue
            for f in fl.phys_base():
                self._flow(br, HOST, f)
            patch = self.actual.ofport(br, names.phy_patch(br))
            nics = sorted(r.ofport for r in self.actual.ports(br).values()
                          if r.iface_type in ("", "system", "dpdk", "afxdp") and r.ofport > 0)
            if patch <= 0:
                continue
            for net_id, seg in live.items():
                if seg.physical_network != physnet:
                    continue
                vid = seg.segmentation_id if seg.network_type == "vlan" else None
                for f in fl.phys_network(self.plan.vlans[net_id], vid, patch, nics):
                    self._flow(br, net_id, f)

    # --- flows --------------------------------------------------------------------
    def _flow(self, bridge: str, owner: str, f: Flow) -> None:
        self.flows.setdefault(bridge, []).append((owner, f))

    def _flow_changes(self) -> None:
        if self.int in self.actual.bridges:
            for f in fl.int_base():
                self._flow(self.int, HOST, f)
        for bridge in sorted(self.flows):
            if bridge not in self.actual.bridges:
                continue
            want = {f.cookie: (owner, f) for owner, f in self.flows[bridge]}
            have = self.actual.cookies.get(bridge, set())
            self.plan.expected[bridge] = set(want)
            for cookie, (owner, f) in want.items():
                fact = ("flow", bridge, cookie)
                self.plan.facts.add(fact)
                if cookie not in have:
                    self._add(owner, "create", f"flow on {bridge}: {f.text}",
                              Op(FLOWS, bridge, line=f.add_line(), fact=fact))
            for cookie in sorted(have - set(want)):
                self._add(HOST, "delete", f"flow cookie={cookie:#x} on {bridge}",
                          Op(FLOWS, bridge, line=delete_line(cookie)))


def _segment_key(seg: Segment) -> tuple | None:
    """What two networks must not share on one host: a VNI, a GRE key, a physical
    network's VLAN id, or a physical network's untagged traffic (flat). A VNI and a GRE
    key of the same number are different segments (different tunnels and tables)."""
    if seg.network_type in TUNNEL_TYPES:
        return (seg.network_type, seg.segmentation_id)
    if seg.network_type == "vlan":
        return ("vlan", seg.physical_network, seg.segmentation_id)
    if seg.network_type == "flat":
        return ("flat", seg.physical_network)
    return None


def _config(seg: Segment, vlan: int) -> dict[str, str]:
    config = {NET_KEY: seg.network_id, VLAN_KEY: str(vlan), "network_type": seg.network_type}
    if seg.physical_network:
        config["physical_network"] = seg.physical_network
    if seg.segmentation_id is not None:
        config["segmentation_id"] = str(seg.segmentation_id)
    return config


def plan(desired: L2Desired, actual: OvsL2State, opts: OvsL2Options,
         memo=frozenset()) -> Plan:
    return Planner(desired, actual, opts, memo).run()
