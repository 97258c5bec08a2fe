"""Wake the agent when someone changes the OpenFlow state the OVS backend owns.

OVSDB rows (QoS, Queue, Interface policing, ports plugged) already wake it through the IDL
(ovsdb.py). Flows and meters live in ovs-vswitchd, not OVSDB: `ovs-ofctl monitor
watch:!initial` streams every flow added, modified or deleted in the bridge (a flow monitor,
NXST_FLOW_MONITOR); a line naming one of our cookies wakes the agent, whose pass repairs and
reports the drift. Deleting a meter also deletes the flows that use it, so a meter deleted by
hand shows up here too. Our own apply's flow events are ignored (`quiet`).
"""
from __future__ import annotations

import subprocess
from collections.abc import Callable

from netqos.agent.ovs import flows as fl
from netqos.agent.ovs.openflow import Switch
from netqos.agent.watching import LineMonitor, Watcher

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
        self._monitor.follow(
            ["ovs-ofctl", "-O", "OpenFlow13", "monitor", f"unix:{self.switch.mgmt}",
             "watch:!initial"], self._stop, lambda line: self.ours(line) and not self.quiet(),
            self.on_change, env=self.switch.env,
            stderr=subprocess.STDOUT)   # it prints the updates on stderr
