"""`python -m netqos.agent.ovs --bridge BR [--ovsdb ADDR] [--plan] [--chunk N] PORTS.json`

Converge a bridge on the PortQos list in PORTS.json with the ovs backend and print the
changes. --plan prints without applying. --chunk N converges on the first N, 2N, ...
ports in turn, as an agent catching up on a long list would (the crash test kills it then).
"""
from __future__ import annotations

import argparse
import sys

from netqos.agent.backends.ovs import OvsBackend
from netqos.agent.drive import add_arguments, drive, load_ports


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m netqos.agent.ovs")
    add_arguments(ap)
    ap.add_argument("--bridge", default="br-int")
    ap.add_argument("--ovsdb")
    args = ap.parse_args(argv)
    backend = OvsBackend(bridge=args.bridge, ovsdb=args.ovsdb)
    try:
        if not args.plan:
            backend.prepare()
        here, missing = backend.locate(load_ports(args.ports))
        for port in missing:
            print(f"no interface for port {port.port_id}", file=sys.stderr)
        return drive(backend, here, args.plan, args.chunk)
    finally:
        backend.close()


if __name__ == "__main__":
    sys.exit(main())
