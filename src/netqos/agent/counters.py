"""Per-port counters for the console's live charts, read in one batched kernel dump per host.

One `ip -s -j link show` (bytes and packets of every device) and one `tc -s -j qdisc show`
(drops and the qdiscs themselves) per tick, whatever the number of ports: never one
process or netlink request per port. (`ip -j` rather than pyroute2: pyroute2 needs ~0.8 s
to decode a 2000-device dump, longer than the tick.) When taps are bound to the tc
backend's block, one more: its `tc -j filter show block` and the classifier's map
(tc/observe.read_block), which say which class on the shared IFB is whose.

Directions are the VM's view: `in` enters the VM (the host-side device's tx, after the
tap's TBF), `out` leaves it. A port shaped on the shared IFB `nq-ifb` counts `out` at its
HTB class's bfifo leaf: the leaf's bytes and packets are those HTB dequeued (the rate after
the limiter) and its drops are the limiter's - `tc -j` does not print HTB classes' stats
(iproute2 6.1), but the leaves are in the qdisc dump already. Any other port counts `out` at
its device's rx: what the VM offered.

Which devices carry a port's other limiters is `port_devices`: the port's own device (the
ingress TBF).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from netqos.agent.backends.base import Enforced
from netqos.agent.tc.observe import read_block
from netqos.agent.tc.runner import Runner
from netqos.agent.tc.state import IFB_NAME, OUR_BLOCK, OUR_MAJOR, HostState


@dataclass(frozen=True)
class PortCounters:
    port_id: str
    device: str
    rx_bytes: int        # out: what left the VM (its IFB class's leaf, else the device's rx)
    tx_bytes: int        # in: the device's tx, what the VM received
    rx_packets: int
    tx_packets: int
    drops: int           # packets dropped by the qdiscs on the port's devices (its limiters)
    objects: tuple[dict[str, Any], ...]   # the qdiscs on those devices, as the kernel reports them


def port_devices(port: Enforced) -> tuple[str, ...]:
    return (port.device,) if port.device else ()


def qdisc_object(q: dict[str, Any]) -> dict[str, Any]:
    """What the page shows of a qdisc: kind, handle, parent, shaping parameters, counters."""
    options = q.get("options") or {}
    shown = {k: options[k] for k in ("rate", "burst", "ceil", "limit", "default", "lat")
             if k in options}
    if "rate" in shown:   # tc -j prints bytes/s
        shown["rate_bps"] = int(shown.pop("rate")) * 8
    return {"dev": q.get("dev"), "kind": q.get("kind"), "handle": q.get("handle"),
            "parent": "root" if q.get("root") else q.get("parent"), "options": shown,
            "drops": q.get("drops", 0), "overlimits": q.get("overlimits", 0)}


def egress_leaves(runner: Runner, qdiscs: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """ifindex of a tap -> the bfifo leaf of its HTB class on the shared IFB, for the taps
    the tc backend's classifier map sends to a class that has one."""
    leaves = {}
    for q in qdiscs:
        major, _, minor = (q.get("parent") or "").partition(":")
        if q.get("dev") == IFB_NAME and major == f"{OUR_MAJOR:x}" and minor:
            leaves[int(minor, 16)] = q
    state = HostState(redirected={q.get("dev", "") for q in qdiscs
                                  if q.get("ingress_block") == OUR_BLOCK})
    if not leaves or not state.redirected:
        return {}
    try:
        read_block(runner, state)
    except OSError:   # no CAP_BPF, or a classifier replaced meanwhile
        return {}
    return {ifindex: leaves[minor] for ifindex, minor in state.port_classes.items()
            if minor in leaves}


def read(runner: Runner, ports: Sequence[Enforced]) -> list[PortCounters]:
    dumped = runner.ip_json("-s", "link", "show")
    links = {link["ifname"]: link for link in dumped}
    qdiscs: dict[str, list[dict[str, Any]]] = {}
    every = runner.tc_json("-s", "qdisc", "show")
    for q in every:
        qdiscs.setdefault(q.get("dev"), []).append(q)
    egress = egress_leaves(runner, every)
    out = []
    for port in ports:
        link = links.get(port.device) if port.device else None
        if link is None or port.device is None:
            continue   # the device vanished since the last pass
        stats = link.get("stats64") or link.get("stats") or {}
        rx, tx = stats.get("rx", {}), stats.get("tx", {})
        held = [q for dev in port_devices(port) for q in qdiscs.get(dev, ())
                if q.get("kind") not in ("noqueue", "pfifo_fast", "fq_codel", "mq")]
        drops = sum(q.get("drops", 0) for q in held if "parent" not in q or q.get("root"))
        leaf = egress.get(link.get("ifindex"))
        if leaf is not None:
            rx = {"bytes": leaf.get("bytes", 0), "packets": leaf.get("packets", 0)}
            drops += leaf.get("drops", 0)
            held.append(leaf)
        out.append(PortCounters(
            port.port_id, port.device, rx.get("bytes", 0), tx.get("bytes", 0),
            rx.get("packets", 0), tx.get("packets", 0), drops,
            tuple(qdisc_object(q) for q in held)))
    return out
