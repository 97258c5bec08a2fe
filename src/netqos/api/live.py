"""Live data for the console (/ui) and Prometheus: per-port counters from the agents, the
rates streamed to pages, the journal of what agents did, and who the caller is.

    POST /v2.0/netqos/hosts/{host}/counters   agents (admin): cumulative counters, 1/s
    GET  /v2.0/netqos/live/stream?host=H      server-sent events: one stream per page
    GET  /v2.0/netqos/live/stream?port_id=P     ("window" first, then a "tick" as counters
                                                 arrive, at least one per second)
    GET  /v2.0/netqos/live/ports/{id}         a port's window, kernel objects and history
    GET  /v2.0/netqos/events?since=SECONDS    revisions applied, drift repaired, errors
    GET  /v2.0/netqos/whoami                  the caller's identity, as the API sees it

Every read shows only the ports the caller may see (its project's; all for an admin).
The store is in this process's memory (service/live.py says what that means with several
workers).
"""
from __future__ import annotations

import asyncio
import json
import math
import time

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from starlette.concurrency import run_in_threadpool

from netqos.api import body as bodies
from netqos.api.deps import agent_context, context, transact
from netqos.api.respond import ok
from netqos.qos.errors import HTTPBadRequest
from netqos.service import hosts as host_service
from netqos.service import ports as port_service
from netqos.service.context import Context
from netqos.service.live import SAMPLE_FIELDS

router = APIRouter(tags=["live"])
TICK_SECONDS = 1.0         # at least one event per second
WAKE_SECONDS = 0.2         # how often a stream looks for new counters
REFRESH_SECONDS = 5.0      # how often a stream re-reads which ports it may show
MAX_PORTS = 50_000
COUNTER_KEYS = ("rx_bytes", "tx_bytes", "rx_packets", "tx_packets", "drops")
MAX_OBJECTS = 32


# --- agents post counters ---------------------------------------------------------------

@router.post("/v2.0/netqos/hosts/{host}/counters")
def post_counters(host: str, request: Request, raw: bytes = Depends(bodies.agent_raw_body),
                  ctx: Context = Depends(agent_context)):
    # An agent speaks for its own host only: counters of ports bound elsewhere are dropped.
    bound = set(transact(request, ctx, lambda t: host_service.bound_port_ids(t, host),
                         write=False))
    body = bodies.parse(raw, "counters")
    at, entries = _valid_counters(body)
    entries = [e for e in entries if e["port_id"] in bound]
    return ok({"host": host, "accepted": request.app.state.live.ingest(host, at, entries)})


def _valid_counters(body: dict) -> tuple[float, list[dict]]:
    at, entries = body.get("at"), body.get("ports")
    if not _number(at):
        raise HTTPBadRequest("counters.at must be a number (seconds)")
    if not isinstance(entries, list) or len(entries) > MAX_PORTS:
        raise HTTPBadRequest(f"counters.ports must be a list of at most {MAX_PORTS} entries")
    for e in entries:
        if not isinstance(e, dict) or not isinstance(e.get("port_id"), str) \
                or not 0 < len(e["port_id"]) <= 64:
            raise HTTPBadRequest("each counters entry needs a port_id")
        if not all(isinstance(e.get(k), int) and e[k] >= 0 for k in COUNTER_KEYS):
            raise HTTPBadRequest(f"counters of port {e['port_id']}: {', '.join(COUNTER_KEYS)} "
                                 "must be non-negative integers")
        limit = e.get("limit") or {}
        if not isinstance(limit, dict) or not all(
                k in ("in_bps", "out_bps") and (v is None or isinstance(v, int))
                for k, v in limit.items()):
            raise HTTPBadRequest(f"counters of port {e['port_id']}: limit must be "
                                 "{in_bps, out_bps} integers or null")
        objects = e.get("objects")
        if objects is not None and (not isinstance(objects, list) or len(objects) > MAX_OBJECTS
                                    or not all(isinstance(o, dict) for o in objects)):
            raise HTTPBadRequest(f"counters of port {e['port_id']}: objects must be a list "
                                 f"of at most {MAX_OBJECTS} objects")
        if not isinstance(e.get("device", ""), str):
            raise HTTPBadRequest(f"counters of port {e['port_id']}: device must be a string")
    return float(at), entries


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


# --- what the caller may see ------------------------------------------------------------

