"""A FAKE SR-IOV NIC: a sysfs tree in a directory and a recording netlink layer.

This machine has no SR-IOV NIC, no VFs and no netdevsim, so tests of the SR-IOV backend
(tests/agent/test_sriov.py, tests/cluster/test_backends_per_host.py) use this instead of
hardware, and say so: the sysfs tree is built in a directory (PF 0000:3b:00.0 = ens1f0 with
VFs 0-3, symlinked as the kernel does: physfn, virtfnN, net/<name>), and `FakeNetlink`
stands in for VfNetlink: it holds the VF rates a real PF would report and records every
set_rate call.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

PF_SLOT, PF = "0000:3b:00.0", "ens1f0"


def vf_slot(n: int) -> str:
    return f"0000:3b:02.{n}"


def make_sysfs(root: Path, vfs: int = 4) -> Path:
    """<root>/devices/pci0000:3a/<slot> dirs, <root>/bus/pci/devices/<slot> symlinks to
    them, like the real tree; plus a plain NIC (0000:00:1f.6, eno1) that is no VF."""
    devices = root / "devices" / "pci0000:3a"
    bus = root / "bus" / "pci" / "devices"
    bus.mkdir(parents=True)
    pf = devices / PF_SLOT
    (pf / "net" / PF).mkdir(parents=True)
    os.symlink(pf, bus / PF_SLOT)
    for n in range(vfs):
        vf = devices / vf_slot(n)
        (vf / "net" / f"{PF}v{n}").mkdir(parents=True)
        os.symlink(f"../{PF_SLOT}", vf / "physfn")
        os.symlink(f"../{vf_slot(n)}", pf / f"virtfn{n}")
        os.symlink(vf, bus / vf_slot(n))
    plain = devices / "0000:00:1f.6"
    (plain / "net" / "eno1").mkdir(parents=True)
    os.symlink(plain, bus / "0000:00:1f.6")
    return root


class FakeNetlink:
    """Records set_rate calls; reports rates like a PF (the kernel sets max and min
    together, so a call with only one would zero the other: we model exactly that)."""

    def __init__(self, rates: dict[int, tuple[int, int]] | None = None):
        self.vfs = {PF: dict(rates or {n: (0, 0) for n in range(4)})}
        self.calls: list[tuple] = []
        self.reads = 0
        self._lock = threading.Lock()   # an agent's thread writes, a test reads

    def rates(self, pf: str) -> dict[int, tuple[int, int]]:
        with self._lock:
            self.reads += 1
            return dict(self.vfs[pf])

    def set_rate(self, pf: str, vf: int, max_mbps: int, min_mbps: int) -> None:
        with self._lock:
            self.calls.append((pf, vf, max_mbps, min_mbps))
            self.vfs[pf][vf] = (max_mbps, min_mbps)
