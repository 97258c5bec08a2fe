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
import threading
import time
from collections.abc import Callable

from netqos.agent.ovs import flows as fl
from netqos.agent.ovs.openflow import Switch

LOG = logging.getLogger(__name__)
RETRY_S = 0.2        # a monitor that ran ended: the switch restarts, try again soon
DOWN_S = 1.0         # a monitor that failed at once: the switch is not back yet


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
        # The monitor ends when ovs-vswitchd does (its .mgmt socket goes): start it again,
        # and wake a pass, since a restarted switch holds none of our flows.
        # While the switch is away a monitor fails at once: retry (and wake) once a second.
        while not self._stop.is_set():
            started = time.monotonic()
            self._monitor()
            lived = time.monotonic() - started
            if self._stop.wait(RETRY_S if lived >= DOWN_S else DOWN_S):
                break
            self.on_change()

    def _monitor(self) -> None:
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
            LOG.exception("flow watcher failed; starting it again")
        finally:
            if self._proc is not None and self._proc.poll() is None:
                self._proc.kill()
            if self._proc is not None:
                self._proc.wait()
