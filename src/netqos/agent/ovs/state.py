"""What observe reads back from OVSDB and the switch: plain data.

What netqos creates carries its owner, so a restarted agent adopts it and removes what
belongs to ports that are gone:
- QoS and Queue rows: external_ids netqos-port=<port id> (the uplink's: netqos-uplink=1);
- meters (OpenFlow has no tag for them): the bridge's external_ids
  netqos-meter-<id>=<port id>/<kind> record each one, written before the meter exists and
  removed after it is gone, so a crash in between leaves a record, never an orphan;
- flows: cookies 0x4e51 in their top 16 bits (see flows.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field

PORT_KEY = "netqos-port"
UPLINK_KEY = "netqos-uplink"
METER_KEY_PREFIX = "netqos-meter-"


@dataclass(frozen=True)
class Meter:
    meter_id: int
    unit: str        # "kbps" | "pktps"
    rate: int
    burst: int


@dataclass
class Iface:
    name: str
    port_id: str | None       # external_ids:iface-id
    ofport: int               # -1 / 0: not (yet) attached
    mac: str                  # external_ids:attached-mac, else the mac_in_use
    port_name: str            # the Port row holding it (same name for os-vif taps)
    qos: str | None = None    # uuid of the Port's QoS row
    policing_kbps: int = 0
    policing_burst_kbit: int = 0


@dataclass
class QueueRow:
    uuid: str
    max_rate_bps: int | None
    min_rate_bps: int | None
    burst_bits: int | None
    port_id: str | None


@dataclass
class QosRow:
    uuid: str
    kind: str                                   # linux-htb, ...
    port_id: str | None                         # netqos-port, None for the uplink's
    uplink: bool
    max_rate_bps: int | None
    queues: dict[int, QueueRow] = field(default_factory=dict)
    attached: list[str] = field(default_factory=list)   # names of Ports using it


@dataclass
class OvsState:
    bridge_exists: bool = False
    datapath_type: str = ""
    userspace_tso: bool = False        # Open_vSwitch other_config:userspace-tso-enable
    ifaces: dict[str, Iface] = field(default_factory=dict)        # port id -> interface
    port_names: set[str] = field(default_factory=set)             # Ports on the bridge
    qos: dict[str, QosRow] = field(default_factory=dict)          # ours only, by uuid
    registry: dict[int, tuple[str, str]] = field(default_factory=dict)  # meter -> (port, kind)
    meters: dict[int, Meter] = field(default_factory=dict)        # all meters on the bridge
    cookies: set[int] = field(default_factory=set)                # our flows on the bridge

    def qos_of_port(self, port_id: str) -> list[QosRow]:
        return [q for q in self.qos.values() if q.port_id == port_id and not q.uplink]
