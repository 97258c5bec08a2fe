"""Drive one backend by hand on a PortQos list (the `python -m netqos.agent.tc|ovs` tools
the crash tests kill mid-apply): print the plan, or converge in growing chunks."""
from __future__ import annotations

import argparse
import json
from typing import TypeVar

from netqos.agent.backends.base import PortBackend
from netqos.wire import PortQos


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("ports", help="a JSON file holding a list of PortQos dicts")
    ap.add_argument("--plan", action="store_true", help="print the changes, apply none")
    ap.add_argument("--chunk", type=int, default=0,
                    help="converge on the first N, 2N, ... ports in turn")


def load_ports(path: str) -> list[PortQos]:
    with open(path) as f:
        return [PortQos.from_wire(d) for d in json.load(f)]


A = TypeVar("A")   # the backend's actual state, handed from its observe to its plan


def drive(backend: PortBackend[A], ports: list[PortQos], plan: bool, chunk: int) -> int:
    """0 when every change applied, 1 otherwise."""
    if plan:
        for change in backend.plan(ports, backend.observe(ports)):
            print(change)
        return 0
    step = chunk or len(ports) or 1
    errors = 0
    for end in range(step, len(ports) + step, step):
        changes, result = backend.sync(ports[:end])
        for change in changes:
            print(change, flush=True)
        errors += len(result.errors)
    return 1 if errors else 0
