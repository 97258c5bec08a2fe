"""`python -m netqos.agent.tc [--netns NS] [--uplink DEV:KBPS] [--plan] [--chunk N] PORTS.json`

Converge a host (namespace) on the PortQos list in PORTS.json with the tc backend and print
the changes. --plan prints without applying. --chunk N converges on the first N, 2N, ...
ports in turn, as an agent catching up on a long list would (the crash test kills it then).
"""
from __future__ import annotations

import argparse
import sys

from netqos.agent.backends.tc import TcBackend
from netqos.agent.drive import add_arguments, drive, load_ports


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m netqos.agent.tc")
    add_arguments(ap)
    ap.add_argument("--netns")
    ap.add_argument("--uplink", help="DEV:CAPACITY_KBPS")
    args = ap.parse_args(argv)
    uplink = None
    if args.uplink:
        dev, kbps = args.uplink.rsplit(":", 1)
        uplink = (dev, int(kbps))
    backend = TcBackend(netns=args.netns, uplink=uplink)
    return drive(backend, load_ports(args.ports), args.plan, args.chunk)


if __name__ == "__main__":
    sys.exit(main())
