"""Wake the agent when someone changes the OpenFlow state the OVS backend owns.

OVSDB rows (QoS, Queue, Interface policing, ports plugged) already wake it through the IDL
(ovsdb.py). Flows and meters live in ovs-vswitchd, not OVSDB: `ovs-ofctl monitor
watch:!initial` streams every flow added, modified or deleted in the bridge (a flow monitor,
NXST_FLOW_MONITOR); a line naming one of our cookies wakes the agent, whose pass repairs and
reports the drift. Deleting a meter also deletes the flows that use it, so a meter deleted by
hand shows up here too. Our own apply's flow events are ignored (`quiet`).
"""
from __future__ import annotations

import logging
import subprocess
import threading
from collections.abc import Callable

from netqos.agent.ovs import flows as fl
from netqos.agent.ovs.openflow import Switch

LOG = logging.getLogger(__name__)


class FlowWatcher:
    def __init__(self, switch: Switch, on_change: Callable[[], None],
                 quiet: Callable[[], bool]):
        self.switch, self.on_change, self.quiet = switch, on_change, quiet
        self._proc: subprocess.Popen | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="netqos-ovs-flows",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()

    @staticmethod
    def ours(line: str) -> bool:
        return "event=" in line and f"cookie=0x{fl.TAG:x}" in line

    def _run(self) -> None:
        try:
            self._proc = subprocess.Popen(
                ["ovs-ofctl", "-O", "OpenFlow13", "monitor", f"unix:{self.switch.mgmt}",
                 "watch:!initial"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                text=True, env=self.switch.env)   # it prints the updates on stderr
            for line in self._proc.stdout or ():
                if self._stop.is_set():
                    break
                if self.ours(line) and not self.quiet():
                    self.on_change()
        except Exception:  # the periodic resync still repairs flows
            LOG.exception("flow watcher stopped; relying on the periodic resync")
        finally:
            if self._proc is not None and self._proc.poll() is None:
                self._proc.kill()
