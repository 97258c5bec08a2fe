"""What the L3 role is told to enforce for one router, as pulled from the server.

Contract of GET /v2.0/netqos/hosts/{host}/routers (service/l3.py):
{"revision": R, "routers": [RouterQos wire dicts]}.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from netqos import trust
from netqos.wire import Rule, decode_rules, typed_rules


@dataclass(frozen=True)
class FipQos:
    fip_id: str
    address: str                     # the floating IP (IPv4 or IPv6)
    fixed_ip: str | None = None
    policy_id: str | None = None
    rules: tuple[Rule, ...] = ()     # bandwidth_limit rules only (the others are ignored)
    revision: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", typed_rules(self.rules))   # dicts typed once

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> "FipQos":
        """Decode and check (netqos.trust): raises trust.Untrusted."""
        return cls(fip_id=trust.identifier(d.get("id"), "floatingip.id"),
                   address=trust.ip_address(d.get("floating_ip_address"),
                                            "floating_ip_address"),
                   fixed_ip=trust.optional(trust.ip_address, d.get("fixed_ip_address"),
                                           "fixed_ip_address"),
                   policy_id=trust.optional(trust.identifier, d.get("policy_id"),
                                            "floatingip.policy_id"),
                   rules=decode_rules(d.get("rules", ()), "floatingip.rules"),
                   revision=trust.integer(d.get("revision", 0), "floatingip.revision",
                                          maximum=trust.MAX_REVISION))


@dataclass(frozen=True)
class RouterQos:
    router_id: str
    revision: int                    # the gateway port's QoS revision
    gw_port_id: str
    gw_device: str                   # qg-<gw_port_id[:11]>
    namespace: str                   # qrouter-<router_id>
    gw_ips: tuple[str, ...] = ()
    gw_policy_id: str | None = None
    gw_rules: tuple[Rule, ...] = ()
    floatingips: tuple[FipQos, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "gw_rules", typed_rules(self.gw_rules))   # dicts typed once

    # The agent loop reports per port: a router reports as its gateway port.
    @property
    def port_id(self) -> str:
        return self.gw_port_id

    @property
    def device(self) -> str:
        return self.gw_device

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self.gw_rules

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> "RouterQos":
        """Decode and check (netqos.trust): raises trust.Untrusted, also for any
        of its floating IPs (the router is then refused whole)."""
        fips = trust.items(d.get("floatingips", ()), "floatingips")
        return cls(router_id=trust.identifier(d.get("router_id"), "router_id"),
                   revision=trust.integer(d.get("revision"), "revision",
                                          maximum=trust.MAX_REVISION),
                   gw_port_id=trust.identifier(d.get("gw_port_id"), "gw_port_id"),
                   gw_device=trust.device_name(d.get("gw_device"), "gw_device"),
                   namespace=trust.namespace_name(d.get("namespace")),
                   gw_ips=trust.each(d.get("gw_ips", ()), trust.ip_address, "gw_ips"),
                   gw_policy_id=trust.optional(trust.identifier, d.get("gw_policy_id"),
                                               "gw_policy_id"),
                   gw_rules=decode_rules(d.get("gw_rules", ()), "gw_rules"),
                   floatingips=tuple(FipQos.from_wire(trust.record(f, "floatingip"))
                                     for f in fips))
