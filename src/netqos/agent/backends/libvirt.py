"""The libvirt backend: per-NIC limits of running VMs, live, surviving hard reboots.

Discovery: libvirt's running domains and their NICs (see netqos.agent.libvirt.domains): a
NIC whose target dev is tap<port[:11]>, whose MAC is a port's, or that the domain's
metadata names, is that port. libvirt's event loop (lifecycle and device added/removed
events) wakes the agent, so a domain started, hard-rebooted (a new tap) or migrated in gets
its ports' QoS within a second without any API call. Ports on plain taps (no domain) are
found by device name, as the tc backend does.

Enforcement, chosen once per host by what its kernel can do, and reported in the agent's
capabilities (`enforcement`):
- `libvirt`: where libvirt's bandwidth code works (sch_sfq, cls_fw, act_police present):
  bandwidth limits through setInterfaceParameters, LIVE then CONFIG; the other rule types
  (DSCP, packet rates, guarantees) by the tc backend.
- `tc`: elsewhere (this project's machines): the tc backend on the domain's tap, for every
  rule type. Never a CONFIG <bandwidth> there: libvirt stores it and the domain then fails to
  start.
Either way drift is read back from the kernel and repaired (libvirt itself does not notice a
deleted qdisc).
"""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NotRequired, TypedDict

from netqos.agent import discover
from netqos.agent.backends import driver
from netqos.agent.backends.base import ApplyResult, Change, PortBackend
from netqos.agent.backends.tc import TcBackend
from netqos.agent.libvirt import native
from netqos.agent.libvirt.domains import Domains, Nic, match
from netqos.agent.libvirt.probe import libvirt_bandwidth_works, probe_libvirt_bandwidth
from netqos.agent.tc.state import HostState
from netqos.wire import BandwidthLimit, PortQos
from netqos.qos.backends import LIBVIRT

LOG = logging.getLogger(__name__)
MODES = ("libvirt", "tc")


class LibvirtActual(TypedDict):
    """What the libvirt backend observes: the kernel (tc) and, where libvirt enforces,
    libvirt's own parameters per port id."""
    tc: HostState
    libvirt: NotRequired[dict[str, native.NicActual]]


