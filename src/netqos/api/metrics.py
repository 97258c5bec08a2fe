"""Prometheus metrics of the API server: GET /metrics.

    netqos_http_requests_total{method,route,status}       route = the path template
    netqos_http_request_duration_seconds{method,route}    histogram
    netqos_qos_policies                                   computed at scrape time
    netqos_qos_rules{type}
    netqos_ports{status}                                  DOWN, BUILD, ACTIVE, ERROR
    netqos_agents

The request middleware is plain ASGI (no BaseHTTPMiddleware, no per-request task) and
keeps the labelled children in a dict, so a request pays two dict lookups, a counter
increment and a histogram observation. Routes are templates (/v2.0/ports/{id}) and
unmatched paths are counted as one route, so the label set stays small. With several
workers each process counts its own requests; a scrape reaches one of them.
"""
from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client import generate_latest
from prometheus_client.core import GaugeMetricFamily
from starlette.requests import Request
from starlette.responses import Response

from netqos.api.auth import caller
from netqos.qos.errors import PolicyNotAuthorized

BUCKETS = (.001, .0025, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 10)


class RequestMetrics:
    """ASGI middleware counting requests by method, route template and status."""

    def __init__(self, app, registry: CollectorRegistry):
        self.app = app
        self.requests = Counter("netqos_http_requests", "HTTP requests",
                                ["method", "route", "status"], registry=registry)
        self.latency = Histogram("netqos_http_request_duration_seconds",
                                 "Seconds from request to the end of the response",
                                 ["method", "route"], buckets=BUCKETS, registry=registry)
        self._children: dict[tuple, tuple] = {}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            key = (scope["method"], getattr(route, "path", "(unmatched)"), status)
            children = self._children.get(key)
            if children is None:
                children = (self.requests.labels(*key), self.latency.labels(*key[:2]))
                self._children[key] = children
            children[0].inc()
            children[1].observe(time.perf_counter() - started)


class StateCollector:
    """Gauges read from the database when Prometheus scrapes (never in a request)."""

    def __init__(self, db):
        self.db = db

    def describe(self):
        return []

    def collect(self):
        from netqos.service import stats

        counts = self.db.read(stats.counts)
        policies = GaugeMetricFamily("netqos_qos_policies", "QoS policies")
        rules = GaugeMetricFamily("netqos_qos_rules", "QoS rules by type", labels=["type"])
        ports = GaugeMetricFamily("netqos_ports", "Ports by QoS status", labels=["status"])
        agents = GaugeMetricFamily("netqos_agents", "Agents that ever reported")
        policies.add_metric([], counts["policies"])
        for value, n in sorted(counts["ports"].items()):
            ports.add_metric([value], n)
        for rule_type, n in counts["rules"].items():
            rules.add_metric([rule_type], n)
        agents.add_metric([], counts["agents"])
        yield from (policies, rules, ports, agents)


def install(app) -> None:
    """Add the request middleware and the /metrics route to the app."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(StateCollector(app.state.db))
    app.state.metrics_registry = registry
    app.add_middleware(RequestMetrics, registry=registry)

    def metrics(request: Request) -> Response:
        # Behind the API's authentication (api/auth.py), for admins: the counts span
        # every project. In noauth mode (loopback only) a request without headers is one.
        if not caller(request).is_admin:
            raise PolicyNotAuthorized(rule="rule:get_metrics")
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.add_route("/metrics", metrics, methods=["GET"], include_in_schema=False)
