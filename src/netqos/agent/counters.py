"""Per-port counters for the console's live charts, read in one batched kernel dump per host.

One `ip -s -j link show` (bytes and packets of every device) and one `tc -s -j qdisc show`
(drops and the qdiscs themselves) per tick, whatever the number of ports: never one
process or netlink request per port. (`ip -j` rather than pyroute2: pyroute2 needs ~0.8 s
to decode a 2000-device dump, longer than the tick.)

Directions are the VM's view: `in` enters the VM (the host-side device's tx), `out` leaves
it (the device's rx).

Which devices carry a port's limiters is `port_devices` alone: today the port's own device
(the ingress TBF) - a backend that shapes a port on a device of its own (an IFB per port)
extends it, and the drops and the objects shown for the port follow.

What this cannot see yet: traffic out of the VM is shaped on a shared IFB (one HTB class per
port), so `out` is what the VM offered (its device's rx), before that shaper drops the
excess, and those drops are not counted per port. With an IFB per port, its tx counters are
the rate after the limiter and its qdisc's drops are the port's.
"""
from __future__ import annotations

from dataclasses import dataclass

from netqos.wire import PortQos
from netqos.agent.tc.runner import Runner


@dataclass(frozen=True)
class PortCounters:
    port_id: str
    device: str
    rx_bytes: int        # the device's rx: what the VM sent (out)
    tx_bytes: int        # the device's tx: what the VM received (in)
    rx_packets: int
    tx_packets: int
    drops: int           # packets dropped by the qdiscs on the port's devices (its limiters)
    objects: tuple       # the qdiscs on those devices, as the kernel reports them


def port_devices(port: PortQos) -> tuple[str, ...]:
    return (port.device,) if port.device else ()


def qdisc_object(q: dict) -> dict:
    """What the page shows of a qdisc: kind, handle, parent, shaping parameters, counters."""
    options = q.get("options") or {}
    shown = {k: options[k] for k in ("rate", "burst", "ceil", "limit", "default", "lat")
             if k in options}
    if "rate" in shown:   # tc -j prints bytes/s
        shown["rate_bps"] = int(shown.pop("rate")) * 8
    return {"dev": q.get("dev"), "kind": q.get("kind"), "handle": q.get("handle"),
            "parent": "root" if q.get("root") else q.get("parent"), "options": shown,
            "drops": q.get("drops", 0), "overlimits": q.get("overlimits", 0)}


def read(runner: Runner, ports: list[PortQos]) -> list[PortCounters]:
    links = {link["ifname"]: link.get("stats64") or link.get("stats") or {}
             for link in runner.ip_json("-s", "link", "show")}
    qdiscs: dict[str, list[dict]] = {}
    for q in runner.tc_json("-s", "qdisc", "show"):
        qdiscs.setdefault(q.get("dev"), []).append(q)
    out = []
    for port in ports:
        stats = links.get(port.device)
        if stats is None:
            continue   # the device vanished since the last pass
        rx, tx = stats.get("rx", {}), stats.get("tx", {})
        held = [q for dev in port_devices(port) for q in qdiscs.get(dev, ())
                if q.get("kind") not in ("noqueue", "pfifo_fast", "fq_codel", "mq")]
        out.append(PortCounters(
            port.port_id, port.device, rx.get("bytes", 0), tx.get("bytes", 0),
            rx.get("packets", 0), tx.get("packets", 0),
            sum(q.get("drops", 0) for q in held if "parent" not in q or q.get("root")),
            tuple(qdisc_object(q) for q in held)))
    return out
