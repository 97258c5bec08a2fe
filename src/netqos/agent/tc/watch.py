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

import logging
import subprocess
import threading
from collections.abc import Callable

from pyroute2 import IPRoute
from pyroute2.netlink import rtnl

from netqos.agent.discover import port_device

LOG = logging.getLogger(__name__)

TCM_IFINDEX_MAGIC_BLOCK = 0xFFFFFFFF   # the ifindex of a filter event on a shared block
_TC_EVENTS = {"RTM_NEWQDISC", "RTM_DELQDISC", "RTM_NEWTCLASS", "RTM_DELTCLASS",
              "RTM_NEWTFILTER", "RTM_DELTFILTER"}
_LINK_EVENTS = {"RTM_NEWLINK", "RTM_DELLINK"}


class TcWatcher:
    """Calls `on_change` when a managed tc object, a managed device or our nft table changes.

    owned(): the ifindexes the backend manages now; quiet(): True while the backend itself
    changes the kernel (its events are not drift).
    """

    def __init__(self, netns: str | None, on_change: Callable[[], None],
                 owned: Callable[[], set[int]], quiet: Callable[[], bool]):
        self.netns = netns
        self.on_change = on_change
        self.owned = owned
        self.quiet = quiet
        self._stop = threading.Event()
        self._nft: subprocess.Popen | None = None
        self._threads = [threading.Thread(target=self._netlink, name="netqos-tc-watch",
                                          daemon=True),
                         threading.Thread(target=self._nft_monitor, name="netqos-nft-watch",
                                          daemon=True)]

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        if self._nft is not None and self._nft.poll() is None:
            self._nft.kill()

    def _wake(self) -> None:
        if not self.quiet():
            self.on_change()

    # ---- netlink ----
    def relevant(self, msg) -> bool:
        event, index = msg.get("event"), msg.get("index")
        if event in _TC_EVENTS:
            return index in (TCM_IFINDEX_MAGIC_BLOCK, -1) or index in self.owned()
        if event in _LINK_EVENTS:
            return port_device(msg.get_attr("IFLA_IFNAME")) or (
                event == "RTM_DELLINK" and index in self.owned())
        return False

    def _netlink(self) -> None:
        try:
            with (IPRoute(netns=self.netns) if self.netns else IPRoute()) as ipr:
                ipr.bind(groups=rtnl.RTMGRP_LINK | rtnl.RTMGRP_TC)
                while not self._stop.is_set():
                    if any(self.relevant(msg) for msg in ipr.get()):
                        self._wake()
        except Exception:  # the periodic resync still repairs drift
            LOG.exception("tc watcher stopped; relying on the periodic resync")

    # ---- nftables ----
    def _nft_monitor(self) -> None:
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        try:
            self._nft = subprocess.Popen([*prefix, "nft", "monitor"], stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, text=True)
            for line in self._nft.stdout or ():
                if self._stop.is_set():
                    break
                if " netqos" in line or "ruleset" in line:
                    self._wake()
        except Exception:
            LOG.exception("nft watcher stopped; relying on the periodic resync")
        finally:
            if self._nft is not None and self._nft.poll() is None:
                self._nft.kill()
