"""Rule and port builders shared by the dataplane tests."""
from __future__ import annotations

from netqos.agent.backends.tc import TcBackend
from tests.harness.lab import Vm
from netqos.wire import PortQos


def bw(kbps: int, direction: str, burst: int = 0) -> dict:
    return {"type": "bandwidth_limit", "max_kbps": kbps, "max_burst_kbps": burst,
            "direction": direction}


def pps(kpps: int, direction: str, burst: int = 0) -> dict:
    return {"type": "packet_rate_limit", "max_kpps": kpps, "max_burst_kpps": burst,
            "direction": direction}


def dscp(mark: int) -> dict:
    return {"type": "dscp_marking", "dscp_mark": mark}


def minbw(kbps: int) -> dict:
    return {"type": "minimum_bandwidth", "min_kbps": kbps, "direction": "egress"}


def port(vm: Vm, *rules: dict, revision: int = 1) -> PortQos:
    return PortQos(vm.port_id, revision, vm.mac, (vm.ip4, vm.ip6), rules=tuple(rules))


def converge(backend: TcBackend, ports: list[PortQos]):
    changes, result = backend.sync(ports)
    assert not result.errors, result.errors
    return changes
