"""What the kernel should hold for one port, derived from its rules. Pure.

Directions are the VM's view: `ingress` (into the VM) is shaped by the root qdisc of the
host-side device; `egress` (out of the VM) is redirected to the shared IFB and shaped by the
port's HTB class there.
"""
from __future__ import annotations

from dataclasses import dataclass

from netqos.wire import (BandwidthLimit, DscpMarking, MinimumBandwidth, PacketRateLimit,
                         PortQos)
from netqos.agent.tc import maths


@dataclass(frozen=True)
class Shaper:
    rate_bytes_per_s: int
    burst_bytes: int
    queue_bytes: int

    def __str__(self) -> str:
        return (f"rate {self.rate_bytes_per_s * 8 // 1000}kbit "
                f"burst {self.burst_bytes}B queue {self.queue_bytes}B")

    def same_as(self, other: "Shaper | None") -> bool:
        """Equal up to tc's rounding of buckets; rates must match."""
        return (other is not None
                and maths.same_rate(other.rate_bytes_per_s, self.rate_bytes_per_s)
                and maths.close_enough(other.burst_bytes, self.burst_bytes)
                and maths.close_enough(other.queue_bytes, self.queue_bytes))


@dataclass(frozen=True)
class PacketLimit:
    rate_pps: int
    burst_packets: int

    def __str__(self) -> str:
        return f"{self.rate_pps}/s burst {self.burst_packets}"


@dataclass(frozen=True)
class PortSpec:
    port_id: str
    device: str
    mac: str
    ingress: Shaper | None = None          # into the VM: root qdisc of the device
    egress: Shaper | None = None           # out of the VM: class on the shared IFB
    dscp: int | None = None                # mark on packets leaving the VM
    pps_egress: PacketLimit | None = None  # out of the VM
    pps_ingress: PacketLimit | None = None  # into the VM
    min_egress_bytes_per_s: int | None = None  # guarantee on the uplink


def shaper_of(rule: BandwidthLimit | None) -> Shaper | None:
    if rule is None:
        return None
    rate = maths.kbit_to_bytes_per_s(rule.max_kbps)
    burst = maths.burst_bytes(rate, rule.max_burst_kbps)
    return Shaper(rate, burst, maths.limiter_limit_bytes(rate, burst))


def packet_limit_of(rule: PacketRateLimit | None) -> PacketLimit | None:
    if rule is None:
        return None
    pps = rule.max_kpps * 1000
    return PacketLimit(pps, maths.pps_burst_packets(pps, rule.max_burst_kpps))


def port_spec(port: PortQos) -> PortSpec:
    dscp = port.rule(DscpMarking)
    minimum = port.rule(MinimumBandwidth, "egress")
    return PortSpec(
        port_id=port.port_id,
        device=port.device or port.tap_name,
        mac=port.mac_address.lower(),
        ingress=shaper_of(port.rule(BandwidthLimit, "ingress")),
        egress=shaper_of(port.rule(BandwidthLimit, "egress")),
        dscp=dscp.dscp_mark if dscp else None,
        pps_egress=packet_limit_of(port.rule(PacketRateLimit, "egress")),
        pps_ingress=packet_limit_of(port.rule(PacketRateLimit, "ingress")),
        min_egress_bytes_per_s=(maths.kbit_to_bytes_per_s(minimum.min_kbps)
                                if minimum else None),
    )
