"""VF rates over rtnetlink (pyroute2), behind a small interface tests can replace.

Rates are in Mbit/s, as the kernel's IFLA_VF_RATE has them; 0 = no limit / no guarantee.
Setting one of max_tx_rate/min_tx_rate sends both (the kernel takes the pair), so the
caller passes the other's current value.
"""
from __future__ import annotations

from pyroute2 import IPRoute

RTEXT_FILTER_VF = 1


class VfNetlink:
    def __init__(self, netns: str | None = None):
        self.netns = netns

    def _ipr(self) -> IPRoute:
        return IPRoute(netns=self.netns) if self.netns else IPRoute()

    def rates(self, pf: str) -> dict[int, tuple[int, int]]:
        """vf index -> (max_tx_rate, min_tx_rate) in Mbit/s."""
        with self._ipr() as ipr:
            index = ipr.link_lookup(ifname=pf)[0]
            msg = ipr.link("get", index=index, ext_mask=RTEXT_FILTER_VF)[0]
            out: dict[int, tuple[int, int]] = {}
            vfs = msg.get_attr("IFLA_VFINFO_LIST")
            for info in (vfs.get_attrs("IFLA_VF_INFO") if vfs else []):
                rate = info.get_attr("IFLA_VF_RATE") or {}
                out[rate.get("vf", len(out))] = (rate.get("max_tx_rate", 0),
                                                 rate.get("min_tx_rate", 0))
            return out

    def set_rate(self, pf: str, vf: int, max_mbps: int, min_mbps: int) -> None:
        with self._ipr() as ipr:
            index = ipr.link_lookup(ifname=pf)[0]
            ipr.link("set", index=index, vf={"vf": vf, "rate": {"max_tx_rate": max_mbps,
                                                                "min_tx_rate": min_mbps}})
