"""`python -m netqos.agent.l2.linuxbridge --desired L2.json [--netns NS] [--local-ip IP]
[--physical-interface-mappings physnet1:eth1] [--l2-population] [--plan | --once]
[--status FILE] [--resync-interval S]`

Wire a host (namespace) as Neutron's Linux-bridge agent would, from the desired L2 state in
L2.json (model.py documents its shape). --plan prints the changes and applies none; --once
runs one pass; otherwise it runs until SIGTERM: netlink events and the resync trigger
passes, SIGHUP re-reads the file.
"""
from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading

from netqos.agent.l2.linuxbridge import options
from netqos.agent.l2.linuxbridge.daemon import L2Daemon, file_source
from netqos.agent.l2.linuxbridge.engine import LinuxBridgeL2


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m netqos.agent.l2.linuxbridge")
    options.add_arguments(ap)
    ap.add_argument("--desired", required=True, help="JSON file: the host pull's l2 block")
    ap.add_argument("--netns", help="wire inside this network namespace")
    ap.add_argument("--plan", action="store_true", help="print the changes, apply none")
    ap.add_argument("--once", action="store_true", help="one pass, then exit")
    ap.add_argument("--status", help="write each pass's per-port status here (JSON)")
    ap.add_argument("--resync-interval", type=float, default=30.0)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    engine = LinuxBridgeL2(options.from_args(args), netns=args.netns)
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
    logging.getLogger(__name__).info("L2 linuxbridge engine: %s", engine.configurations())
    daemon.run(stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