class LibvirtBackend(PortBackend[LibvirtActual]):
    support = LIBVIRT
    device_kind = "libvirt-nic"

    def __init__(self, netns: str | None = None, uplink: tuple[str, int] | None = None,
                 uri: str | None = None, mode: str | None = None,
                 domains: Domains | None = None, tc: TcBackend | None = None):
        """`uri`: libvirt URI (None: libvirt's default, qemu:///system for root).
        `mode`: force 'libvirt' or 'tc' enforcement (None: probe the kernel)."""
        if mode not in (None, *MODES):
            raise ValueError(f"mode must be one of {MODES}")
        self.netns = netns
        self.tc = tc or TcBackend(netns=netns, uplink=uplink)
        self.domains = domains or Domains(uri)
        self._mode = mode
        self._probe: dict[str, bool] | None = None
        self._nics: dict[str, Nic] = {}          # port id -> its NIC, from the last locate
        self._native_memo: dict[str, dict[str, int]] = {}  # port id -> libvirt params we set

    # ---- what this host can do ----
    @property
    def mode(self) -> str:
        if self._mode is None:
            self._mode = "libvirt" if libvirt_bandwidth_works(self.probe) else "tc"
            LOG.info("libvirt backend: enforcing bandwidth limits with %s (kernel: %s)",
                     "libvirt's setInterfaceParameters" if self._mode == "libvirt"
                     else "tc on each domain's tap", self.probe)
        return self._mode

    @property
    def probe(self) -> dict[str, bool]:
        if self._probe is None:
            self._probe = probe_libvirt_bandwidth(self.tc.runner)
        return self._probe

    @property
    def capabilities(self) -> dict[str, bool | str]:
        return {**self.tc.capabilities, **{f"kernel_{k}": v for k, v in self.probe.items()},
                "libvirt_bandwidth": libvirt_bandwidth_works(self.probe),
                "enforcement": self.mode}

    def use_reported(self, capabilities: Mapping[str, object]) -> None:
        """The kernel probe's results and the enforcement mode as the agent reported
        them (`capabilities`); without a report, tc enforcement unless --mode says."""
        prefix = "kernel_"
        self._probe = {k[len(prefix):]: bool(v) for k, v in capabilities.items()
                       if k.startswith(prefix)}
        self.tc.use_reported({k: v for k, v in capabilities.items()
                              if not k.startswith(prefix) and k not in
                              ("libvirt_bandwidth", "enforcement")})
        if capabilities.get("enforcement") in MODES:
            self._mode = str(capabilities["enforcement"])

    # ---- discovery (the agent loop calls locate through PortBackend.pull) ----
    def locate(self, desired: Sequence[PortQos]) -> tuple[list[PortQos], list[PortQos]]:
        """(ports found here, with device and MAC set from libvirt; ports not found)."""
        try:
            nics = self.domains.nics()
        except Exception as exc:   # libvirtd away: plain taps still work
            LOG.warning("libvirt: cannot list domains: %s", exc)
            nics = []
        found, rest = match(desired, nics)
        self._nics = {p.port_id: nic for p, nic in found}
        plain, missing = discover.present(rest, discover.link_names(self.netns))
        return [p for p, _ in found] + plain, missing

    def watcher(self, netns: str | None, on_change: Callable[[], None]) -> "_Watchers":
        """The loop's hook: netlink link events (plain taps) and libvirt domain events."""
        return _Watchers(self, netns, on_change)

    def nic_of(self, port_id: str) -> Nic | None:
        return self._nics.get(port_id)

    # ---- observe / plan / apply ----
    def _native_ports(self, desired: Sequence[PortQos]) -> list[tuple[PortQos, Nic]]:
        if self.mode != "libvirt":
            return []
        return [(p, self._nics[p.port_id]) for p in desired if p.port_id in self._nics]

    def observe(self, ports: Sequence[PortQos] = ()) -> LibvirtActual:
        actual: LibvirtActual = {"tc": self.tc.observe(ports)}
        found = self._native_ports(ports)
        if found:
            actual["libvirt"] = native.observe(self.domains, self.tc.runner, found)
        return actual

    def plan(self, desired: Sequence[PortQos], actual: LibvirtActual) -> list[Change]:
        found = self._native_ports(desired)
        native_ids = {p.port_id for p, _ in found}
        # On a libvirt-enforcing host, libvirt owns the bandwidth limits of domain NICs.
        to_tc = [dataclasses.replace(p, rules=tuple(r for r in p.rules
                                                    if not isinstance(r, BandwidthLimit)))
                 if p.port_id in native_ids else p for p in desired]
        changes = self.tc.plan(to_tc, actual["tc"])
        if found:
            changes += native.plan(found, actual.get("libvirt", {}), self._native_memo)
        return changes

    def enforced(self, ports: Sequence[PortQos], actual: LibvirtActual | None = None
                 ) -> dict[str, dict[str, Any]]:
        """What the tap's kernel state holds (libvirt's own bandwidth code, where it
        enforces, writes tc on the same tap)."""
        actual = actual if actual is not None else self.observe(ports)
        return self.tc.enforced(ports, actual["tc"])

    def apply(self, changes: Sequence[Change]) -> ApplyResult:
        """The tc backend's batches, then libvirt's calls (one per NIC), in one driver
        run: one outcome per port whichever enforces what."""
        native_step = driver.Step("libvirt", _native, self._set_native,
                                  describe=lambda exc: f"libvirt: {exc}")
        with self.tc.applying(changes):
            return driver.apply(changes, [*self.tc.steps(), native_step], self._remember)

    def _set_native(self, payloads: list[native.NativePayload]) -> dict[int, str]:
        errors: dict[int, str] = {}
        for n, payload in enumerate(payloads):
            try:
                native.apply_one(self.domains, payload)
            except Exception as exc:
                errors[n] = f"libvirt: {exc}"
        return errors

    def _remember(self, change: Change) -> None:
        if isinstance(change.payload, native.NativePayload):
            self._native_memo[change.port_id] = change.payload.params
        else:
            self.tc.remember(change)

    def sync(self, desired: Sequence[PortQos]) -> tuple[list[Change], ApplyResult]:
        changes = self.plan(desired, self.observe(desired))
        result = self.apply(changes)
        self.tc.forget({p.port_id for p in desired})
        return changes, result


def _native(change: Change) -> list[native.NativePayload]:
    return [change.payload] if isinstance(change.payload, native.NativePayload) else []


class _Watchers:
    def __init__(self, backend: LibvirtBackend, netns: str | None,
                 on_change: Callable[[], None]):
        self.links = discover.LinkWatcher(netns, on_change)
        self.backend, self.on_change = backend, on_change
        self._unwatch: Callable[[], None] | None = None

    def start(self) -> None:
        self.links.start()
        self._unwatch = self.backend.domains.watch(self.on_change)

    def stop(self) -> None:
        self.links.stop()
        if self._unwatch is not None:
            self._unwatch()
