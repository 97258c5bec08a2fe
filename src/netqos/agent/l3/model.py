"""What the L3 role is told to enforce for one router, as pulled from the server.

Contract of GET /v2.0/netqos/hosts/{host}/routers (service/l3.py):
{"revision": R, "routers": [RouterQos wire dicts]}.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FipQos:
    fip_id: str
    address: str                     # the floating IP (IPv4 or IPv6)
    fixed_ip: str | None = None
    policy_id: str | None = None
    rules: tuple[dict, ...] = ()     # bandwidth_limit rules only (the others are ignored)
    revision: int = 0

    @classmethod
    def from_wire(cls, d: dict) -> "FipQos":
        return cls(fip_id=d["id"], address=d["floating_ip_address"],
                   fixed_ip=d.get("fixed_ip_address"), policy_id=d.get("policy_id"),
                   rules=tuple(d.get("rules", ())), revision=d.get("revision", 0))


@dataclass(frozen=True)
class RouterQos:
    router_id: str
    revision: int                    # the gateway port's QoS revision
    gw_port_id: str
    gw_device: str                   # qg-<gw_port_id[:11]>
    namespace: str                   # qrouter-<router_id>
    gw_ips: tuple[str, ...] = ()
    gw_policy_id: str | None = None
    gw_rules: tuple[dict, ...] = ()
    floatingips: tuple[FipQos, ...] = ()

    # The agent loop reports per port: a router reports as its gateway port.
    @property
    def port_id(self) -> str:
        return self.gw_port_id

    @property
    def device(self) -> str:
        return self.gw_device

    @property
    def rules(self) -> tuple[dict, ...]:
        return self.gw_rules

    @classmethod
    def from_wire(cls, d: dict) -> "RouterQos":
        return cls(router_id=d["router_id"], revision=d["revision"],
                   gw_port_id=d["gw_port_id"], gw_device=d["gw_device"],
                   namespace=d["namespace"], gw_ips=tuple(d.get("gw_ips", ())),
                   gw_policy_id=d.get("gw_policy_id"), gw_rules=tuple(d.get("gw_rules", ())),
                   floatingips=tuple(FipQos.from_wire(f) for f in d.get("floatingips", ())))
