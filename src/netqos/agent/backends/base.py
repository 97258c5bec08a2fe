"""The base class every agent backend implements: observe, plan, apply.

A backend is level-triggered: `observe` reads what the host holds now, `plan` derives the
minimal list of changes from desired and actual state (pure: it changes nothing, so
`netqos plan` can print it), and `apply` performs one plan as a batch, through the one
apply driver (backends/driver.py).
"""
from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence

from netqos.agent.backends.changes import ApplyResult, Change
from netqos.wire import PortQos
from netqos.qos.backends import BackendSupport

__all__ = ["ApplyResult", "Backend", "Change"]   # the plan's types live in changes.py


class Backend(abc.ABC):
    """A dataplane backend of the agent."""

    support: BackendSupport
    # Whether a located port's `device` is a network link of the agent's namespace, which
    # the loop holds down while the port is administratively down (netqos.agent.links).
    link_devices: bool = True

    @abc.abstractmethod
    def observe(self, ports: Sequence[PortQos]) -> Mapping[str, object]:
        """Read the actual state the host holds for these ports (and any stale ones)."""

    @abc.abstractmethod
    def plan(self, desired: Sequence[PortQos], actual: Mapping[str, object]) -> list[Change]:
        """desired - actual: the changes to make. Must not touch the host."""

    @abc.abstractmethod
    def apply(self, changes: Sequence[Change]) -> ApplyResult:
        """Make the changes, batched. Applying an empty plan does nothing."""

    def sync(self, desired: Sequence[PortQos]) -> tuple[list[Change], ApplyResult]:
        """One level-triggered pass: observe, plan, apply."""
        changes = self.plan(desired, self.observe(desired))
        return changes, self.apply(changes)

    @property
    def capabilities(self) -> dict[str, bool]:
        """What the host's kernel or switch can do, as reported to the server."""
        return {}

    # Only the agent changes the host. `prepare` is what it does once before its first pass;
    # `netqos status` and `netqos plan` never call it, and call `use_reported` instead.
    def prepare(self) -> None:
        """Make the host ready for the first pass (OVS: check its prerequisites, create the
        bridge); raise with a reason an operator can act on if it cannot be."""

    def use_reported(self, capabilities: Mapping[str, object]) -> None:
        """Read-only use: take what the host's agent reported (its heartbeat's
        `capabilities`) instead of probing, since a probe creates throw-away devices. An
        empty report leaves the planners to read every ability as present."""

    # Discovery: by default a port is here when its device (tap…) is a netlink link of the
    # backend's namespace. A backend that knows its ports otherwise (OVS: Interface rows
    # by iface-id, libvirt: domains' NICs) overrides it; the L3 role overrides `pull` (it
    # enforces routers, not ports); the loop's optional hook `watcher(netns, on_change)`
    # lets a backend choose what wakes the agent.
    def locate(self, ports: Sequence[PortQos]) -> tuple[list[PortQos], list[PortQos]]:
        """(ports present here, with `device` set; ports absent)."""
        from netqos.agent import discover
        netns = getattr(self, "netns", None)
        return discover.present(ports, discover.link_names(netns))

    def pull(self, client, host: str) -> tuple[int, list, list]:
        """(host revision, the host's ports found here, those not found): what the agent's
        loop, `netqos plan` and `netqos status` enforce or show."""
        revision, desired = client.desired(host)
        return (revision, *self.locate(desired))
