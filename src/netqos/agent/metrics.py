"""The agent's Prometheus metrics, served on a small HTTP port (`--metrics-bind`).

    netqos_agent_ports_managed                     ports with a device on this host
    netqos_agent_ports_missing                     ports of the host without a device here
    netqos_agent_passes_total                      full passes (observe, plan, apply)
    netqos_agent_apply_duration_seconds            histogram of a pass's backend sync
    netqos_agent_changes_total{action}             changes applied
    netqos_agent_drift_repairs_total               changes that repaired hand-made edits
    netqos_agent_errors_total{kind}                failed passes (pass) and port errors (port)
    netqos_agent_port_rate_bits_per_second{port,device,direction}     live, at scrape time
    netqos_agent_port_rate_packets_per_second{port,device,direction}
    netqos_agent_port_limit_bits_per_second{port,direction}           the enforced limit
    netqos_agent_port_limit_packets_per_second{port,direction}

Directions are the VM's view: `egress` leaves the VM (the host-side device's rx),
`ingress` enters it (the device's tx). Rates come from the device counters: the
difference between this scrape and the previous one (or a 0.5 s sample on the first).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric

from netqos.agent.backends.base import Enforced
from netqos.agent.backends.changes import ApplyResult, Change
from netqos.wire import BandwidthLimit, PacketRateLimit, Rule, typed_rules

if TYPE_CHECKING:   # the loop imports this module
    from netqos.agent.loop import Agent

SAMPLE_SECONDS = 0.5

# {device: (rx_bytes, tx_bytes, rx_packets, tx_packets)}
Counters = dict[str, tuple[int, int, int, int]]
# {device: {"egress"|"ingress": {"bps"|"pps": rate}}}
Rates = dict[str, dict[str, dict[str, float]]]


def read_counters(netns: str | None, names: Iterable[str] | None = None) -> Counters:
    """{device: (rx_bytes, tx_bytes, rx_packets, tx_packets)} in one netlink dump."""
    from pyroute2 import IPRoute

    wanted = set(names) if names is not None else None
    out: Counters = {}
    ipr = IPRoute(netns=netns) if netns else IPRoute()
    try:
        for link in ipr.get_links():
            name = link.get_attr("IFLA_IFNAME")
            if wanted is not None and name not in wanted:
                continue
            stats = link.get_attr("IFLA_STATS64") or link.get_attr("IFLA_STATS") or {}
            out[name] = (stats.get("rx_bytes", 0), stats.get("tx_bytes", 0),
                         stats.get("rx_packets", 0), stats.get("tx_packets", 0))
    finally:
        ipr.close()
    return out


def rates(before: Counters, after: Counters, seconds: float) -> Rates:
    """{device: {"egress": {"bps", "pps"}, "ingress": {...}}} in the VM's view."""
    out: Rates = {}
    for dev, (rxb, txb, rxp, txp) in after.items():
        if dev not in before or seconds <= 0:
            continue
        orxb, otxb, orxp, otxp = before[dev]
        out[dev] = {
            "egress": {"bps": max(0, rxb - orxb) * 8 / seconds,
                       "pps": max(0, rxp - orxp) / seconds},
            "ingress": {"bps": max(0, txb - otxb) * 8 / seconds,
                        "pps": max(0, txp - otxp) / seconds},
        }
    return out


def sample_rates(netns: str | None, devices: Sequence[str], seconds: float = 1.0) -> Rates:
    """Live rates of these devices over `seconds`."""
    before, t0 = read_counters(netns, devices), time.monotonic()
    time.sleep(seconds)
    after, t1 = read_counters(netns, devices), time.monotonic()
    return rates(before, after, t1 - t0)


