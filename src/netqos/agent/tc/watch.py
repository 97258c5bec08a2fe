"""Event-driven drift repair: wake the agent when a kernel object the tc backend owns changes.

Two sources, each on its own daemon thread:
- netlink (rtnetlink groups LINK and TC): a qdisc, class or filter added, changed or deleted
  on a device we manage (a port's tap, the IFB, the uplink) or on our shared block, a managed
  device deleted, or a port's device appearing or going (what discover.LinkWatcher does);
- `nft monitor`: any change to a table `netqos` (or a flushed ruleset).

The watcher only wakes the agent: the pass it triggers observes everything, plans, repairs
and reports what differed from what we wrote as drift, exactly as the periodic resync
(which stays, as the safety net for anything an event cannot show: a lost netlink message,
an edited eBPF map). Events our own apply causes are ignored (`quiet()` says when we are
applying), so a repair does not trigger another pass.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyroute2.netlink import rtnl

from netqos.agent.discover import port_device
from netqos.agent.watching import LineMonitor, Watcher, netlink_events


TCM_IFINDEX_MAGIC_BLOCK = 0xFFFFFFFF   # the ifindex of a filter event on a shared block
_TC_EVENTS = {"RTM_NEWQDISC", "RTM_DELQDISC", "RTM_NEWTCLASS", "RTM_DELTCLASS",
              "RTM_NEWTFILTER", "RTM_DELTFILTER"}
_LINK_EVENTS = {"RTM_NEWLINK", "RTM_DELLINK"}


class TcWatcher(Watcher):
    """Calls `on_change` when a managed tc object, a managed device or our nft table changes.

    owned(): the ifindexes the backend manages now; quiet(): True while the backend itself
    changes the kernel (its events are not drift).
    """

    def __init__(self, netns: str | None, on_change: Callable[[], None],
                 owned: Callable[[], set[int]], quiet: Callable[[], bool]):
        super().__init__(("netqos-tc-watch", self._netlink),
                         ("netqos-nft-watch", self._nft_monitor))
        self.netns = netns
        self.on_change = on_change
        self.owned = owned
        self.quiet = quiet
        self._nft = LineMonitor()

    def stop(self) -> None:
        super().stop()
        self._nft.kill()

    def _wake(self) -> None:
        if not self.quiet():
            self.on_change()

    # ---- netlink ----
    def relevant(self, msg: Any) -> bool:
        event, index = msg.get("event"), msg.get("index")
        if event in _TC_EVENTS:
            return index in (TCM_IFINDEX_MAGIC_BLOCK, -1) or index in self.owned()
        if event in _LINK_EVENTS:
            return port_device(msg.get_attr("IFLA_IFNAME")) or (
                event == "RTM_DELLINK" and index in self.owned())
        return False

    def _netlink(self) -> None:
        netlink_events(self.netns, self._stop, self.relevant, self._wake,
                       groups=rtnl.RTMGRP_LINK | rtnl.RTMGRP_TC)

    # ---- nftables ----
    def _nft_monitor(self) -> None:
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        self._nft.follow([*prefix, "nft", "monitor"], self._stop,
                         lambda line: " netqos" in line or "ruleset" in line, self._wake)
