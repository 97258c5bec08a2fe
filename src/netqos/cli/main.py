"""The `netqos` command.

Exit codes scripts can rely on: 0 ok, 1 the server said no (its message is printed),
2 usage, 3 cannot connect to the server.
"""
from __future__ import annotations

import argparse
import sys

from netqos.cli import (agent_cmds, bind_cmds, policy_cmds, rule_cmds, server_cmds,
                        status_cmds, vm_cmds)
from netqos.cli.client import CliError, add_connection_flags


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="netqos", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_connection_flags(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    server_cmds.register(sub)
    agent_cmds.register(sub)
    policy_cmds.register(sub)
    rule_cmds.register(sub)
    bind_cmds.register(sub)
    status_cmds.register(sub)
    vm_cmds.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except KeyboardInterrupt:
        return 130
    except CliError as exc:
        print(f"netqos: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:   # `netqos policy list | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
