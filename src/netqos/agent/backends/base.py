"""The contract every agent backend implements: declare, pull, observe, plan, apply.

A backend is level-triggered: `observe` reads what the host holds now, `plan` derives the
minimal list of changes from desired and actual state (pure: it changes nothing, so
`netqos plan` can print it), and `apply` performs one plan as a batch, through the one
apply driver (backends/driver.py).
"""
from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from netqos.agent.backends.changes import ApplyResult, Change
from netqos.wire import PortQos, Rule
from netqos.qos.backends import BackendSupport

if TYPE_CHECKING:   # the client imports the L3 model lazily
    from netqos.agent.client import ServerClient
    from netqos.agent.l3.model import RouterQos

__all__ = ["ApplyResult", "Backend", "Change"]   # the plan's types live in changes.py


class Enforced(Protocol):
    """What the loop, its metrics and telemetry read of an item a backend enforces: a
    PortQos, or a RouterQos (which reports as its gateway port)."""

    @property
    def port_id(self) -> str: ...
    @property
    def revision(self) -> int: ...
    @property
    def device(self) -> str | None: ...
    @property
    def rules(self) -> tuple[Rule, ...]: ...


D = TypeVar("D", bound=Enforced)   # what the backend enforces (PortQos, RouterQos)
A = TypeVar("A")                   # the actual state its observe reads (HostState, ...)

# A backend's heartbeat description (JSON: agent_type, backends, support, capabilities,
# configurations).
Description = dict[str, Any]


class Backend(abc.ABC, Generic[D, A]):
    """What the agent's loop, `netqos plan` and `netqos status` drive: the whole contract,
    declared here, so that none of them probes a backend for optional hooks.

    A backend declares (class attributes, see `describe`): `support`, its support table
    (name, vnic types, rule types, directions, parameter ranges), which its agent reports
    in every heartbeat and the server enforces with its 409s; `agent_type`, the row it
    reports as in /v2.0/agents; `link_devices`. It implements `pull` (what is here to
    enforce), `observe`, `plan` and `apply`. Port backends (PortBackend) and the router
    backend (RouterBackend) say how they pull.
    """

    support: BackendSupport
    agent_type: str = "netqos"
    # Whether a located port's `device` is a network link of the agent's namespace, which
    # the loop holds down while the port is administratively down (netqos.agent.links).
    link_devices: bool = False
    netns: str | None = None

    def describe(self) -> Description:
        """What the backend reports of itself in its agent's heartbeat (the loop adds its
        own `configurations` and the uplinks)."""
        return {"agent_type": self.agent_type, "backends": [self.support.name],
                "support": self.support.to_wire(), "capabilities": self.capabilities,
                "configurations": {}}

    @abc.abstractmethod
    def pull(self, client: ServerClient, host: str) -> tuple[int, list[D], list[D]]:
        """(host revision, what is here for this backend to enforce, what is this
        backend's but absent): what the agent's loop, `netqos plan` and `netqos status`
        enforce or show. Nothing another backend owns is in either list."""

    @abc.abstractmethod
    def observe(self, ports: Sequence[D]) -> A:
        """Read the actual state the host holds for these ports (and any stale ones)."""

    @abc.abstractmethod
    def plan(self, desired: Sequence[D], actual: A) -> list[Change]:
        """desired - actual: the changes to make. Must not touch the host."""

    @abc.abstractmethod
    def apply(self, changes: Sequence[Change]) -> ApplyResult:
        """Make the changes, batched. Applying an empty plan does nothing."""

    def sync(self, desired: Sequence[D]) -> tuple[list[Change], ApplyResult]:
        """One level-triggered pass: observe, plan, apply."""
        changes = self.plan(desired, self.observe(desired))
        return changes, self.apply(changes)

    @property
    def capabilities(self) -> Mapping[str, bool | str]:
        """What the host's kernel or switch can do, as reported to the server (flags; the
        libvirt backend adds its enforcement mode's name)."""
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

    def watcher(self, netns: str | None, on_change: Callable[[], None]) -> Watcher:
        """What wakes the agent's loop besides the server: by default netlink link events
        of `netns` (a tap appearing); a backend that knows better overrides it."""
        from netqos.agent import discover
        return discover.LinkWatcher(netns, on_change)


class Watcher(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


class PortBackend(Backend[PortQos, A]):
    """A backend of VM ports. It owns the host's ports whose binding:vnic_type its support
    table serves (`owns`), finds their devices (`locate`), and says what the host enforces
    for each (`enforced`): one host may run several port backends, one agent each, when
    their vnic types do not overlap (linuxtc for taps, sriov for VFs)."""

    link_devices = True
    # What a located port's `device` names: "link" (a netdev of the namespace), "vf"
    # (PF/VF of an SR-IOV NIC), "ovs-interface", "libvirt-nic". Shown in `describe`.
    device_kind: str = "link"

    def describe(self) -> Description:
        info = super().describe()
        info["configurations"]["device_kind"] = self.device_kind
        return info

    def owns(self, port: PortQos, vnic_types: Sequence[str] | None = None) -> bool:
        """Whether this backend enforces the port: by its vnic type."""
        return (port.vnic_type or "normal") in (vnic_types or self.support.vnic_types)

    def pull(self, client: ServerClient, host: str
             ) -> tuple[int, list[PortQos], list[PortQos]]:
        revision, desired = client.desired(host)
        vnic_types = self.support.vnic_types    # read once: OVS decides it by asking
        return (revision, *self.locate([p for p in desired if self.owns(p, vnic_types)]))

    # By default a port is here when its device (tap…) is a netlink link of the backend's
    # namespace. A backend that knows its ports otherwise (OVS: Interface rows by
    # iface-id, libvirt: domains' NICs, SR-IOV: VFs by PCI slot) overrides it.
    def locate(self, ports: Sequence[PortQos]) -> tuple[list[PortQos], list[PortQos]]:
        """(ports present here, with `device` set; ports absent)."""
        from netqos.agent import discover
        return discover.present(ports, discover.link_names(self.netns))

    @abc.abstractmethod
    def enforced(self, ports: Sequence[PortQos], actual: A | None = None
                 ) -> dict[str, dict[str, Any]]:
        """CHECK: what the host enforces now for each located port, in the API's units
        ({port id: {"ingress": {"rate_kbps", "burst_bytes", …} | None, "egress": …,
        "dscp_mark", "packet_rate": {direction: {"pps", "burst_packets"}},
        "min_egress_kbps"}}), re-read from the kernel/switch/libvirt (`actual`: a fresh
        observe of these ports, to save reading twice). Changes nothing."""


class RouterBackend(Backend["RouterQos", A]):
    """The L3 role's contract: routers, not ports. It pulls the routers whose gateway is
    bound to the host and finds their namespaces (`locate`)."""

    agent_type = "netqos-l3"

    def pull(self, client: ServerClient, host: str
             ) -> tuple[int, list[RouterQos], list[RouterQos]]:
        revision, routers = client.routers(host)
        return (revision, *self.locate(routers))

    @abc.abstractmethod
    def locate(self, routers: Sequence[RouterQos]
               ) -> tuple[list[RouterQos], list[RouterQos]]:
        """(routers whose namespace is here, routers without one)."""
