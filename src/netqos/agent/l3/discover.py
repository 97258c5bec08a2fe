"""Which routers live here, and the events that wake the agent when that changes.

A router is here when its namespace `qrouter-<id>` exists (a bind mount in /run/netns, as
`ip netns` and Neutron's L3 agent make them); whether its gateway device is in it is read
with the rest of the namespace's state. The watcher wakes the agent when a qrouter-
namespace appears or goes (a listing of /run/netns every second) and when a device appears
or goes inside one, or a qdisc, class or filter changes there (everything tc holds in a
router's namespace is ours: a hand edit is drift, repaired by the pass it triggers); a
netlink socket per namespace, closed as soon as the namespace is deleted, so it never keeps
a deleted namespace alive for more than a second.
"""
from __future__ import annotations

import logging
import os
import select
from collections.abc import Callable, Iterable

from pyroute2 import IPRoute
from pyroute2.netlink import rtnl

from netqos.agent.l3.model import RouterQos
from netqos.agent.watching import Watcher

LOG = logging.getLogger(__name__)
NETNS_DIR = "/run/netns"
PREFIX = "qrouter-"
SCAN_SECONDS = 1.0
EVENTS = {"RTM_NEWLINK", "RTM_DELLINK", "RTM_NEWQDISC", "RTM_DELQDISC", "RTM_NEWTCLASS",
          "RTM_DELTCLASS", "RTM_NEWTFILTER", "RTM_DELTFILTER"}


def namespaces(prefix: str = PREFIX) -> set[str]:
    try:
        return {n for n in os.listdir(NETNS_DIR) if n.startswith(prefix)}
    except FileNotFoundError:
        return set()


def present(routers: Iterable[RouterQos]) -> tuple[list[RouterQos], list[RouterQos]]:
    """(routers whose namespace exists here, routers without one)."""
    here = namespaces()
    found: list[RouterQos] = []
    missing: list[RouterQos] = []
    for router in routers:
        (found if router.namespace in here else missing).append(router)
    return found, missing


class NamespaceWatcher(Watcher):
    """Calls `on_change` when a qrouter- namespace, or a device in one, appears or goes, or
    tc changes in one, unless `quiet()` (the backend is applying: its own events)."""

    def __init__(self, netns: str | None, on_change: Callable[[], None],
                 quiet: Callable[[], bool] = lambda: False):
        super().__init__(("netqos-l3-netns", self._run))
        self.on_change = on_change          # `netns` is the port agent's; unused here
        self.quiet = quiet
        self._socks: dict[str, IPRoute] = {}

    def _run(self) -> None:
        try:
            known = namespaces()
            self._follow(known)
            while not self._stop.is_set():
                self._wait_events(SCAN_SECONDS)
                now = namespaces()
                if now != known:
                    known = now
                    self._follow(known)
                    self.on_change()
        finally:
            for sock in self._socks.values():
                sock.close()
            self._socks.clear()

    def _follow(self, names: set[str]) -> None:
        for name in list(self._socks):
            if name not in names:
                self._socks.pop(name).close()
        for name in sorted(names - set(self._socks)):
            try:
                sock = IPRoute(netns=name)
                sock.bind(groups=rtnl.RTMGRP_LINK | rtnl.RTMGRP_TC)
            except Exception as exc:  # deleted meanwhile
                LOG.debug("cannot watch %s: %s", name, exc)
                continue
            self._socks[name] = sock

    def _wait_events(self, timeout: float) -> None:
        by_fd = {s.fileno(): s for s in self._socks.values()}
        if not by_fd:
            self._stop.wait(timeout)
            return
        ready, _, _ = select.select(list(by_fd), [], [], timeout)
        changed = False
        for fd in ready:
            for msg in by_fd[fd].get():
                changed |= msg.get("event") in EVENTS
        if changed and not self.quiet():
            self.on_change()
