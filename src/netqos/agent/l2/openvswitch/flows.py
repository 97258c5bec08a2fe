"""The L2 flow tables (pure). Every flow carries the L2 cookie tag 0x4e52 (see
netqos.agent.ovs.flows: tag in the top 16 bits, a hash of the flow's text below), so a
flow that is right keeps its cookie across agent restarts and is never rewritten.

br-tun (Neutron's table numbers, without the learning table: l2population tells every
remote MAC, so table 10's learn() has nothing to add):

    0   in_port=patch-int            goto 2
        in_port=<GRE tunnel>         goto 3
        in_port=<VXLAN tunnel>       goto 4
        *                            drop
    2   unicast dl_dst               goto 20
        multicast/broadcast dl_dst   goto 22
    3   tun_id=<GRE key>             mod_vlan_vid:<local VLAN>, output:patch-int
        *                            drop
    4   tun_id=<VNI>                 mod_vlan_vid:<local VLAN>, output:patch-int
        *                            drop
    20  dl_vlan=<L>,dl_dst=<MAC>     strip_vlan, set_tunnel:<key>, output:<its host's tunnel>
        *                            goto 22
    22  dl_vlan=<L>                  strip_vlan, set_tunnel:<key>, output:<every tunnel of it>
        *                            drop

GRE and VXLAN networks share the tables from br-int (20, 22: a network's local VLAN says
which tunnels, of its type, it leaves by); what comes in from a tunnel is looked up in the
table of the tunnel's type (Neutron's GRE_TUN_TO_LV 3 and VXLAN_TUN_TO_LV 4), so a GRE
network and a VXLAN network with the same segmentation id stay apart.

br-<physnet>: both translations are done here, on the physical bridge, and nothing else
passes it (priority 0 drops). Neutron translates the inbound direction on br-int instead;
here br-int's table 0 belongs to the QoS pipeline (netqos.agent.ovs.flows, which sends
everything it does not meter on to NORMAL), and translating before the patch keeps it
untouched: frames reach br-int already carrying their local VLAN, exactly as from br-tun.
The physical bridge then holds only provider traffic (its own internal port gets none).

    0   in_port=phy-br,dl_vlan=<L>   mod_vlan_vid:<provider VID> | strip_vlan (flat),
                                     output:<each NIC port>
        in_port=<NIC>,dl_vlan=<VID>  mod_vlan_vid:<L>, output:phy-br             (vlan)
        in_port=<NIC>,no VLAN        mod_vlan_vid:<L>, output:phy-br             (flat)
        *                            drop

br-int: VM ports carry their network's local VLAN as `tag` (access ports); patch ports are
trunks; switching is NORMAL (priority 0, the bridge is fail_mode=secure as Neutron's). A
port that must not pass traffic (admin down, not bound here, its network refused) gets the
dead VLAN 4095 and a drop of everything it sends, above the QoS pipeline's flows.

Ports are named in flows by their OpenFlow port numbers (read from OVSDB), so a port that
is recreated with another number changes its flows' text, hence their cookies: they are
rewritten, never left pointing at a stale number.
"""
from __future__ import annotations

from netqos.agent.ovs.flows import L2_TAG, Flow

T_IN, T_FROM_INT, T_UCAST, T_FLOOD = 0, 2, 20, 22
T_FROM_TUN = {"gre": 3, "vxlan": 4}      # tunnel type -> its table (Neutron's numbers)
DEAD_VLAN = 4095
PRIO_DEAD = 200          # above the QoS pipeline's table 0 (<= 110)
UNICAST = "00:00:00:00:00:00/01:00:00:00:00:00"
MULTICAST = "01:00:00:00:00:00/01:00:00:00:00:00"


def flow(table: int, priority: int, match: str, actions: str) -> Flow:
    return Flow(table, priority, match, actions, tag=L2_TAG)


def int_base() -> list[Flow]:
    return [flow(T_IN, 0, "", "NORMAL")]


def int_dead(ofport: int) -> Flow:
    return flow(T_IN, PRIO_DEAD, f"in_port={ofport}", "drop")


def tun_base(patch_int: int, tunnels: dict[str, list[int]]) -> list[Flow]:
    """tunnels: tunnel type -> the OpenFlow ports of its tunnels."""
    flows = [flow(T_IN, 0, "", "drop"),
             flow(T_FROM_INT, 0, f"dl_dst={UNICAST}", f"goto_table:{T_UCAST}"),
             flow(T_FROM_INT, 0, f"dl_dst={MULTICAST}", f"goto_table:{T_FLOOD}"),
             *(flow(table, 0, "", "drop") for table in sorted(T_FROM_TUN.values())),
             flow(T_UCAST, 0, "", f"goto_table:{T_FLOOD}"),
             flow(T_FLOOD, 0, "", "drop")]
    if patch_int > 0:
        flows.append(flow(T_IN, 1, f"in_port={patch_int}", f"goto_table:{T_FROM_INT}"))
    flows += [flow(T_IN, 1, f"in_port={t}", f"goto_table:{T_FROM_TUN[kind]}")
              for kind, ports in sorted(tunnels.items()) for t in sorted(ports)]
    return flows


def tun_network(kind: str, key: int, vlan: int, patch_int: int, flood: list[int],
                unicast: dict[str, int]) -> list[Flow]:
    """One tunnelled network (`kind` vxlan or gre, `key` its VNI or GRE key): in from its
    type's tunnels by key, out by MAC (l2population) or flooded to its tunnels."""
    flows = [flow(T_FROM_TUN[kind], 1, f"tun_id={key:#x}",
                  f"mod_vlan_vid:{vlan},output:{patch_int}")]
    if flood:
        outs = ",".join(f"output:{t}" for t in sorted(flood))
        flows.append(flow(T_FLOOD, 1, f"dl_vlan={vlan}",
                          f"strip_vlan,set_tunnel:{key:#x},{outs}"))
    for mac, tunnel in sorted(unicast.items()):
        flows.append(flow(T_UCAST, 2, f"dl_vlan={vlan},dl_dst={mac}",
                          f"strip_vlan,set_tunnel:{key:#x},output:{tunnel}"))
    return flows


def phys_base() -> list[Flow]:
    return [flow(T_IN, 0, "", "drop")]


def phys_network(vlan: int, provider_vid: int | None, phy_patch: int,
                 nics: list[int]) -> list[Flow]:
    """One provider network on its physical bridge: provider_vid None is flat."""
    out = ",".join(f"output:{n}" for n in sorted(nics))
    to_wire = "strip_vlan" if provider_vid is None else f"mod_vlan_vid:{provider_vid}"
    flows = [flow(T_IN, 4, f"in_port={phy_patch},dl_vlan={vlan}", f"{to_wire},{out}")] \
        if nics else []
    wire_match = "vlan_tci=0x0000/0x1fff" if provider_vid is None else f"dl_vlan={provider_vid}"
    flows += [flow(T_IN, 3 if provider_vid is None else 4, f"in_port={n},{wire_match}",
                   f"mod_vlan_vid:{vlan},output:{phy_patch}") for n in sorted(nics)]
    return flows
