"""The SR-IOV backend: the NIC enforces VF rates; the agent sets them on the PF.

Ports with binding:vnic_type direct or macvtap and binding:profile.pci_slot. The VF's PF
and index come from sysfs (netqos.agent.sriov.sysfs). Rules, as the SRIOV support table
promises (and the server's 409s enforce):
- bandwidth_limit egress (out of the VM) -> max_tx_rate
- minimum_bandwidth egress -> min_tx_rate
in Mbit/s (netqos.agent.sriov.rates). No burst, no ingress, nothing else: a port carrying
such a rule is skipped with the reason (the server should have refused it already).

A rate is managed when the port has its rule, or when netqos set it before (then it is
cleared to 0 when the rule goes). The kernel takes max and min together, so applying one
reads the other's current value back from the PF and sends it along; an unmanaged rate is
left as it is.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from netqos.agent.backends import driver
from netqos.agent.backends.base import ApplyResult, PortBackend
from netqos.agent.backends.changes import Action, Change
from netqos.wire import BandwidthLimit, MinimumBandwidth, PortQos
from netqos.agent.sriov.netlink import VfNetlink
from netqos.agent.sriov.rates import kbps_to_vf_mbps
from netqos.agent.sriov.sysfs import Sysfs, VfRef
from netqos.qos.backends import SRIOV

ATTRS: dict[str, type[BandwidthLimit] | type[MinimumBandwidth]] = {
    "max_tx_rate": BandwidthLimit, "min_tx_rate": MinimumBandwidth}


@dataclass(frozen=True)
class VfChange:
    ref: VfRef
    attr: str        # max_tx_rate | min_tx_rate
    mbps: int


# PF -> {VF number: (max_tx_rate, min_tx_rate) in Mbit/s}, as the PFs report them
VfRates = dict[str, dict[int, tuple[int, int]]]


class SriovBackend(PortBackend[VfRates]):
    support = SRIOV
    link_devices = False        # VFs are set through their PF
    device_kind = "vf"

    def __init__(self, netns: str | None = None, uplink: tuple[str, int] | None = None,
                 sysfs_root: str = "/sys", netlink: VfNetlink | None = None):
        self.netns = netns
        self.sysfs = Sysfs(sysfs_root)
        self.netlink = netlink or VfNetlink(netns)
        self._refs: dict[str, VfRef] = {}                    # port -> its VF (last locate)
        self._memo: dict[tuple[str, str], tuple[VfRef, int]] = {}   # (port, attr) -> written

    @property
    def capabilities(self) -> dict[str, bool]:
        return {"sriov": True}

    # ---- discovery ----
    def ref_of(self, port: PortQos) -> VfRef | None:
        slot = (port.profile or {}).get("pci_slot")
        if not self.owns(port) or not slot:
            return None
        return self.sysfs.vf(slot)

    def locate(self, ports: Sequence[PortQos]) -> tuple[list[PortQos], list[PortQos]]:
        found, missing = [], []
        for port in ports:
            ref = self.ref_of(port)
            if ref is None:
                missing.append(port)
                continue
            self._refs[port.port_id] = ref
            found.append(dataclasses.replace(port, device=str(ref)))
        return found, missing

    # ---- observe / plan / apply ----
    def _ref(self, port: PortQos) -> VfRef | None:
        return self._refs.get(port.port_id) or self.ref_of(port)

    def observe(self, ports: Sequence[PortQos] = ()) -> VfRates:
        pfs = {r.pf for r in (self._ref(p) for p in ports) if r}
        pfs |= {ref.pf for ref, _ in self._memo.values()}
        return {pf: self.netlink.rates(pf) for pf in sorted(pfs)}

    def plan(self, desired: Sequence[PortQos], actual: VfRates) -> list[Change]:
        changes: list[Change] = []
        wanted_keys = set()
        for port in sorted(desired, key=lambda p: p.port_id):
            ref = self._ref(port)
            if ref is None:
                changes.append(Change(port.port_id, Action.SKIP, "no VF for the port here"))
                continue
            refused = self.support.first_refused(r.to_wire() for r in port.rules)
            if refused is not None:
                changes.append(Change(port.port_id, Action.SKIP,
                                      f"SR-IOV cannot enforce {_describe(refused)}"))
                continue
            have = actual.get(ref.pf, {}).get(ref.vf, (0, 0))
            for i, (attr, kind) in enumerate(ATTRS.items()):
                rule = port.rule(kind, "egress")
                key = (port.port_id, attr)
                if rule is None and key not in self._memo:
                    continue               # not ours: left as the kernel holds it
                want = kbps_to_vf_mbps(_kbps(rule)) if rule else 0
                wanted_keys.add(key)
                if have[i] == want:
                    continue
                drift = self._memo.get(key) == (ref, want)
                changes.append(Change(port.port_id, Action.UPDATE if want else Action.DELETE,
                                      f"{attr} of {ref}", f"{have[i]} -> {want} Mbit/s",
                                      drift, VfChange(ref, attr, want)))
        # ports gone from this host's desired state: clear what we set on their VFs
        for (port_id, attr), (ref, _value) in sorted(self._memo.items()):
            if (port_id, attr) in wanted_keys or any(p.port_id == port_id for p in desired):
                continue
            held = actual.get(ref.pf, {}).get(ref.vf)
            if held is not None and held[0 if attr == "max_tx_rate" else 1]:
                changes.append(Change(port_id, Action.DELETE, f"{attr} of {ref}",
                                      "port no longer here", False, VfChange(ref, attr, 0)))
        return changes

    def enforced(self, ports: Sequence[PortQos], actual: VfRates | None = None
                 ) -> dict[str, dict[str, Any]]:
        """The VF's max_tx_rate (egress limit) and min_tx_rate (egress guarantee), as
        the PF reports them now."""
        rates = actual if actual is not None else self.observe(ports)
        out = {}
        for port in ports:
            ref = self._ref(port)
            if ref is None:
                continue
            max_mbps, min_mbps = rates.get(ref.pf, {}).get(ref.vf, (0, 0))
            out[port.port_id] = {
                "ingress": None, "dscp_mark": None, "packet_rate": {},
                "egress": {"rate_kbps": max_mbps * 1000, "burst_bytes": 0,
                           "queue_bytes": 0} if max_mbps else None,
                "min_egress_kbps": min_mbps * 1000 or None}
        return out

    def apply(self, changes: Sequence[Change]) -> ApplyResult:
        return driver.apply(changes, [driver.Step("vf rates", _vf_change, self._set_rates)],
                            self._remember)

    def _set_rates(self, vf_changes: list[VfChange]) -> dict[int, str]:
        """One netlink request per VF, carrying both its rates: the one not changed is read
        back from the PF right before. {index of a failed VfChange: reason}."""
        per_vf: dict[VfRef, list[int]] = {}
        for n, vc in enumerate(vf_changes):
            per_vf.setdefault(vc.ref, []).append(n)
        current: VfRates = {}
        errors: dict[int, str] = {}
        for ref, group in per_vf.items():
            if ref.pf not in current:   # read back right before setting: the other rate
                current[ref.pf] = self.netlink.rates(ref.pf)
            max_rate, min_rate = current[ref.pf].get(ref.vf, (0, 0))
            for n in group:
                if vf_changes[n].attr == "max_tx_rate":
                    max_rate = vf_changes[n].mbps
                else:
                    min_rate = vf_changes[n].mbps
            try:
                self.netlink.set_rate(ref.pf, ref.vf, max_rate, min_rate)
            except Exception as exc:
                errors.update({n: f"{ref}: {exc}" for n in group})
                continue
            current[ref.pf][ref.vf] = (max_rate, min_rate)
        return errors

    def _remember(self, change: Change) -> None:
        vc = change.payload
        if not isinstance(vc, VfChange):
            return
        key = (change.port_id, vc.attr)
        if vc.mbps:
            self._memo[key] = (vc.ref, vc.mbps)
        else:
            self._memo.pop(key, None)


def _vf_change(change: Change) -> list[VfChange]:
    return [change.payload] if isinstance(change.payload, VfChange) else []


def _kbps(rule: BandwidthLimit | MinimumBandwidth) -> int:
    return rule.max_kbps if isinstance(rule, BandwidthLimit) else rule.min_kbps


def _describe(rule: dict[str, Any]) -> str:
    extra = " with a burst" if rule.get("max_burst_kbps") else ""
    return f"{rule['type']} ({rule.get('direction', '-')}){extra}"