def limits(rules: Iterable[Rule | Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """{"ingress"|"egress": {"bps": …, "pps": …}} of a port's limit rules (typed, or
    their wire dicts)."""
    out: dict[str, dict[str, int]] = {}
    for rule in typed_rules(rules):
        if isinstance(rule, BandwidthLimit):
            out.setdefault(rule.direction, {})["bps"] = rule.max_kbps * 1000
        elif isinstance(rule, PacketRateLimit):
            out.setdefault(rule.direction, {})["pps"] = rule.max_kpps * 1000
    return out


class AgentMetrics:
    """Owned by one Agent; the loop calls pass_done / pass_failed (cheap)."""

    def __init__(self, agent: Agent | None = None, netns: str | None = None):
        self.netns = netns if agent is None else agent.config.netns
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.ports_managed = Gauge("netqos_agent_ports_managed",
                                   "Ports with a device on this host", registry=r)
        self.ports_missing = Gauge("netqos_agent_ports_missing",
                                   "Ports bound to this host without a device here",
                                   registry=r)
        self.passes = Counter("netqos_agent_passes", "Full passes", registry=r)
        self.apply_seconds = Histogram(
            "netqos_agent_apply_duration_seconds", "Seconds per pass (observe, plan, apply)",
            buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30), registry=r)
        self.changes = Counter("netqos_agent_changes", "Changes applied", ["action"],
                               registry=r)
        self.drift = Counter("netqos_agent_drift_repairs",
                             "Changes that repaired state altered by hand", registry=r)
        self.errors = Counter("netqos_agent_errors", "Failed passes and port errors",
                              ["kind"], registry=r)
        for kind in ("pass", "port"):
            self.errors.labels(kind)
        self._lock = threading.Lock()
        self._ports: list[Enforced] = []   # with device, from the last pass
        self._last: tuple[float, Counters] | None = None
        r.register(_PortCollector(self))
        self._server: Any = None     # prometheus_client's WSGIServer once serving

    # --- hooks from the loop -------------------------------------------------------------
    def pass_done(self, here: Sequence[Enforced], missing: Sequence[Enforced],
                  changes: Sequence[Change], result: ApplyResult | None,
                  seconds: float) -> None:
        self.passes.inc()
        self.apply_seconds.observe(seconds)
        self.ports_managed.set(len(here))
        self.ports_missing.set(len(missing))
        for change in changes:
            self.changes.labels(change.action).inc()
            if change.drift:
                self.drift.inc()
        if result is not None and result.errors:
            self.errors.labels("port").inc(len(result.errors))
        with self._lock:
            self._ports = list(here)

    def pass_failed(self) -> None:
        self.errors.labels("pass").inc()

    # --- live rates --------------------------------------------------------------------
    def port_rates(self) -> tuple[list[Enforced], Rates]:
        with self._lock:
            ports = list(self._ports)
        devices = [p.device for p in ports if p.device]
        if not devices:
            return ports, {}
        now = time.monotonic()
        counters = read_counters(self.netns, devices)
        last = self._last
        if last is None or now - last[0] > 300 or now - last[0] < 0.05:
            time.sleep(SAMPLE_SECONDS)
            last = (now, counters)
            now = time.monotonic()
            counters = read_counters(self.netns, devices)
        self._last = (now, counters)
        return ports, rates(last[1], counters, now - last[0])

    # --- serving -------------------------------------------------------------------------
    def serve(self, bind: str) -> str:
        """Start the HTTP endpoint on HOST:PORT (port 0: any); returns HOST:PORT."""
        from prometheus_client import start_http_server

        host, _, port = bind.rpartition(":")
        host = host.strip("[]") or "127.0.0.1"
        started = start_http_server(int(port), addr=host, registry=self.registry)
        server = started[0] if isinstance(started, tuple) else None
        self._server = server
        actual = server.server_address[1] if server is not None else int(port)
        return f"{host}:{actual}"


class _PortCollector:
    def __init__(self, metrics: AgentMetrics):
        self.metrics = metrics

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        bps = GaugeMetricFamily("netqos_agent_port_rate_bits_per_second",
                                "Live rate of a port (device counters)",
                                labels=["port", "device", "direction"])
        pps = GaugeMetricFamily("netqos_agent_port_rate_packets_per_second",
                                "Live packet rate of a port (device counters)",
                                labels=["port", "device", "direction"])
        lbps = GaugeMetricFamily("netqos_agent_port_limit_bits_per_second",
                                 "The port's bandwidth limit", labels=["port", "direction"])
        lpps = GaugeMetricFamily("netqos_agent_port_limit_packets_per_second",
                                 "The port's packet-rate limit", labels=["port", "direction"])
        try:
            ports, live = self.metrics.port_rates()
        except Exception:   # a scrape must not fail because a device just vanished
            ports, live = [], {}
        for port in ports:
            device = port.device or ""   # the pass kept ports with a device: live has it
            for direction, rate in live.get(device, {}).items():
                bps.add_metric([port.port_id, device, direction], rate["bps"])
                pps.add_metric([port.port_id, device, direction], rate["pps"])
            for direction, limit in limits(port.rules).items():
                if "bps" in limit:
                    lbps.add_metric([port.port_id, direction], limit["bps"])
                if "pps" in limit:
                    lpps.add_metric([port.port_id, direction], limit["pps"])
        yield from (bps, pps, lbps, lpps)
