"""The notification bus: hints that something changed, published after each commit.

Two implementations share this interface: in-process (embedded `netqos up`) and RabbitMQ
(cluster). Subscribers must treat an event as a hint and re-pull state from the server.
"""
from __future__ import annotations

import abc
from collections.abc import Callable

from netqos.wire import Event

Handler = Callable[[Event], None]


class Bus(abc.ABC):
    @abc.abstractmethod
    def publish(self, event: Event) -> None:
        """Send a hint; never raises for a delivery problem (the resync heals it)."""

    @abc.abstractmethod
    def subscribe(self, host: str, handler: Handler) -> None:
        """Call `handler` for events that concern `host` (or every host)."""

    def close(self) -> None:
        """Deliver what is still queued (briefly) and release connections."""
