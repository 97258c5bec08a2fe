"""What Open vSwitch should hold for one port, derived from its rules. Pure.

Units, as OVS takes them: meter rates kbit/s (1000 bit/s) and bursts kbit, or packets/s and
packets; HTB queue rates bit/s and bursts bit.

Directions are the VM's view: `egress` (out of the VM) arrives on the port, `ingress`
(into the VM) leaves the bridge through it.

Why these bursts (measured on this project's machines, netdev datapath, userspace TSO on):
- An egress kbps meter is a policer: TCP through it needs a bucket that holds several TSO
  super-packets (up to 64 KB each) and some time at the rate. A bucket of 0.05 s of the
  rate gave 0.25 of the limit, 0.1 s 0.5, 0.2 s 0.89-0.97, 0.5 s 0.975, 0.8 s 0.99 (TCP
  goodput / limit, 10 and 100 Mbit/s). Default: METER_BURST_MS of the rate, and never
  less than METER_MIN_BURST_KBIT, even when the rule asks for less. (The planner also
  scales the meter's rate when userspace TSO hides TCP headers from it: see
  plan.Mechanisms.meter_scale.)
- The HTB queue (into the VM) shapes; its own default burst (one MTU at the rate's tick)
  reaches 0.95 of the limit; a rule's max_burst_kbps is passed on as the queue's burst.
"""
from __future__ import annotations

from dataclasses import dataclass

from netqos.wire import (BandwidthLimit, DscpMarking, MinimumBandwidth, PacketRateLimit,
                         PortQos)

METER_BURST_MS = 400
METER_MIN_BURST_KBIT = 1049          # two 64 KB TSO segments
PPS_BURST_MS = 10                    # as the tc backend's nft limit
PPS_MIN_BURST_PACKETS = 5


@dataclass(frozen=True)
class MeterSpec:
    unit: str        # "kbps" | "pktps"
    rate: int        # kbit/s or packets/s
    burst: int       # kbit or packets

    def __str__(self) -> str:
        return (f"{self.rate}kbit/s burst {self.burst}kbit" if self.unit == "kbps"
                else f"{self.rate}pps burst {self.burst}")


@dataclass(frozen=True)
class QueueSpec:
    max_rate_bps: int
    burst_bits: int | None = None    # None: OVS's default

    def __str__(self) -> str:
        burst = f" burst {self.burst_bits // 1000}kbit" if self.burst_bits else ""
        return f"max-rate {self.max_rate_bps // 1000}kbit/s{burst}"


@dataclass(frozen=True)
class PortSpec:
    port_id: str
    mac: str
    egress_bw: MeterSpec | None = None      # out of the VM: kbps meter, or policing
    ingress_bw: QueueSpec | None = None     # into the VM: linux-htb queue 0 on the port
    dscp: int | None = None                 # set on IPv4 and IPv6 packets from the VM
    egress_pps: MeterSpec | None = None     # out of the VM: pktps meter
    ingress_pps: MeterSpec | None = None    # into the VM: pktps meter, matched by dl_dst
    min_egress_kbps: int | None = None      # guarantee: queue min-rate on the uplink


def kbps_meter(rule: BandwidthLimit | None) -> MeterSpec | None:
    if rule is None:
        return None
    rate = rule.max_kbps
    asked = rule.max_burst_kbps
    burst = asked if asked > 0 else rate * METER_BURST_MS // 1000
    return MeterSpec("kbps", rate, max(burst, METER_MIN_BURST_KBIT))


def pps_meter(rule: PacketRateLimit | None) -> MeterSpec | None:
    if rule is None:
        return None
    pps = rule.max_kpps * 1000
    asked = rule.max_burst_kpps * 1000
    return MeterSpec("pktps", pps, asked or max(pps * PPS_BURST_MS // 1000,
                                                PPS_MIN_BURST_PACKETS))


def queue(rule: BandwidthLimit | None) -> QueueSpec | None:
    if rule is None:
        return None
    burst = rule.max_burst_kbps * 1000
    return QueueSpec(rule.max_kbps * 1000, burst or None)


def port_spec(port: PortQos) -> PortSpec:
    dscp = port.rule(DscpMarking)
    minimum = port.rule(MinimumBandwidth, "egress")
    return PortSpec(
        port_id=port.port_id, mac=port.mac_address.lower(),
        egress_bw=kbps_meter(port.rule(BandwidthLimit, "egress")),
        ingress_bw=queue(port.rule(BandwidthLimit, "ingress")),
        dscp=dscp.dscp_mark if dscp else None,
        egress_pps=pps_meter(port.rule(PacketRateLimit, "egress")),
        ingress_pps=pps_meter(port.rule(PacketRateLimit, "ingress")),
        min_egress_kbps=minimum.min_kbps if minimum else None)
