"""The agent's live counters: every `interval` seconds, one batched read of the counters of
every port it enforces (counters.read), posted to the server's light endpoint
POST /v2.0/netqos/hosts/{host}/counters - separate from the heartbeat, so a slow pass never
delays the charts and a slow server never delays a pass.

The server turns successive counters into rates, so a lost post costs a point on the chart,
not a wrong one. A port's kernel objects travel only when they changed (and every
`OBJECTS_EVERY` seconds, for a server that restarted meanwhile).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from netqos.agent import counters
from netqos.agent.metrics import limits
from netqos.agent.tc.runner import Runner
from netqos.agent.backends.base import Enforced
from netqos.wire import Rule

if TYPE_CHECKING:   # the loop's agent runs this thread
    from netqos.agent.loop import Agent

LOG = logging.getLogger(__name__)
OBJECTS_EVERY = 30.0
PASS_CHECK = 0.1      # seconds between looks at whether a pass happened


class Telemetry:
    def __init__(self, agent: Agent, interval: float = 1.0):
        self.agent = agent
        self.interval = interval
        self.runner = Runner(agent.config.netns)
        self._sent_objects: dict[str, tuple[dict[str, Any], ...]] = {}
        self._objects_at = 0.0

    def tick(self) -> int:
        """Read and post once; returns the number of ports reported."""
        # Ports with a device of their own (the L3 role's routers have none: nothing to read).
        ports = [p for p in self.agent.ports_here if getattr(p, "device", None)]
        if not ports:
            return 0
        read = counters.read(self.runner, ports)
        rules = {p.port_id: p.rules for p in ports}
        now = time.monotonic()
        full = now - self._objects_at >= OBJECTS_EVERY
        if full:
            self._objects_at = now
        entries: list[dict[str, Any]] = []
        for c in read:
            entry = {"port_id": c.port_id, "device": c.device,
                     "rx_bytes": c.rx_bytes, "tx_bytes": c.tx_bytes,
                     "rx_packets": c.rx_packets, "tx_packets": c.tx_packets,
                     "drops": c.drops, "limit": _limit(rules[c.port_id])}
            if full or self._sent_objects.get(c.port_id) != c.objects:
                entry["objects"] = list(c.objects)
                self._sent_objects[c.port_id] = c.objects
            entries.append(entry)
        self.agent.client.counters(self.agent.config.host, time.time(), entries)
        return len(entries)

    def run(self, stop: threading.Event) -> None:
        failing = False
        while not stop.is_set():
            started = time.monotonic()
            seen = self.agent.ports_here
            try:
                self.tick()
                failing = False
            except Exception as exc:   # server away, device gone: the next tick retries
                self._sent_objects.clear()
                # Once per outage at warning level: a wrong token must be seen, not flood.
                LOG.log(logging.DEBUG if failing else logging.WARNING,
                        "live counters not reported: %s", exc)
                failing = True
            self._wait(stop, started, seen)

    def _wait(self, stop: threading.Event, started: float,
              seen: list[Enforced]) -> None:
        """Until the next tick, or until a pass produced new ports (a limit just changed:
        the chart shows it at once, not up to a second later)."""
        while not stop.wait(min(PASS_CHECK, max(0.0, self.interval -
                                                (time.monotonic() - started)))):
            if time.monotonic() - started >= self.interval or self.agent.ports_here is not seen:
                return

    def start(self, stop: threading.Event) -> threading.Thread:
        thread = threading.Thread(target=self.run, args=(stop,), name="netqos-telemetry",
                                  daemon=True)
        thread.start()
        return thread


def _limit(rules: Iterable[Rule | Mapping[str, Any]]) -> dict[str, int | None]:
    """{"in_bps", "out_bps"} of the port's bandwidth limits (None: unlimited)."""
    by_direction = limits(rules)
    return {"in_bps": by_direction.get("ingress", {}).get("bps"),
            "out_bps": by_direction.get("egress", {}).get("bps")}
