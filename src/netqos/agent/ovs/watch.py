"""Wake the agent when someone changes the OpenFlow state the OVS backend owns.

OVSDB rows (QoS, Queue, Interface policing, ports plugged) already wake it through the IDL
(ovsdb.py). Flows and meters live in ovs-vswitchd, not OVSDB: `ovs-ofctl monitor
watch:!initial` streams every flow added, modified or deleted in the bridge (a flow monitor,
NXST_FLOW_MONITOR); a line naming one of our cookies wakes the agent, whose pass repairs and
reports the drift. Deleting a meter also deletes the flows that use it, so a meter deleted by
hand shows up here too. Our own apply's flow events are ignored (`quiet`).
The monitor is started again when ovs-vswitchd restarts.
"""
from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Callable

from netqos.agent.ovs import flows as fl
from netqos.agent.ovs.openflow import Switch
from netqos.agent.watching import LineMonitor, Watcher

LOG = logging.getLogger(__name__)
RETRY_S = 0.2        # a monitor that ran ended: the switch restarts, try again soon
DOWN_S = 1.0         # a monitor that failed at once: the switch is not back yet


class FlowWatcher(Watcher):
    def __init__(self, switch: Switch, on_change: Callable[[], None],
                 quiet: Callable[[], bool]):
        super().__init__(("netqos-ovs-flows", self._run))
        self.switch, self.on_change, self.quiet = switch, on_change, quiet
        self._monitor = LineMonitor()

    def stop(self) -> None:
        super().stop()
        self._monitor.kill()

    @staticmethod
    def ours(line: str) -> bool:
        return "event=" in line and f"cookie=0x{fl.TAG:x}" in line

    def _run(self) -> None:
        # The monitor ends when ovs-vswitchd does (its .mgmt socket goes): start it again,
        # and wake a pass, since a restarted switch holds none of our flows.
        # While the switch is away a monitor fails at once: retry (and wake) once a second.
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self._follow()
            except Exception:  # the periodic resync still repairs flows
                LOG.exception("flow watcher failed; starting it again")
            lived = time.monotonic() - started
            if self._stop.wait(RETRY_S if lived >= DOWN_S else DOWN_S):
                break
            self.on_change()

    def _follow(self) -> None:
        self._monitor.follow(
            ["ovs-ofctl", "-O", "OpenFlow13", "monitor", f"unix:{self.switch.mgmt}",
             "watch:!initial"], self._stop, lambda line: self.ours(line) and not self.quiet(),
            self.on_change, env=self.switch.env,
            stderr=subprocess.STDOUT)   # it prints the updates on stderr
