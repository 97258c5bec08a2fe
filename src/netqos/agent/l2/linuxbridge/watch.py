"""Netlink events that should wake the L2 engine at once (the periodic resync covers the
rest): a port's tap, a netqos bridge or vxlan device, a mapped uplink appearing, changing
(master, up/down) or disappearing, and a vxlan fdb entry added or removed.

Frames on the wire make the bridges learn and age MACs all the time; those fdb events
carry no remote `dst` and are ignored, or traffic alone would keep the engine busy."""
from __future__ import annotations

import socket
from collections.abc import Callable, Collection
from typing import Any

from netqos.agent.l2.linuxbridge import names
from netqos.agent.watching import Watcher, netlink_events

LINK_EVENTS = ("RTM_NEWLINK", "RTM_DELLINK")
NEIGH_EVENTS = ("RTM_NEWNEIGH", "RTM_DELNEIGH")


def relevant(msg: Any, uplinks: Collection[str]) -> bool:
    event = msg.get("event")
    if event in LINK_EVENTS:
        name = msg.get_attr("IFLA_IFNAME") or ""
        return name.startswith((names.TAP_PREFIX, names.BRIDGE_PREFIX, names.VXLAN_PREFIX)) \
            or name.split(".")[0] in uplinks
    if event in NEIGH_EVENTS:
        return msg.get("family") == socket.AF_BRIDGE and msg.get_attr("NDA_DST") is not None
    return False


class L2Watcher(Watcher):
    def __init__(self, netns: str | None, uplinks: Collection[str],
                 on_change: Callable[[], None]):
        super().__init__(("netqos-l2-events", self._run))
        self.netns = netns
        self.uplinks = set(uplinks)
        self.on_change = on_change

    def _run(self) -> None:
        netlink_events(self.netns, self._stop, lambda m: relevant(m, self.uplinks),
                       self.on_change)
