"""What a plan is made of and what an apply returns: typed changes, shared by every backend.

A `Change` is one step of a plan, printable for operators (`netqos plan`). Its `action` is
an `Action`; its owner (`port_id`) is a port's id, or a `NoPort` for what belongs to no
port: the host-wide objects (`HOST`: the IFB, the uplink's tree, the nft tables, the host's
flows) and leftovers of ports gone (`leftover("tap1 3")`). A `NoPort` is printed as it is
and is never reported as an applied port.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Action(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    SKIP = "skip"        # what the backend will not do for a port: `what` says why


class NoPort(str):
    """The owner of a change that is no port's (printed in parentheses)."""

    __slots__ = ()


HOST = NoPort("(host)")


def leftover(what: str) -> NoPort:
    """The owner of something a gone port left: "(tap1 3)", "(ifindex 7)"."""
    return NoPort(f"({what})")


@dataclass(frozen=True)
class Change:
    """One step of a plan, printable for operators."""

    port_id: str         # the port's id, or a NoPort (HOST, a leftover)
    action: Action       # a plain "create"... is taken as its Action
    what: str            # e.g. "egress shaper on ifb-3f2a…", "dscp mark"
    detail: str = ""     # e.g. "rate 10000kbit -> 20000kbit"
    drift: bool = False  # True when the change repairs state someone altered by hand
    # What the backend needs to carry the change out (e.g. its tc / nft lines); not printed.
    payload: object = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.action, Action):
            object.__setattr__(self, "action", Action(self.action))

    @property
    def for_port(self) -> bool:
        """Whether it is a port's own (not the host's, not a leftover's)."""
        return not isinstance(self.port_id, NoPort)

    def __str__(self) -> str:
        tag = " (drift)" if self.drift else ""
        return f"{self.action:<6} {self.port_id[:13]:<13} {self.what}{tag} {self.detail}".rstrip()


@dataclass
class ApplyResult:
    applied: list[str] = field(default_factory=list)        # port ids now at desired state
    errors: dict[str, str] = field(default_factory=dict)    # owner -> reason
    drift_repaired: dict[str, list[str]] = field(default_factory=dict)
