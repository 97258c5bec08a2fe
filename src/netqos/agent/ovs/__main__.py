"""`python -m netqos.agent.ovs --bridge BR [--ovsdb ADDR] [--plan] [--chunk N] PORTS.json`

Converge a bridge on the PortQos list in PORTS.json with the ovs backend and print the
changes. --plan prints without applying. --chunk N converges on the first N, 2N, ...
ports in turn, as an agent catching up on a long list would (the crash test kills it then).
"""
from __future__ import annotations

import argparse
import json
import sys

from netqos.agent.backends.ovs import OvsBackend
from netqos.agent.model import PortQos


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m netqos.agent.ovs")
    ap.add_argument("ports")
    ap.add_argument("--bridge", default="br-int")
    ap.add_argument("--ovsdb")
    ap.add_argument("--plan", action="store_true")
    ap.add_argument("--chunk", type=int, default=0)
    args = ap.parse_args(argv)
    with open(args.ports) as f:
        ports = [PortQos.from_wire(d) for d in json.load(f)]
    backend = OvsBackend(bridge=args.bridge, ovsdb=args.ovsdb)
    try:
        here, missing = backend.locate(ports)
        for port in missing:
            print(f"no interface for port {port.port_id}", file=sys.stderr)
        if args.plan:
            for change in backend.plan(here, backend.observe(here)):
                print(change)
            return 0
        step = args.chunk or len(here) or 1
        errors = 0
        for end in range(step, len(here) + step, step):
            changes, result = backend.sync(here[:end])
            for change in changes:
                print(change, flush=True)
            errors += len(result.errors)
        return 1 if errors else 0
    finally:
        backend.close()


if __name__ == "__main__":
    sys.exit(main())
