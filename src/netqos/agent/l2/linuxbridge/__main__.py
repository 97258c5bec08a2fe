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
import logging
import sys

from netqos.agent.l2.linuxbridge import options
from netqos.agent.l2.linuxbridge.daemon import add_cli_arguments, serve
from netqos.agent.l2.linuxbridge.engine import LinuxBridgeL2


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m netqos.agent.l2.linuxbridge")
    options.add_arguments(ap)
    add_cli_arguments(ap)
    ap.add_argument("--netns", help="wire inside this network namespace")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return serve(LinuxBridgeL2(options.from_args(args), netns=args.netns), args)


if __name__ == "__main__":
    sys.exit(main())
