"""The agent's desired L2 state: typed, neutral (no bridge or OVS names in it).

The server hands it to each agent in the same host pull as the QoS. The block the pull
carries (proposed wire shape; `L2Desired.from_wire` reads it):

    {"l2": {
       "networks": [{"network_id": "<uuid>", "network_type": "vxlan",   # flat|vlan|vxlan|gre|local
                     "physical_network": null, "segmentation_id": 1001, "mtu": 1450}],
       "ports":    [{"port_id": "<uuid>", "mac_address": "fa:16:3e:00:00:01",
                     "network_id": "<uuid>", "admin_state_up": true,
                     "device": null}],                      # null: tap<port_id[:11]>
       "remote":   [{"host": "compute-2", "local_ip": "198.18.0.2",
                     "network_id": "<uuid>", "macs": ["fa:16:3e:00:00:02"]}]}}

- `networks`: the segment of every network that has a port bound to this host.
- `ports`: this host's ports (binding:host_id = this host).
- `remote`: per other host with ports on one of those networks, its tunnel endpoint (the
  `local_ip` its agent reported in its heartbeat) and the MACs of its ports there — what
  Neutron's l2population driver sends as fdb_add/fdb_remove, but as a level, not as deltas.

Everything here ends up as `ip`/`bridge` text run as root, so it is validated again on
the agent (the API validates it first): a bad entry is refused on its own, with a reason,
and never stops the host's other ports.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from netqos.trust import MAC

NETWORK_TYPES = ("flat", "vlan", "vxlan", "gre", "local")
TUNNEL_TYPES = ("vxlan", "gre")     # networks carried by tunnels between hosts' local_ip
MAX_VNI = 2 ** 24 - 1
MAX_GRE_KEY = 2 ** 32 - 1
MAX_VID = 4094
_UUIDISH = re.compile(r"[0-9A-Za-z][0-9A-Za-z-]{0,63}")
_IFNAME = re.compile(r"[0-9A-Za-z_][0-9A-Za-z_.-]{0,14}")


class InvalidL2(ValueError):
    """An entry of the desired L2 state that the agent refuses to act on."""


def _id(value, what: str) -> str:
    if not isinstance(value, str) or not _UUIDISH.fullmatch(value):
        raise InvalidL2(f"invalid {what} {value!r}")
    return value


def _mac(value) -> str:
    mac = value.lower() if isinstance(value, str) else value
    if not isinstance(mac, str) or not MAC.fullmatch(mac) or mac == "00:00:00:00:00:00" \
            or int(mac[:2], 16) & 1:
        raise InvalidL2(f"invalid unicast MAC address {value!r}")
    return mac


def _ip(value) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except (TypeError, ValueError):
        raise InvalidL2(f"invalid tunnel endpoint address {value!r}") from None


def valid_ifname(value) -> str:
    if not isinstance(value, str) or not _IFNAME.fullmatch(value):
        raise InvalidL2(f"invalid interface name {value!r}")
    return value


@dataclass(frozen=True)
class Segment:
    network_id: str
    network_type: str                   # flat | vlan | vxlan | gre | local
    physical_network: str | None = None
    segmentation_id: int | None = None  # VLAN id, VNI or GRE key
    mtu: int | None = None

    def __post_init__(self):
        _id(self.network_id, "network id")
        if self.network_type not in NETWORK_TYPES:
            raise InvalidL2(f"unsupported network type {self.network_type!r}")
        seg, physnet = self.segmentation_id, self.physical_network
        if self.network_type in ("flat", "vlan") and not (
                isinstance(physnet, str) and _UUIDISH.fullmatch(physnet.replace("_", "-"))):
            raise InvalidL2(f"{self.network_type} network needs a physical network, "
                            f"got {physnet!r}")
        if self.network_type == "vlan" and not _int_in(seg, 1, MAX_VID):
            raise InvalidL2(f"invalid VLAN id {seg!r} (1-{MAX_VID})")
        if self.network_type == "vxlan" and not _int_in(seg, 1, MAX_VNI):
            raise InvalidL2(f"invalid VNI {seg!r} (1-{MAX_VNI})")
        if self.network_type == "gre" and not _int_in(seg, 1, MAX_GRE_KEY):
            raise InvalidL2(f"invalid GRE key {seg!r} (1-{MAX_GRE_KEY})")
        if self.mtu is not None and not _int_in(self.mtu, 68, 65535):
            raise InvalidL2(f"invalid MTU {self.mtu!r}")

    @classmethod
    def from_wire(cls, d: dict) -> "Segment":
        return cls(network_id=d.get("network_id"), network_type=d.get("network_type"),
                   physical_network=d.get("physical_network"),
                   segmentation_id=d.get("segmentation_id"), mtu=d.get("mtu"))


def _int_in(value, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


@dataclass(frozen=True)
class LocalPort:
    port_id: str
    mac: str
    network_id: str
    admin_state_up: bool = True
    device: str | None = None           # host-side device; None: Neutron's tap<id[:11]>

    def __post_init__(self):
        _id(self.port_id, "port id")
        _id(self.network_id, "network id")
        _mac(self.mac)
        if self.device is not None:
            valid_ifname(self.device)
        if not isinstance(self.admin_state_up, bool):
            raise InvalidL2(f"invalid admin_state_up {self.admin_state_up!r}")

    @property
    def tap(self) -> str:
        return self.device or "tap" + self.port_id[:11]

    @classmethod
    def from_wire(cls, d: dict) -> "LocalPort":
        mac = d.get("mac_address", d.get("mac"))
        return cls(port_id=d.get("port_id"), mac=mac.lower() if isinstance(mac, str) else mac,
                   network_id=d.get("network_id"),
                   admin_state_up=d.get("admin_state_up", True), device=d.get("device"))


@dataclass(frozen=True)
class RemoteEndpoint:
    host: str
    local_ip: str
    network_id: str
    macs: tuple[str, ...] = ()

    def __post_init__(self):
        _id(self.network_id, "network id")
        _ip(self.local_ip)
        for mac in self.macs:
            _mac(mac)

    @classmethod
    def from_wire(cls, d: dict) -> "RemoteEndpoint":
        macs = d.get("macs") or ()
        if not isinstance(macs, (list, tuple)):
            raise InvalidL2(f"invalid MAC list {macs!r}")
        ip = d.get("local_ip")
        return cls(host=str(d.get("host", "")), local_ip=_ip(ip) if ip is not None else ip,
                   network_id=d.get("network_id"),
                   macs=tuple(sorted({m.lower() if isinstance(m, str) else m for m in macs})))


@dataclass(frozen=True)
class L2Desired:
    networks: dict[str, Segment] = field(default_factory=dict)    # network id -> segment
    ports: tuple[LocalPort, ...] = ()
    remote: tuple[RemoteEndpoint, ...] = ()
    refused: dict[str, str] = field(default_factory=dict)         # port id -> reason

    def ports_of(self, network_id: str) -> list[LocalPort]:
        return [p for p in self.ports if p.network_id == network_id]

    def remote_of(self, network_id: str) -> list[RemoteEndpoint]:
        return [r for r in self.remote if r.network_id == network_id]

    @classmethod
    def from_wire(cls, block: dict | None) -> "L2Desired":
        """Read the pull's "l2" block (or the whole pull holding one). A malformed network
        refuses the ports on it, a malformed port refuses that port; the rest stands."""
        block = (block or {}).get("l2", block) or {}
        networks: dict[str, Segment] = {}
        bad_networks: dict[str, str] = {}
        for d in block.get("networks") or ():
            try:
                seg = Segment.from_wire(d)
                networks[seg.network_id] = seg
            except (InvalidL2, AttributeError) as exc:
                bad_networks[str(d.get("network_id") if isinstance(d, dict) else d)] = \
                    str(exc)
        ports, refused = [], {}
        for d in block.get("ports") or ():
            pid = str(d.get("port_id")) if isinstance(d, dict) else str(d)
            try:
                port = LocalPort.from_wire(d)
            except (InvalidL2, AttributeError) as exc:
                refused[pid] = str(exc)
                continue
            if port.network_id in bad_networks:
                refused[pid] = f"network {port.network_id}: {bad_networks[port.network_id]}"
            elif port.network_id not in networks:
                refused[pid] = f"no segment for network {port.network_id}"
            else:
                ports.append(port)
        remote = []
        for d in block.get("remote") or ():
            try:
                remote.append(RemoteEndpoint.from_wire(d))
            except (InvalidL2, AttributeError):
                continue  # a bad endpoint only loses its own tunnel, as a bad port does
        return cls(networks=networks, ports=tuple(ports), remote=tuple(remote),
                   refused=refused)

    def to_wire(self) -> dict:
        return {"l2": {
            "networks": [dict(vars(s)) for s in self.networks.values()],
            "ports": [{"port_id": p.port_id, "mac_address": p.mac,
                       "network_id": p.network_id, "admin_state_up": p.admin_state_up,
                       "device": p.device} for p in self.ports],
            "remote": [{"host": r.host, "local_ip": r.local_ip, "network_id": r.network_id,
                        "macs": list(r.macs)} for r in self.remote]}}
