"""Which kernel/switch events a backend caused itself, so its watcher does not call them
drift and wake the agent for a pass that would find nothing to do."""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

QUIET_AFTER_APPLY_S = 0.25   # netlink / flow monitors deliver our own batch's events late


class OwnEvents:
    """Tells a watcher which events a backend caused itself: those of an apply in
    progress, and those delivered up to QUIET_AFTER_APPLY_S after it ended. A hand edit in
    that window waits for the next event or the periodic resync."""

    def __init__(self) -> None:
        self._until = 0.0

    @contextmanager
    def applying(self, really: bool = True) -> Iterator[None]:
        if not really:
            yield
            return
        self._until = float("inf")
        try:
            yield
        finally:
            self._until = time.monotonic() + QUIET_AFTER_APPLY_S

    def quiet(self) -> bool:
        return time.monotonic() < self._until
