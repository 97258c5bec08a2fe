"""The flow pipeline netqos owns on its bridge.

    table 0  from a port:  in_port=P [,ip|ipv6]  meter:bandwidth  set ip_dscp  set_queue
             everything else                     goto 1
    table 1  from a port:  in_port=P             meter:packet rate        goto 2
             everything else                                               goto 2
    table 2  to a port:    dl_dst=MAC            meter:packet rate  set_queue:0  NORMAL
             everything else                                               NORMAL

One OpenFlow 1.3 flow carries at most one meter, hence one table per meter on the way;
into-VM meters match the port's MAC, as the switching (NORMAL) decides the output port
later. Tables 0-2 are netqos's: its catch-all in table 0 (priority 1) shadows the bridge's
default `priority=0 actions=NORMAL`.

Every flow's cookie is its owner's tag in the top 16 bits (0x4e51 for the QoS pipeline,
0x4e52 for the L2 wiring, netqos.agent.l2.openvswitch) and a 48-bit hash of its text below:
a changed flow is a new cookie, so observe needs only the set of cookies on the bridge.
An update is `add` of the new flow (same match: it replaces the old one in place) and
`delete cookie=<old>/-1` (then matches nothing), both in one atomic bundle.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

TAG = 0x4E51
L2_TAG = 0x4E52
COOKIE = TAG << 48
COOKIE_MASK = 0xFFFF << 48
T_FROM, T_FROM_PPS, T_TO = 0, 1, 2
PRIO_PORT, PRIO_PORT_IP, PRIO_DEFAULT_0 = 100, 110, 1


@dataclass(frozen=True)
class Flow:
    table: int
    priority: int
    match: str       # "" or "in_port=3,ip"
    actions: str
    tag: int = TAG   # the owner's 16 cookie bits (not part of the text)

    @property
    def text(self) -> str:
        match = f",{self.match}" if self.match else ""
        return f"table={self.table},priority={self.priority}{match},actions={self.actions}"

    @property
    def cookie(self) -> int:
        digest = hashlib.blake2b(self.text.encode(), digest_size=6).digest()
        return (self.tag << 48) | int.from_bytes(digest, "big")

    def add_line(self) -> str:
        return f"add cookie={self.cookie:#x},{self.text}"


def delete_line(cookie: int) -> str:
    return f"delete cookie={cookie:#x}/-1"


def host_flows() -> list[Flow]:
    return [Flow(T_FROM, PRIO_DEFAULT_0, "", f"goto_table:{T_FROM_PPS}"),
            Flow(T_FROM_PPS, 0, "", f"goto_table:{T_TO}"),
            Flow(T_TO, 0, "", "NORMAL")]


def port_flows(ofport: int, mac: str, egress_meter: int | None, dscp: int | None,
               queue: int | None, pps_out_meter: int | None, pps_in_meter: int | None,
               shaped_in: bool) -> list[Flow]:
    """The flows of one port; empty when it has nothing to enforce."""
    flows: list[Flow] = []
    common = ([f"meter:{egress_meter}"] if egress_meter else []) + \
        ([f"set_queue:{queue}"] if queue is not None else [])
    nxt = f"goto_table:{T_FROM_PPS}"
    if dscp is not None:
        for proto in ("ip", "ipv6"):
            flows.append(Flow(T_FROM, PRIO_PORT_IP, f"in_port={ofport},{proto}",
                              ",".join([*common, f"set_field:{dscp}->ip_dscp", nxt])))
    if common:
        flows.append(Flow(T_FROM, PRIO_PORT, f"in_port={ofport}", ",".join([*common, nxt])))
    if pps_out_meter:
        flows.append(Flow(T_FROM_PPS, PRIO_PORT, f"in_port={ofport}",
                          f"meter:{pps_out_meter},goto_table:{T_TO}"))
    if pps_in_meter or shaped_in:
        actions = ([f"meter:{pps_in_meter}"] if pps_in_meter else []) + \
            (["set_queue:0"] if shaped_in else []) + ["NORMAL"]
        flows.append(Flow(T_TO, PRIO_PORT, f"dl_dst={mac}", ",".join(actions)))
    return flows
