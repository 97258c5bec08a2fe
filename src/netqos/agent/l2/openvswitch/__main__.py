"""`python -m netqos.agent.l2.openvswitch --desired L2.json [--ovsdb unix:…/db.sock]
[--rundir DIR] [--integration-bridge br-int] [--tunnel-bridge br-tun]
[--bridge-mappings physnet1:br-physnet1] [--local-ip IP] [--tunnel-types vxlan]
[--l2-population] [--plan | --once] [--status FILE] [--resync-interval S]`

Wire a host's Open vSwitch as Neutron's OVS agent would, from the desired L2 state in
L2.json (netqos.agent.l2.model documents its shape). --plan prints the changes and applies
none; --once runs one pass; otherwise it runs until SIGTERM: OVSDB events, the flow check
and the resync trigger passes, SIGHUP re-reads the file.
"""
from __future__ import annotations

import argparse
import logging
import sys

from netqos.agent.l2.linuxbridge.daemon import add_cli_arguments, serve
from netqos.agent.l2.openvswitch import options
from netqos.agent.l2.openvswitch.engine import OvsL2


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m netqos.agent.l2.openvswitch")
    options.add_arguments(ap)
    add_cli_arguments(ap)
    ap.add_argument("--local-ip", help="this host's VXLAN tunnel endpoint address")
    ap.add_argument("--l2-population", action="store_true",
                    help="unicast flows for the remote ports' MACs (else: flood)")
    ap.add_argument("--dscp-inherit", action="store_true",
                    help="tunnel ports copy the inner packet's DSCP to the outer header")
    ap.add_argument("--ovsdb", help="OVSDB address (unix:$OVS_RUNDIR/db.sock)")
    ap.add_argument("--rundir", help="ovs-vswitchd's run directory (the .mgmt sockets)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    engine = OvsL2(options.from_args(args), ovsdb=args.ovsdb, rundir=args.rundir)
    try:
        return serve(engine, args)
    finally:
        engine.close()


if __name__ == "__main__":
    sys.exit(main())
