"""In-process bus for the embedded mode: the agent lives in the server's process."""
from __future__ import annotations

import logging
import threading

from netqos.bus.base import Bus, Handler
from netqos.wire import Event

LOG = logging.getLogger(__name__)


class InProcessBus(Bus):
    def __init__(self) -> None:
        self._handlers: list[tuple[str, Handler]] = []
        self._lock = threading.Lock()

    def subscribe(self, host: str, handler: Handler) -> None:
        with self._lock:
            self._handlers.append((host, handler))

    def publish(self, event: Event) -> None:
        with self._lock:
            handlers = list(self._handlers)
        for host, handler in handlers:
            if not event.hosts or host in event.hosts:
                try:
                    handler(event)
                except Exception:  # a subscriber's bug must not fail the API request
                    LOG.exception("bus subscriber for %s failed", host)
