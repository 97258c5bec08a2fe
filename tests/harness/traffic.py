"""Traffic helpers shared by the multi-host L2 tests: the machine-wide traffic lock, and a
tcpdump that shows the TOS byte of real packets (how DSCP is checked on the wire)."""
from __future__ import annotations

import fcntl
import re
import subprocess
from contextlib import contextmanager
from types import SimpleNamespace

from netqos.agent.lab import iperf3

TRAFFIC_LOCK = "/tmp/netqos-traffic.lock"
LOW = 0.90                     # goodput/limit below this is measured once more


@contextmanager
def traffic_lock():
    """Measurements of engineers sharing the machine must not overlap."""
    with open(TRAFFIC_LOCK, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def limit_ratio(a, b, direction: str, limit_kbps: int) -> float:
    """Goodput of VM a's `direction` (egress: a sends) with VM b, over `limit_kbps`: TCP
    for 4 s under the traffic lock, measured once more if low (other work on a 2-core
    machine only slows a flow down, it never speeds it past a limiter). Printed."""
    def once() -> float:
        with traffic_lock():
            got = iperf3(None, SimpleNamespace(ns=a.ns.name), direction, seconds=4,
                         server=(b.ns.name, b.address))
        return got["bps"] / (limit_kbps * 1000)
    ratio = once()
    if ratio < LOW:
        print(f"\n{direction}: {ratio:.3f} of the limit, measured once more")
        ratio = max(ratio, once())
    print(f"\n{direction} of {a.name} ({a.host.name}) with {b.name} ({b.host.name}): "
          f"{ratio * limit_kbps / 1000:.1f} Mbit/s goodput, {ratio:.3f} of the limit")
    return ratio


def capture(ns: str, dev: str, bpf: str, count: int = 3) -> subprocess.Popen:
    """tcpdump -v of the first `count` packets matching `bpf` (it prints each IP header's
    tos); read the result with `tos_of`."""
    return subprocess.Popen(["ip", "netns", "exec", ns, "tcpdump", "-l", "-n", "-v", "-c",
                             str(count), "-i", dev, bpf], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)


def output(cap: subprocess.Popen, timeout: float = 5) -> str:
    """What `cap` printed, once it stopped or `timeout` passed."""
    try:
        out, _ = cap.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        cap.kill()
        out, _ = cap.communicate()
    return out


def tos_of(cap: subprocess.Popen, timeout: float = 5) -> list[str]:
    """The TOS bytes ("0x68") of what `cap` saw."""
    return re.findall(r"tos (0x[0-9a-f]+)", output(cap, timeout))


# BPF: VXLAN packets whose inner frame is IPv4 ICMP (UDP header 8 + VXLAN 8 + Ethernet 14
# bytes: the inner ethertype at udp[28], the inner IP protocol at udp[30 + 9]).
VXLAN_ICMP_BPF = "udp port 4789 and udp[28:2] = 0x0800 and udp[39] = 1"
# tcpdump -v of a VXLAN packet: the outer IP header, the UDP/VXLAN line, the inner one.
_VXLAN_ICMP = re.compile(r"\(tos (0x[0-9a-f]+),[^\n]*proto UDP[^\n]*\n[^\n]*VXLAN[^\n]*\n"
                         r"[^\n]*\(tos (0x[0-9a-f]+),[^\n]*proto ICMP")


def vxlan_icmp_tos(cap: subprocess.Popen, timeout: float = 5) -> list[tuple[str, str]]:
    """(outer TOS, inner TOS) of each VXLAN packet carrying ICMP that `cap` saw (capture
    with VXLAN_ICMP_BPF: ARP and IPv6 neighbour discovery carry no DSCP to copy)."""
    return _VXLAN_ICMP.findall(output(cap, timeout))