@router.get("/v2.0/netqos/whoami")
def whoami(ctx: Context = Depends(context)):
    return ok({"whoami": {"project_id": ctx.project_id, "user_id": ctx.user_id,
                          "roles": sorted(ctx.roles), "is_admin": ctx.is_admin}})


@router.get("/v2.0/netqos/live/ports/{port_id}")
def port_live(port_id: str, request: Request, ctx: Context = Depends(context)):
    transact(request, ctx, lambda t: port_service.visible_ids(t, None, port_id), write=False)
    store = request.app.state.live
    live = store.port(port_id) or {"samples": [], "limit": {}, "objects": None}
    return ok({"live": {**live, "fields": SAMPLE_FIELDS,
                        "events": store.events(lambda _p: True, port_id=port_id)}})


@router.get("/v2.0/netqos/events")
def events(request: Request, ctx: Context = Depends(context)):
    try:
        seconds = float(request.query_params.get("since", "3600"))
    except ValueError:
        raise HTTPBadRequest("since must be a number of seconds") from None
    return ok({"events": request.app.state.live.events(
        ctx.owns, since=time.time() - max(0.0, seconds))})


# --- the stream -----------------------------------------------------------------------------

@router.get("/v2.0/netqos/live/stream")
async def stream(request: Request, ctx: Context = Depends(context)):
    host = request.query_params.get("host")
    port_id = request.query_params.get("port_id")
    if not host and not port_id:
        raise HTTPBadRequest("a live stream needs ?host=HOST or ?port_id=PORT")

    def allowed():
        return transact(request, ctx, lambda t: port_service.visible_ids(t, host, port_id),
                        write=False)

    ids = await run_in_threadpool(allowed)   # raises (404, 401) before the stream starts
    store = request.app.state.live

    async def events():
        nonlocal ids
        last = time.time()
        yield _sse("window", {"fields": SAMPLE_FIELDS, "ports": store.series(ids)})
        refreshed = sent = time.monotonic()
        version = store.version
        while not await request.is_disconnected():
            await asyncio.sleep(WAKE_SECONDS)
            now = time.monotonic()
            # New counters go out at once (a fifth of a second late at most); without any,
            # a tick per second still tells the page the stream is alive.
            if store.version == version and now - sent < TICK_SECONDS:
                continue
            if now - refreshed > REFRESH_SECONDS:
                ids, refreshed = await run_in_threadpool(allowed), now
            # Only the ports with a point the page has not had yet.
            version, sent, since = store.version, now, time.time()
            yield _sse("tick", {"t": since, "ports": store.latest(ids, newer_than=last)})
            last = since

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _sse(event: str, data: dict) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


# --- Prometheus --------------------------------------------------------------------------------

class LiveCollector:
    """netqos_port_rate_bits_per_second{host,port,direction}, …_packets_per_second,
    netqos_port_limit_bits_per_second and netqos_port_limiter_drops_total{host,port}: the
    newest point of each port the agents reported (direction in the VM's view)."""

    def __init__(self, store):
        self.store = store

    def describe(self):
        return []

    def collect(self):
        labels = ["host", "port", "direction"]
        bps = GaugeMetricFamily("netqos_port_rate_bits_per_second", "Live rate of a port",
                                labels=labels)
        pps = GaugeMetricFamily("netqos_port_rate_packets_per_second",
                                "Live packet rate of a port", labels=labels)
        limit = GaugeMetricFamily("netqos_port_limit_bits_per_second",
                                  "The bandwidth limit the agent enforces", labels=labels)
        drops = CounterMetricFamily("netqos_port_limiter_drops",
                                    "Packets dropped by the port's limiters",
                                    labels=["host", "port"])
        for port_id, window in self.store.rows():
            if window.samples:
                s = window.samples[-1]
                for direction, rate, packets in (("ingress", s.in_bps, s.in_pps),
                                                 ("egress", s.out_bps, s.out_pps)):
                    bps.add_metric([window.host, port_id, direction], rate)
                    pps.add_metric([window.host, port_id, direction], packets)
            for direction, key in (("ingress", "in_bps"), ("egress", "out_bps")):
                if window.limit.get(key) is not None:
                    limit.add_metric([window.host, port_id, direction], window.limit[key])
            drops.add_metric([window.host, port_id], window.drops_total)
        yield from (bps, pps, limit, drops)
