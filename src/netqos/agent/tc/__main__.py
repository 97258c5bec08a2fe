"""`python -m netqos.agent.tc [--netns NS] [--uplink DEV:KBPS] [--plan] [--chunk N] PORTS.json`

Converge a host (namespace) on the PortQos list in PORTS.json with the tc backend and print
the changes. --plan prints without applying. --chunk N converges on the first N, 2N, ...
ports in turn, as an agent catching up on a long list would (the crash test kills it then).
"""
from __future__ import annotations

import argparse
import json
import sys

from netqos.agent.backends.tc import TcBackend
from netqos.agent.model import PortQos


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m netqos.agent.tc")
    ap.add_argument("ports")
    ap.add_argument("--netns")
    ap.add_argument("--uplink", help="DEV:CAPACITY_KBPS")
    ap.add_argument("--plan", action="store_true")
    ap.add_argument("--chunk", type=int, default=0)
    args = ap.parse_args(argv)
    with open(args.ports) as f:
        ports = [PortQos.from_wire(d) for d in json.load(f)]
    uplink = None
    if args.uplink:
        dev, kbps = args.uplink.rsplit(":", 1)
        uplink = (dev, int(kbps))
    backend = TcBackend(netns=args.netns, uplink=uplink)
    if args.plan:
        for change in backend.plan(ports, backend.observe(ports)):
            print(change)
        return 0
    step = args.chunk or len(ports) or 1
    errors = 0
    for end in range(step, len(ports) + step, step):
        changes, result = backend.sync(ports[:end])
        for change in changes:
            print(change, flush=True)
        errors += len(result.errors)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
