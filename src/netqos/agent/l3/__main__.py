"""`python -m netqos.agent.l3 --server URL --host HOST [--apply] [--auth-token-file F]`

Print what the L3 role would change on this network node (the routers whose gateway is
bound to HOST, in their qrouter- namespaces), without changing anything; --apply makes
the changes once, as one agent pass would.
"""
from __future__ import annotations

import argparse
import os
import socket
import sys

from netqos.agent.backends.l3 import L3Backend
from netqos.agent.client import ServerClient, TokenError, read_token


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m netqos.agent.l3")
    ap.add_argument("--server", default=os.environ.get("NETQOS_URL", "http://127.0.0.1:9696"))
    ap.add_argument("--host", default=os.environ.get("NETQOS_HOST", socket.gethostname()))
    ap.add_argument("--auth-token-file", default=os.environ.get("NETQOS_AUTH_TOKEN_FILE"),
                    help="the host's agent token (or the token in NETQOS_AUTH_TOKEN)")
    ap.add_argument("--apply", action="store_true")
    args = ap.parse_args(argv)
    try:
        token = read_token(args.auth_token_file)
    except TokenError as exc:
        ap.error(str(exc))
    backend, client = L3Backend(), ServerClient(args.server, token)
    try:
        _, here, missing = backend.pull(client, args.host)
    finally:
        client.close()
    changes = backend.plan(here, backend.observe(here))
    for change in changes:
        print(change)
    for router in missing:
        print(f"router {router.router_id}: no namespace {router.namespace} here",
              file=sys.stderr)
    if args.apply:
        result = backend.apply(changes)
        for port, reason in result.errors.items():
            print(f"error on gateway port {port}: {reason}", file=sys.stderr)
        return 1 if result.errors else 0
    print(f"{len(changes)} change(s) planned for {len(here)} router(s) of host {args.host}"
          if changes else f"host {args.host}: {len(here)} router(s) at the desired state")
    return 0


if __name__ == "__main__":
    sys.exit(main())
