"""The skeleton the agent's watchers share (tc/watch.py, ovs/watch.py, l3/discover.py,
l2/*/watch.py, discover.LinkWatcher), and the two event sources most of them read.

A watcher only wakes the agent: the pass it triggers observes everything and repairs what
differs, as the periodic resync does. So a watcher thread that fails logs it and ends;
the resync stays the safety net.
"""
from __future__ import annotations

import logging
import subprocess
import threading
from collections.abc import Callable
from typing import Any

from pyroute2 import IPRoute

LOG = logging.getLogger(__name__)


class Watcher:
    """Daemon threads, one per (thread name, body) given, started by start(); stop() sets
    self._stop, which every body checks (a subclass also releases what a body blocks on)."""

    def __init__(self, *bodies: tuple[str, Callable[[], None]]):
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._guarded, args=(name, body), name=name,
                                          daemon=True) for name, body in bodies]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()

    @staticmethod
    def _guarded(name: str, body: Callable[[], None]) -> None:
        try:
            body()
        except Exception:
            LOG.exception("%s stopped; relying on the periodic resync", name)


def netlink_events(netns: str | None, stop: threading.Event, relevant: Callable[[Any], bool],
                   wake: Callable[[], None], groups: int | None = None) -> None:
    """Call wake() after each batch of rtnetlink messages (of `groups`, else pyroute2's
    default groups) in which one is relevant, until `stop` is set."""
    with (IPRoute(netns=netns) if netns else IPRoute()) as ipr:
        ipr.bind() if groups is None else ipr.bind(groups=groups)
        while not stop.is_set():
            if any(relevant(msg) for msg in ipr.get()):
                wake()


class LineMonitor:
    """A monitoring command (`nft monitor`, `ovs-ofctl monitor`) read line by line."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None

    def follow(self, argv: list[str], stop: threading.Event, matches: Callable[[str], bool],
               wake: Callable[[], None], env: dict[str, str] | None = None,
               stderr: int = subprocess.DEVNULL) -> None:
        """Call wake() for each line that matches, until `stop` is set or it exits."""
        try:
            self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr,
                                         text=True, env=env)
            for line in self.proc.stdout or ():
                if stop.is_set():
                    break
                if matches(line):
                    wake()
        finally:
            self.kill()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()   # reaped: a monitor restarted per switch restart leaves no zombie
