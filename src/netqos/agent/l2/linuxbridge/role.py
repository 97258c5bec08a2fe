"""The L2 engine inside the agent (`netqos agent --l2 linuxbridge`).

The agent's loop hands the role each host pull's "l2" block (`update`); the role runs its
own passes in a thread, woken by that, by netlink events (a tap appears, drift) and by its
resync, so repairing the wiring never waits for the server. What it found goes back with
the agent's next report: `annotate` adds each port's L2 error to the pass's errors and its
repaired drift to the pass's changes, and a pass of the role that changed something wakes
the agent so that the report is not late.

A pull without an "l2" block (a server that does not wire networks) leaves the wiring
alone; an "l2" block with no networks removes netqos's bridges: the server is the truth.
"""
from __future__ import annotations

import threading
from collections.abc import Callable

from netqos.agent.backends.base import ApplyResult, Change
from netqos.agent.l2.linuxbridge.daemon import L2Daemon
from netqos.agent.l2.linuxbridge.engine import ERROR, L2Report, LinuxBridgeL2
from netqos.agent.l2.model import L2Desired


class L2Role(L2Daemon):
    def __init__(self, engine: LinuxBridgeL2, on_change: Callable[[], None] | None = None,
                 resync_interval: float = 30.0):
        super().__init__(engine, lambda: self._desired, None, resync_interval)
        self._desired: L2Desired | None = None
        self._on_change = on_change
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._drift: dict[str, list[Change]] = {}  # port -> repaired, not yet reported
        self._lock = threading.Lock()

    def update(self, block: dict | None) -> None:
        """A pull's "l2" block; a changed desired state wakes the role."""
        if block is None:
            return
        desired = L2Desired.from_wire({"l2": block})
        if desired != self._desired:
            self._desired = desired
            self.wake()

    def step(self) -> L2Report | None:
        report = super().step()
        if report is not None and report.changes:
            self._collect_drift(report)
            if self._on_change is not None:
                self._on_change()
        return report

    def _collect_drift(self, report: L2Report) -> None:
        desired = self._desired
        with self._lock:
            for change in report.changes:
                if not change.drift:
                    continue
                owners = [change.port_id] if any(p.port_id == change.port_id
                                                 for p in desired.ports) \
                    else [p.port_id for p in desired.ports_of(change.port_id)]
                for pid in owners:
                    self._drift.setdefault(pid, []).append(change)

    def annotate(self, changes: list[Change], result: ApplyResult) -> None:
        """Fold the role's findings into an agent pass before it reports."""
        report = self.last
        if report is not None:
            for pid, status in report.ports.items():
                if status.status == ERROR:
                    result.errors.setdefault(pid, f"L2: {status.reason}")
        with self._lock:
            drift, self._drift = self._drift, {}
        for pid, repaired in drift.items():   # as the port's own: "plug tap… (drift)"
            changes.extend(Change(pid, c.action, f"L2 {c.what}", c.detail, drift=True)
                           for c in repaired)

    def start(self) -> "L2Role":
        self._thread = threading.Thread(target=self.run, args=(self._stop,),
                                        name="netqos-l2", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.wake()
        if self._thread is not None:
            self._thread.join(10)
