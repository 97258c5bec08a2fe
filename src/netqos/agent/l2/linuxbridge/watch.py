"""Netlink events that should wake the L2 engine at once (the periodic resync covers the
rest): a port's tap, a netqos bridge or vxlan device, a mapped uplink appearing, changing
(master, up/down) or disappearing, and a vxlan fdb entry added or removed.

Frames on the wire make the bridges learn and age MACs all the time; those fdb events
carry no remote `dst` and are ignored, or traffic alone would keep the engine busy."""
from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Collection

from pyroute2 import IPRoute

from netqos.agent.l2.linuxbridge import names

LOG = logging.getLogger(__name__)
LINK_EVENTS = ("RTM_NEWLINK", "RTM_DELLINK")
NEIGH_EVENTS = ("RTM_NEWNEIGH", "RTM_DELNEIGH")


def relevant(msg, uplinks: Collection[str]) -> bool:
    event = msg.get("event")
    if event in LINK_EVENTS:
        name = msg.get_attr("IFLA_IFNAME") or ""
        return name.startswith((names.TAP_PREFIX, names.BRIDGE_PREFIX, names.VXLAN_PREFIX)) \
            or name.split(".")[0] in uplinks
    if event in NEIGH_EVENTS:
        return msg.get("family") == socket.AF_BRIDGE and msg.get_attr("NDA_DST") is not None
    return False


class L2Watcher:
    def __init__(self, netns: str | None, uplinks: Collection[str],
                 on_change: Callable[[], None]):
        self.netns = netns
        self.uplinks = set(uplinks)
        self.on_change = on_change
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="netqos-l2-events",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        try:
            with (IPRoute(netns=self.netns) if self.netns else IPRoute()) as ipr:
                ipr.bind()
                while not self._stop.is_set():
                    if any(relevant(m, self.uplinks) for m in ipr.get()):
                        self.on_change()
        except Exception:  # the periodic resync still repairs everything
            LOG.exception("L2 netlink watcher stopped; relying on the periodic resync")
