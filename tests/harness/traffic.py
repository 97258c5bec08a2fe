"""Traffic helpers shared by the multi-host L2 tests: the machine-wide traffic lock, and a
tcpdump that shows the TOS byte of real packets (how DSCP is checked on the wire)."""
from __future__ import annotations

import fcntl
import re
import subprocess
from contextlib import contextmanager

TRAFFIC_LOCK = "/tmp/netqos-traffic.lock"


@contextmanager
def traffic_lock():
    """Measurements of engineers sharing the machine must not overlap."""
    with open(TRAFFIC_LOCK, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


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
