"""Run the L2 engine on its own: netlink events and a periodic resync trigger passes on a
desired state read from a JSON file (the "l2" block of the host pull; SIGHUP re-reads it at
once). Each pass's outcome goes to the log and, atomically, to a status file."""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import threading
import time
from collections.abc import Callable

from netqos.agent.l2.linuxbridge.engine import LinuxBridgeL2
from netqos.agent.l2.model import L2Desired
from netqos.agent.l2.report import L2Report

LOG = logging.getLogger(__name__)
COALESCE = 0.02   # seconds: a burst of netlink events becomes one pass


def file_source(path: str) -> Callable[[], L2Desired]:
    def load() -> L2Desired:
        with open(path) as f:
            return L2Desired.from_wire(json.load(f))
    return load


class L2Daemon:
    def __init__(self, engine: LinuxBridgeL2, source: Callable[[], L2Desired],
                 status_path: str | None = None, resync_interval: float = 30.0):
        self.engine = engine
        self.source = source
        self.status_path = status_path
        self.resync_interval = resync_interval
        self.passes = 0
        self.drift: list[dict] = []
        self.last: L2Report | None = None
        self._wake = threading.Event()

    def wake(self, *_args) -> None:
        self._wake.set()

    def step(self) -> L2Report | None:
        desired = self.source()
        if desired is None:
            return None   # nothing told yet: wiring nothing would unplug the whole host
        started = time.monotonic()
        report = self.engine.sync(desired)
        self.passes += 1
        for i, change in enumerate(report.changes):
            LOG.info("%s%s", change, f"  FAILED: {report.failed[i]}" if i in report.failed
                     else "")
        for text in report.drift:
            self.drift.append({"at": time.time(), "change": text})
        if report.changes:
            LOG.info("L2 pass: %d change(s), %d failed, %d drift repaired, %.1f ms",
                     len(report.changes), len(report.failed), len(report.drift),
                     (time.monotonic() - started) * 1000)
        self._write_status(report)
        self.last = report
        return report

    def run(self, stop: threading.Event) -> None:
        watcher = self.engine.watcher(self.wake)
        watcher.start()
        last = 0.0
        try:
            while not stop.is_set():
                woken = self._wake.wait(max(0.0, last + self.resync_interval
                                            - time.monotonic()))
                if stop.is_set():
                    break
                if woken:
                    time.sleep(COALESCE)
                self._wake.clear()
                try:
                    self.step()
                except Exception as exc:   # a bad file or a kernel hiccup: retry soon
                    LOG.warning("L2 pass failed: %s", exc)
                    stop.wait(1.0)
                    self._wake.set()
                last = time.monotonic()
        finally:
            watcher.stop()

    def _write_status(self, report: L2Report) -> None:
        if not self.status_path:
            return
        status = {"passes": self.passes, "kernel_ops": self.engine.kernel_ops,
                  "configurations": self.engine.configurations(),
                  "capabilities": self.engine.capabilities,
                  "ports": {pid: vars(s) for pid, s in report.ports.items()},
                  "drift": self.drift[-200:],
                  "last_changes": [str(c) for c in report.changes]}
        tmp = f"{self.status_path}.tmp"
        with open(tmp, "w") as f:
            json.dump(status, f)
        os.replace(tmp, self.status_path)


def add_cli_arguments(ap: argparse.ArgumentParser) -> None:
    """The options of an engine run on its own (`python -m netqos.agent.l2.<engine>`)."""
    ap.add_argument("--desired", required=True, help="JSON file: the host pull's l2 block")
    ap.add_argument("--plan", action="store_true", help="print the changes, apply none")
    ap.add_argument("--once", action="store_true", help="one pass, then exit")
    ap.add_argument("--status", help="write each pass's per-port status here (JSON)")
    ap.add_argument("--resync-interval", type=float, default=30.0)


def serve(engine, args: argparse.Namespace) -> int:
    """--plan: print the changes; --once: one pass; else passes until SIGTERM, SIGHUP
    re-reading the file."""
    source = file_source(args.desired)
    if args.plan:
        p = engine.plan(source())
        for change in p.changes:
            print(change)
        for pid, reason in sorted(p.refused.items()):
            print(f"refuse {pid}: {reason}")
        return 0
    daemon = L2Daemon(engine, source, args.status, args.resync_interval)
    if args.once:
        report = daemon.step()
        print(json.dumps({pid: vars(s) for pid, s in report.ports.items()}, indent=1))
        return 1 if report.failed or report.unconverged else 0
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, daemon.wake)
    LOG.info("L2 engine: %s", engine.configurations())
    daemon.run(stop)
    return 0
