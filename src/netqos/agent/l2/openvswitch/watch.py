"""What wakes the OVS L2 engine between resyncs.

- OVSDB row events (the IDL's monitor, no polling): a VM port plugged or unplugged, a tag
  or other_config changed, a tunnel or patch port removed or edited, a bridge's fail_mode.
- A flow check: OpenFlow tells no one when a flow is deleted, so every CHECK_S the cookies
  of our flows on each bridge are read (one OpenFlow request per bridge) and compared with
  what the last pass installed. A deleted flow, and an ovs-vswitchd restart (every flow
  gone, or the switch not answering), wake a pass: repaired within CHECK_S + one pass.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from netqos.agent.watching import Watcher

LOG = logging.getLogger(__name__)
CHECK_S = 0.25


class OvsL2Watcher(Watcher):
    def __init__(self, engine: Any, on_change: Callable[[], None], interval: float = CHECK_S):
        super().__init__(("netqos-l2-flowcheck", self._run))
        self.engine = engine
        self.on_change = on_change
        self.interval = interval

    def start(self) -> None:
        self.engine.db.watch(self.on_change)
        super().start()

    def stop(self) -> None:
        super().stop()
        self.engine.db.unwatch(self.on_change)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                if self.engine.flows_differ():
                    self.on_change()
            except Exception:   # never let the check die; the resync still runs
                LOG.exception("L2 flow check failed")
