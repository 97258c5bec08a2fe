"""What the kernel should hold for one router, derived from its QoS. Pure.

Directions are the VM's view, as in Neutron: `egress` (leaving the VM, out through the
gateway) is shaped on the qg- device's egress and classified by source address; `ingress`
(towards the VM, arriving at the gateway) is shaped on the namespace's IFB and classified by
destination address. A floating IP is limited by its own policy (or its network's), never
by the gateway's: its packets carry the floating IP, not the gateway IP.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from netqos.agent.l3.model import RouterQos
from netqos.agent.tc.spec import Shaper, shaper_of
from netqos.wire import BandwidthLimit, find_rule

GATEWAY = "gateway"
IFB_NAME = "nq-l3-ifb"


@dataclass(frozen=True)
class Flow:
    """Traffic of some addresses through one HTB class of its own."""

    key: str                        # "gateway" or the floating IP's id
    addresses: tuple[str, ...]      # normalised (ipaddress) text
    shaper: Shaper

    @property
    def label(self) -> str:
        return GATEWAY if self.key == GATEWAY else f"fip {self.addresses[0]}"


@dataclass(frozen=True)
class RouterSpec:
    router_id: str
    port_id: str                    # the gateway port: changes and reports carry it
    namespace: str
    device: str                     # qg-…
    egress: tuple[Flow, ...] = ()   # on the device, by source address
    ingress: tuple[Flow, ...] = ()  # on the IFB, by destination address


def normal(address: str) -> str:
    return str(ipaddress.ip_address(address))


def _flows(router: RouterQos, direction: str) -> tuple[Flow, ...]:
    flows = []
    gw = shaper_of(find_rule(router.gw_rules, BandwidthLimit, direction))
    if gw is not None and router.gw_ips:
        flows.append(Flow(GATEWAY, tuple(normal(a) for a in router.gw_ips), gw))
    for fip in router.floatingips:
        shaper = shaper_of(find_rule(fip.rules, BandwidthLimit, direction))
        if shaper is not None:
            flows.append(Flow(fip.fip_id, (normal(fip.address),), shaper))
    return tuple(flows)


def router_spec(router: RouterQos) -> RouterSpec:
    return RouterSpec(router.router_id, router.gw_port_id, router.namespace, router.gw_device,
                      egress=_flows(router, "egress"), ingress=_flows(router, "ingress"))
