"""Which PF and VF index a port's PCI slot (binding:profile.pci_slot) is, from sysfs.

  <root>/bus/pci/devices/<vf>/physfn      -> the PF's PCI device
  <root>/bus/pci/devices/<pf>/net/<name>  -> the PF's netdev name
  <root>/bus/pci/devices/<pf>/virtfnN     -> VF number N (the one resolving to <vf>)

`root` is a constructor parameter so tests can point it at a fake tree.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class VfRef:
    pf: str          # the PF's netdev name
    vf: int          # VF index on that PF
    pci_slot: str    # the VF's PCI address

    def __str__(self) -> str:
        return f"{self.pf} vf {self.vf}"


class Sysfs:
    def __init__(self, root: str | Path = "/sys"):
        self.root = Path(root)

    def vf(self, pci_slot: str) -> VfRef | None:
        """The VF behind a PCI slot; None when it is not a VF here (or has no PF netdev)."""
        dev = self.root / "bus" / "pci" / "devices" / pci_slot
        physfn = dev / "physfn"
        if not physfn.exists():
            return None
        pf_dir = physfn.resolve()
        nets = sorted(p.name for p in (pf_dir / "net").iterdir()) if (pf_dir / "net").is_dir() \
            else []
        if not nets:
            return None
        me = dev.resolve()
        for link in pf_dir.glob("virtfn*"):
            if link.resolve() == me:
                return VfRef(nets[0], int(link.name[len("virtfn"):]), pci_slot)
        return None
