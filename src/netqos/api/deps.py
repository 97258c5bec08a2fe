"""Per-request plumbing: the caller's identity and the transaction a handler runs in."""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from netqos.api.auth import caller
from netqos.qos.errors import PolicyNotAuthorized
from netqos.service.context import Context
from netqos.service.txn import Txn

T = TypeVar("T")


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
    if request.app.state.db.engine.dialect.name == "sqlite":
        return transact(request, ctx, work, write)
    return await run_in_threadpool(transact, request, ctx, work, write)


def transact(request: Request, ctx: Context, work: Callable[[Txn], T], write: bool = True) -> T:
    """Run `work` in one transaction (service/database.py retries it when a concurrent
    writer got there first); publish its events once the commit has succeeded."""
    state = request.app.state
    result, events = state.db.run(ctx, work, pools=state.segment_pools, write=write)
    for event in events:
        state.bus.publish(event)
    return result
