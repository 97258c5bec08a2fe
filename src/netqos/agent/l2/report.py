"""What one pass of an L2 engine (linuxbridge or openvswitch) found and did, per port,
and the planning pieces both engines share.

Both engines plan typed changes (`Change.port_id` is the port's or its network's id) and
report through the same shapes, so the daemon, the agent's role and the status file do not
care which engine runs.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from netqos.agent.backends.base import Change
from netqos.agent.l2.model import L2Desired, Segment

ACTIVE, DOWN, ERROR = "ACTIVE", "DOWN", "ERROR"


@dataclass
class PortStatus:
    status: str                 # ACTIVE | DOWN | ERROR
    reason: str = ""


@dataclass
class L2Report:
    changes: list[Change] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)      # change index -> reason
    ports: dict[str, PortStatus] = field(default_factory=dict)
    drift: list[str] = field(default_factory=list)            # repaired, printable
    unconverged: list[Change] = field(default_factory=list)   # what CHECK still found


def refusal(seg: Segment, untunnelled: Mapping[str, str], mapped: dict[str, str], present,
            thing: str, option: str) -> str | None:
    """Why a host cannot wire a network of that segment, or None. `untunnelled`: tunnel
    type (vxlan, gre) -> why its networks cannot be wired here (absent: they can);
    `mapped`: physical network -> its interface or bridge (`thing`, mapped by `option`),
    which must be in `present`."""
    if seg.network_type in untunnelled:
        return untunnelled[seg.network_type]
    if seg.network_type in ("flat", "vlan"):
        dev = mapped.get(seg.physical_network)
        if dev is None:
            return (f"no {thing} mapped for physical network {seg.physical_network!r} "
                    f"({option})")
        if dev not in present:
            return f"{thing} {dev} of physical network {seg.physical_network!r} not found"
    return None


class FactPlanner:
    """Both engines' planners: each change carries an op with the fact it establishes; a
    change restoring a fact that held after the last pass (`memo`) is drift."""
    plan: "PlanOutcome"
    memo: frozenset | set

    def _add(self, owner: str, action: str, what: str, op, detail: str = "",
             repairs: bool = True) -> None:
        drift = repairs and bool(op.fact) and op.fact in self.memo
        self.plan.facts.add(op.fact)
        self.plan.changes.append(Change(owner, action, what, detail, drift, op))


class PlanOutcome(Protocol):
    refused: dict[str, str]     # port id -> why this host cannot wire it
    absent: list[str]           # port ids with no device here


def fill_statuses(desired: L2Desired, p: PlanOutcome, report: L2Report) -> None:
    """Each desired port's status from the plan and the apply's outcome; drift listed."""
    reasons: dict[str, str] = {}     # owner (port or network) -> first failure
    for i, reason in report.failed.items():
        c = report.changes[i]
        reasons.setdefault(c.port_id, f"{c.action} {c.what}: {reason}")
    for c in report.unconverged:
        reasons.setdefault(c.port_id, f"not converged: {c}")
    for c in report.changes:
        if c.drift:
            report.drift.append(str(c).strip())
    for port in desired.ports:
        pid = port.port_id
        if pid in p.refused:
            report.ports[pid] = PortStatus(ERROR, p.refused[pid])
        elif pid in p.absent:
            report.ports[pid] = PortStatus(DOWN, "no device for the port on this host")
        elif reason := reasons.get(pid) or reasons.get(port.network_id):
            report.ports[pid] = PortStatus(ERROR, reason)
        elif not port.admin_state_up:
            report.ports[pid] = PortStatus(DOWN, "admin state down")
        else:
            report.ports[pid] = PortStatus(ACTIVE)
    for pid, reason in desired.refused.items():
        report.ports[pid] = PortStatus(ERROR, reason)
