"""What observe reads back from the kernel: plain data, no behaviour beyond lookups.

Everything netqos creates carries a tag that observe recognises:
- qdiscs and classes: handle major OUR_MAJOR (0x4e51, "NQ") on taps, the IFB and the uplink;
- the clsact qdisc of a tap: ingress_block OUR_BLOCK, whose filters are the port classifier
  (eBPF, pref CLASSIFIER_PREF) and the redirect to the IFB (u32 + mirred, pref REDIRECT_PREF);
- the classifier's map: tap ifindex -> the port's classid on the IFB;
- the IFB: its fixed name IFB_NAME;
- nftables: the tables `netqos` (families inet and bridge), per-port chains named by port id.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from netqos.agent.tc.spec import PacketLimit, Shaper

OUR_MAJOR = 0x4E51
OUR_BLOCK = 0x4E51
IFB_NAME = "nq-ifb"
UNMATCHED_MINOR = 1     # IFB: a tap bound to our block but not (yet) in the classifier map
UPLINK_ROOT_MINOR = 1   # uplink: the class holding the capacity
UPLINK_DEFAULT_MINOR = 2  # uplink: traffic without a guarantee
FIRST_PORT_MINOR = 0x10
LAST_PORT_MINOR = OUR_MAJOR - 1   # a leaf qdisc takes the minor as its handle: never ours
CLASSIFIER_PREF = 1       # block filter: the eBPF port classifier
REDIRECT_PREF = 2         # block filter: u32 match-all + mirred to the IFB


@dataclass
class HtbClass:
    minor: int
    parent_minor: int | None       # None: a root class of the HTB qdisc
    rate_bytes_per_s: int
    ceil_bytes_per_s: int
    burst_bytes: int
    queue_bytes: int | None = None  # byte limit of its bfifo leaf, None without one

    def shaper(self) -> Shaper:
        return Shaper(self.rate_bytes_per_s, self.burst_bytes, self.queue_bytes or 0)


@dataclass
class MacFilter:
    handle: str      # u32 handle "2:a5:10"
    mac: str
    minor: int       # class it sends to


@dataclass
class HtbTree:
    """An HTB qdisc of ours on one device, with its classes (and the MAC filters an older
    netqos classified with, which the planner removes)."""

    device: str
    present: bool = False              # root htb with our handle
    default_minor: int | None = None
    hashed: bool = False               # the u32 hash table and its link filter exist
    classes: dict[int, HtbClass] = field(default_factory=dict)
    filters: list[MacFilter] = field(default_factory=list)


@dataclass
class PortChain:
    """A per-port nft chain: packet-rate limit and DSCP mark, as read back."""

    limit: PacketLimit | None = None
    dscp4: int | None = None
    dscp6: int | None = None
    other_rules: int = 0     # rules we never write: someone edited the chain


@dataclass
class NftFamily:
    present: bool = False
    hooks_ok: bool = False                                 # both base chains with their vmap
    uplink_hook: str | None = None    # uplink its base chain classifies (bridge: nft.ANY_DEVICE)
    uplink_class: dict[str, int] = field(default_factory=dict)   # device -> classid minor
    from_vm: dict[str, str] = field(default_factory=dict)  # device -> chain
    to_vm: dict[str, str] = field(default_factory=dict)
    chains: dict[str, PortChain] = field(default_factory=dict)


@dataclass
class HostState:
    links: dict[str, int] = field(default_factory=dict)         # name -> ifindex
    root_tbf: dict[str, Shaper] = field(default_factory=dict)   # our TBF root per device
    foreign_root: dict[str, str] = field(default_factory=dict)  # device -> kind, not ours
    redirected: set[str] = field(default_factory=set)           # clsact on our block
    block_filter_to: str | None = None                          # IFB the block redirects to
    block_prefs: dict[int, str] = field(default_factory=dict)   # block filter pref -> kind
    classifier_prog: int | None = None                          # eBPF program id, pref 1
    port_classes: dict[int, int] = field(default_factory=dict)  # tap ifindex -> IFB minor
    ifb: HtbTree = field(default_factory=lambda: HtbTree(IFB_NAME))
    uplink: HtbTree | None = None
    nft: dict[str, NftFamily] = field(default_factory=dict)     # family -> tables' state

    def egress_class(self, device: str) -> HtbClass | None:
        """The IFB class the classifier sends `device`'s packets to, if any."""
        minor = self.port_classes.get(self.links.get(device, -1))
        return self.ifb.classes.get(minor) if minor is not None else None

    def uplink_class(self, device: str) -> HtbClass | None:
        """The uplink class nftables puts packets that entered on `device` in, if any."""
        family = self.nft.get("inet")
        minor = family.uplink_class.get(device) if family else None
        return self.uplink.classes.get(minor) if self.uplink and minor is not None else None
