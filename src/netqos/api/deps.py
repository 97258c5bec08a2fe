"""Per-request plumbing: the caller's identity and the transaction a handler runs in."""
from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import nullcontext
from typing import TypeVar

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.exc import StaleDataError

from netqos.api.auth import caller
from netqos.db.engine import begin_write, writer_lock
from netqos.qos.errors import PolicyNotAuthorized
from netqos.service.context import Context
from netqos.service.txn import Txn

LOG = logging.getLogger(__name__)
T = TypeVar("T")
RETRIES = 5


# The two identity dependencies are `async def` although they never await: FastAPI runs a
# plain `def` dependency in its thread pool, and that hop cost more CPU than the check.
async def context(request: Request) -> Context:
    """The caller of every resource but the agent endpoints: an agent's host-bound
    credential is refused here, whatever the resource."""
    ctx = caller(request)
    if ctx.host is not None:
        route = request.scope.get("route")
        raise PolicyNotAuthorized(
            rule=f"rule:{getattr(route, 'name', None) or request.url.path}")
    return ctx


async def caller_and_body(request: Request) -> tuple[Context, bytes]:
    """The caller (as `context`), then the body bytes: a credential the route refuses is
    refused before a byte of the body is read."""
    ctx = await context(request)
    return ctx, await request.body()


async def agent_context(request: Request) -> Context:
    """The caller of the agent endpoints (/v2.0/netqos/hosts/{host}/…); the service
    checks that it acts for that host (service/hosts.py authorize)."""
    return caller(request)


async def run(request: Request, ctx: Context, work: Callable[[Txn], T],
              write: bool = True) -> T:
    """transact() for an `async def` endpoint. On SQLite in the event loop itself: its
    statements take microseconds and wait on no network, and the thread-pool hop cost
    more CPU than a whole GET of a policy. On PostgreSQL in the thread pool: a statement
    waits for a round trip to the database, and other requests go on meanwhile."""
    if request.app.state.engine.dialect.name == "sqlite":
        return transact(request, ctx, work, write)
    return await run_in_threadpool(transact, request, ctx, work, write)


def transact(request: Request, ctx: Context, work: Callable[[Txn], T], write: bool = True) -> T:
    """Run `work` in one transaction, retried when a concurrent writer got there first;
    publish its events once the commit has succeeded."""
    sessions = request.app.state.sessions
    lock = writer_lock(request.app.state.engine) if write else nullcontext()
    for attempt in range(1, RETRIES + 1):
        try:
            with lock, sessions() as session, session.begin():
                if write:
                    begin_write(session)
                txn = Txn(session, ctx, pools=request.app.state.segment_pools)
                result = work(txn)
            break
        except (StaleDataError, DBAPIError) as exc:
            if attempt == RETRIES or not _retriable(exc):
                raise
            LOG.info("retrying after a concurrent update (%s)", type(exc).__name__)
    for event in txn.events:
        request.app.state.bus.publish(event)
    return result


def _retriable(exc: Exception) -> bool:
    if isinstance(exc, StaleDataError):
        return True
    if getattr(exc, "connection_invalidated", False):   # the database dropped it (restart)
        return True
    text = str(getattr(exc, "orig", exc)).lower()
    return any(s in text for s in ("deadlock", "could not serialize", "database is locked"))
