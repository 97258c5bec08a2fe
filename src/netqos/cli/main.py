"""The `netqos` command."""
from __future__ import annotations

import argparse
import sys

from netqos.cli import agent_cmds, server_cmds


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="netqos", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    server_cmds.register(sub)
    agent_cmds.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
