"""One unit of work: a database transaction, the caller, and the events it will publish.

Events are published only after the commit succeeds, so an agent never hears of a change
that the database does not hold.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from netqos.service.context import Context
from netqos.service.segment_pools import SegmentPools


@dataclass(frozen=True)
class Event:
    """A hint for agents: `resource` `id` changed to `revision`; `ports` on `hosts` are
    affected. Agents re-pull what the database holds; the event carries no state."""

    resource: str
    id: str
    revision: int
    hosts: tuple[str, ...] = ()
    ports: tuple[str, ...] = ()

    def to_wire(self) -> dict:
        return {"resource": self.resource, "id": self.id, "revision": self.revision,
                "hosts": list(self.hosts), "ports": list(self.ports)}


@dataclass
class Txn:
    session: Session
    ctx: Context
    events: list[Event] = field(default_factory=list)
    pools: SegmentPools = field(default_factory=SegmentPools)   # the server's settings

    def emit(self, event: Event) -> None:
        self.events.append(event)
