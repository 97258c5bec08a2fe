"""One unit of work: a database transaction, the caller, and the events it will publish.

Events are published only after the commit succeeds, so an agent never hears of a change
that the database does not hold.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from netqos.service.context import Context
from netqos.service.segment_pools import SegmentPools
from netqos.wire import Event


@dataclass
class Txn:
    session: Session
    ctx: Context
    events: list[Event] = field(default_factory=list)
    pools: SegmentPools = field(default_factory=SegmentPools)   # the server's settings

    def emit(self, event: Event) -> None:
        self.events.append(event)
