"""The server's database as the API sees it: one way to run a unit of work in a
transaction (retried when a concurrent writer got there first), and a read outside any
request (the metrics collector). api/ reaches the database only through here."""
from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import nullcontext
from typing import TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from netqos.db.engine import begin_write, make_engine, make_sessionmaker, writer_lock
from netqos.service.context import Context
from netqos.service.segment_pools import SegmentPools
from netqos.service.txn import Txn
from netqos.wire import Event

LOG = logging.getLogger(__name__)
T = TypeVar("T")
RETRIES = 5


class Database:
    def __init__(self, url: str):
        self.engine = make_engine(url)
        self.sessions = make_sessionmaker(self.engine)

    def read(self, query: Callable[[Session], T]) -> T:
        """`query`'s result on a session of its own, outside any request (the metrics
        collector's counts)."""
        with self.sessions() as session:
            return query(session)

    def run(self, ctx: Context, work: Callable[[Txn], T], pools: SegmentPools,
            write: bool = True) -> tuple[T, list[Event]]:
        """`work`'s result and the events it emitted, once its transaction committed;
        the caller publishes the events (never before the commit)."""
        lock = writer_lock(self.engine) if write else nullcontext()
        for attempt in range(1, RETRIES + 1):
            try:
                with lock, self.sessions() as session, session.begin():
                    if write:
                        begin_write(session)
                    txn = Txn(session, ctx, pools=pools)
                    result = work(txn)
                return result, txn.events
            except (StaleDataError, DBAPIError) as exc:
                if attempt == RETRIES or not _retriable(exc):
                    raise
                LOG.info("retrying after a concurrent update (%s)", type(exc).__name__)
        raise AssertionError("unreachable: the last attempt returns or raises")


def _retriable(exc: Exception) -> bool:
    if isinstance(exc, StaleDataError):
        return True
    if getattr(exc, "connection_invalidated", False):   # the database dropped it (restart)
        return True
    text = str(getattr(exc, "orig", exc)).lower()
    return any(s in text for s in ("deadlock", "could not serialize", "database is locked"))
