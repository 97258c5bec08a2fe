"""The live side of ports: a short window of rates per port, and a journal of what agents
did to them (revisions applied, drift repaired, errors). No HTTP and no SQL here.

Agents post cumulative counters every second (agent/telemetry.py); successive posts become
rates, so a lost post costs one point, never a wrong one, and a counter that went back (a
device re-created) restarts the series instead of drawing a spike.

Both live in the memory of each server process. In the embedded system (one process) that
is all there is. In a cluster (a transport_url), the process that receives an agent's post
shares it with every other worker and replica over RabbitMQ (bus/live.py), so each holds
the same windows. Several workers without a transport_url each hold only what reached them:
route /v2.0/netqos/hosts/*/counters and /v2.0/netqos/live to one. The journal starts empty
when a server starts (the last drift of each port stays in the database:
netqos:qos_state.drift_repaired).
"""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

WINDOW_SECONDS = 120
FORGET_AFTER = 600      # a port no agent reported for this long (deleted, unbound) is dropped
JOURNAL_SIZE = 20_000
PER_PORT_EVENTS = 200


@dataclass
class Sample:
    t: float            # server wall clock, seconds
    in_bps: float       # into the VM
    out_bps: float      # out of the VM
    in_pps: float
    out_pps: float
    drops_ps: float

    def wire(self) -> list:
        return [round(self.t, 3), round(self.in_bps), round(self.out_bps),
                round(self.in_pps, 1), round(self.out_pps, 1), round(self.drops_ps, 1)]


SAMPLE_FIELDS = ["t", "in_bps", "out_bps", "in_pps", "out_pps", "drops_ps"]


@dataclass
class PortWindow:
    host: str
    device: str = ""
    last: tuple | None = None                   # (agent time, rxb, txb, rxp, txp, drops)
    samples: deque = field(default_factory=lambda: deque(maxlen=WINDOW_SECONDS))
    limit: dict = field(default_factory=dict)   # {"in_bps", "out_bps"} as the agent enforces
    drops_total: int = 0
    objects: list | None = None                 # the kernel objects, as the agent read them
    objects_at: float | None = None
    seen: float = 0.0                           # when an agent last reported it

    def add(self, at: float, counters: tuple, now: float) -> None:
        last, self.last = self.last, (at, *counters)
        if last is None or at <= last[0]:
            return
        deltas = [b - a for a, b in zip(last[1:], counters)]
        if any(d < 0 for d in deltas):
            return   # counters went back: the device was re-created
        seconds = at - last[0]
        rxb, txb, rxp, txp, drops = (d / seconds for d in deltas)
        self.samples.append(Sample(now, txb * 8, rxb * 8, txp, rxp, drops))


@dataclass
class Event:
    t: float
    host: str
    port_id: str
    project_id: str
    kind: str           # applied | drift | error | down
    revision: int | None
    detail: str

    def wire(self) -> dict:
        return {"time": self.t, "host": self.host, "port_id": self.port_id,
                "kind": self.kind, "revision": self.revision, "detail": self.detail}


class LiveStore:
    def __init__(self, clock=time.time):
        self.clock = clock
        self._lock = threading.Lock()
        self._ports: dict[str, PortWindow] = {}
        self._journal: deque[Event] = deque(maxlen=JOURNAL_SIZE)
        self.version = 0          # bumped by every ingest: streams send when it moves
        self._pruned = 0.0
        self.fanout = None        # bus/live.py's LiveFanout in a cluster: shares local posts

    # --- counters ------------------------------------------------------------------------
    def ingest(self, host: str, at: float, entries: list[dict], share: bool = True) -> int:
        if share and self.fanout is not None and entries:
            self.fanout.counters(host, at, entries)
        with self._lock:
            now = self.clock()   # inside the lock: a reader never misses an older point
            for e in entries:
                window = self._ports.get(e["port_id"])
                if window is None or window.host != host:   # new, or moved to another host
                    window = self._ports[e["port_id"]] = PortWindow(host)
                window.seen = now
                window.device = e.get("device") or window.device
                window.limit = e.get("limit") or {}
                window.drops_total = e["drops"]
                window.add(at, (e["rx_bytes"], e["tx_bytes"], e["rx_packets"],
                                e["tx_packets"], e["drops"]), now)
                if e.get("objects") is not None:
                    window.objects, window.objects_at = e["objects"], now
            self.version += 1
            if now - self._pruned > 60:
                self._pruned = now
                for pid in [p for p, w in self._ports.items() if now - w.seen > FORGET_AFTER]:
                    del self._ports[pid]
        return len(entries)

    def latest(self, port_ids, newer_than: float = 0.0) -> dict[str, dict]:
        """{port_id: {"sample": [...], "limit": {...}}} of the newest point of each port,
        for the ports that have one newer than `newer_than`."""
        out = {}
        with self._lock:
            for pid in port_ids:
                window = self._ports.get(pid)
                if window is not None and window.samples and window.samples[-1].t > newer_than:
                    out[pid] = {"sample": window.samples[-1].wire(), "limit": window.limit}
        return out

    def series(self, port_ids, since: float = 0.0) -> dict[str, dict]:
        """{port_id: {"samples": [[t, in_bps, ...], ...], "limit"}} since `since`."""
        out = {}
        with self._lock:
            for pid in port_ids:
                window = self._ports.get(pid)
                if window is not None:
                    out[pid] = {"samples": [s.wire() for s in window.samples if s.t > since],
                                "limit": window.limit}
        return out

    def port(self, port_id: str) -> dict | None:
        with self._lock:
            window = self._ports.get(port_id)
            if window is None:
                return None
            return {"host": window.host, "device": window.device, "limit": window.limit,
                    "drops_total": window.drops_total, "objects": window.objects,
                    "objects_at": window.objects_at,
                    "samples": [s.wire() for s in window.samples]}

    def rows(self) -> list[tuple[str, PortWindow]]:
        """A snapshot for the Prometheus collector."""
        with self._lock:
            return list(self._ports.items())

    # --- the journal -----------------------------------------------------------------------
    def record(self, events: list[dict], share: bool = True) -> None:
        if share and self.fanout is not None and events:
            self.fanout.events(events)
        now = self.clock()
        with self._lock:
            for e in events:
                self._journal.append(Event(now, e["host"], e["port_id"], e["project_id"],
                                           e["kind"], e.get("revision"), e.get("detail", "")))

    def events(self, visible, since: float = 0.0, port_id: str | None = None) -> list[dict]:
        """Newest first; `visible(project_id)` says whether the caller may see a port's."""
        with self._lock:
            journal = list(self._journal)
        out = []
        for e in reversed(journal):
            if e.t < since:
                break
            if (port_id is None or e.port_id == port_id) and visible(e.project_id):
                out.append(e.wire())
                if port_id is not None and len(out) >= PER_PORT_EVENTS:
                    break
        return out
