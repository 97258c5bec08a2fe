"""libvirt's own <bandwidth>, for hosts whose kernel has sfq, cls_fw and act_police.

Per NIC: `setInterfaceParameters` LIVE, then CONFIG (two calls: the Python binding refuses
LIVE|CONFIG together), so the limit also survives a hard reboot without the agent.
libvirt does not notice a deleted qdisc (it keeps reporting the limit), so `observe` reads
the kernel too: the tap's root HTB (inbound) and its ingress qdisc (outbound); a limit that
libvirt reports but the kernel lacks is drift, repaired by setting it again.

Directions: libvirt's `inbound` is into the domain = the API's `ingress`; `outbound` is out
of the domain = `egress`.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from netqos.agent.backends.changes import Action, Change
from netqos.agent.libvirt import units
from netqos.agent.libvirt.domains import Nic
from netqos.wire import BandwidthLimit, PortQos

if TYPE_CHECKING:
    from netqos.agent.libvirt.domains import Domains
    from netqos.agent.tc.runner import Runner

AFFECT_LIVE, AFFECT_CONFIG = 1, 2
KEYS = ("inbound.average", "inbound.peak", "inbound.burst",
        "outbound.average", "outbound.peak", "outbound.burst")
LIBVIRT_DIRECTION = {"ingress": "inbound", "egress": "outbound"}


def wanted_params(port: PortQos) -> dict[str, int]:
    """The six libvirt keys for a port's bandwidth_limit rules (0 = no limit)."""
    params = {k: 0 for k in KEYS}
    for direction, prefix in LIBVIRT_DIRECTION.items():
        rule = port.rule(BandwidthLimit, direction)
        if rule:
            params[f"{prefix}.average"] = units.kbit_per_s_to_kilobytes_per_s(rule.max_kbps)
            params[f"{prefix}.burst"] = units.kbit_to_kib(rule.max_burst_kbps)
    return params


@dataclass
class NicActual:
    params: dict[str, int]         # what libvirt reports (LIVE)
    kernel_inbound: bool           # the tap has a root htb
    kernel_outbound: bool          # the tap has an ingress qdisc


@dataclass(frozen=True)
class NativePayload:
    uuid: str
    tap: str
    mac: str
    params: dict[str, int]


def _tap(nic: Nic) -> str:
    """A matched NIC's tap (domains.match pairs ports with running NICs, which have one)."""
    if nic.tap is None:
        raise ValueError(f"NIC {nic.index} of domain {nic.domain} has no tap: not running")
    return nic.tap


def kernel_view(runner: Runner, taps: Sequence[str]) -> dict[str, tuple[bool, bool]]:
    """tap -> (root htb present, ingress qdisc present), one `tc -j qdisc show`."""
    view = {t: [False, False] for t in taps}
    for q in runner.tc_json("qdisc", "show"):
        dev = q.get("dev")
        if dev not in view:
            continue
        if q.get("kind") == "htb" and q.get("root"):
            view[dev][0] = True
        if q.get("kind") == "ingress":
            view[dev][1] = True
    return {t: (a, b) for t, (a, b) in view.items()}


def observe(domains: Domains, runner: Runner, found: Sequence[tuple[PortQos, Nic]]
            ) -> dict[str, NicActual]:
    kernel = kernel_view(runner, [_tap(nic) for _, nic in found])
    actual = {}
    for port, nic in found:
        params = domains.domain(nic.uuid).interfaceParameters(_tap(nic), AFFECT_LIVE)
        inbound, outbound = kernel.get(_tap(nic), (False, False))
        actual[port.port_id] = NicActual({k: int(params.get(k, 0)) for k in KEYS},
                                         inbound, outbound)
    return actual


def plan(found: Sequence[tuple[PortQos, Nic]], actual: dict[str, NicActual],
         memo: dict[str, dict[str, int]]) -> list[Change]:
    changes = []
    for port, nic in found:
        want = wanted_params(port)
        have = actual.get(port.port_id)
        missing_in_kernel = have is not None and (
            (have.params["inbound.average"] and not have.kernel_inbound)
            or (have.params["outbound.average"] and not have.kernel_outbound))
        if have is not None and have.params == want and not missing_in_kernel:
            continue
        drift = bool(missing_in_kernel) or (memo.get(port.port_id) == want)
        detail = " ".join(f"{k}={v}" for k, v in want.items() if v) or "no limit"
        if missing_in_kernel:
            detail += " (libvirt reports it, the kernel lost it)"
        changes.append(Change(port.port_id, Action.UPDATE, f"libvirt bandwidth on {nic.tap}",
                              detail, drift, NativePayload(nic.uuid, _tap(nic), nic.mac, want)))
    return changes


def apply_one(domains: Domains, payload: NativePayload) -> None:
    """LIVE on the running tap, then CONFIG (by MAC) for the next start."""
    dom = domains.domain(payload.uuid)
    dom.setInterfaceParameters(payload.tap, payload.params, AFFECT_LIVE)
    if dom.isPersistent():
        dom.setInterfaceParameters(payload.mac, payload.params, AFFECT_CONFIG)
