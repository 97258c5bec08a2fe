"""Network namespaces and veth pairs for dataplane tests (needs root).

The harness's one command runner (`sh`, also called `run`), its one namespace object
(`Netns`) and the base of every lab (`Namespaces`: tests/harness/lab.py, l3lab.py,
ovslab.py). Names are unique per test process (nq-<pid>-<n>) so parallel runs and
leftovers of a crashed run never collide; every namespace made here is deleted at exit
even when a test forgets to.

    with Netns() as a, Netns() as b:
        veth("va", "vb", a, b)
        a.run("ip", "addr", "add", "10.9.0.1/24", "dev", "va")
"""

from __future__ import annotations

import atexit
import itertools
import os
import subprocess

_counter = itertools.count(1)
_live: set[str] = set()


def sh(*argv: str, check: bool = True, timeout: float | None = 120,
       **kw) -> subprocess.CompletedProcess:
    """Run a command in the root namespace; output captured as text (`input=`, `env=`
    pass through). A failure with check raises RuntimeError carrying the command's
    stderr (or stdout), which is what a test report needs."""
    res = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    if check and res.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({res.returncode}): "
                           f"{res.stderr.strip() or res.stdout.strip()}")
    return res


run = sh   # the name the namespace tests and the L2 harnesses use


def in_ns(ns: str, *argv: str) -> list[str]:
    """argv run inside namespace `ns` (for Popen; sh(*in_ns(...)) to wait for it)."""
    return ["ip", "netns", "exec", ns, *argv]


def unique_name(prefix: str = "nq") -> str:
    return f"{prefix}-{os.getpid()}-{next(_counter)}"


class Netns:
    """A network namespace that exists until delete() (or the end of `with`)."""

    def __init__(self, name: str | None = None):
        self.name = name or unique_name()
        sh("ip", "netns", "add", self.name)
        _live.add(self.name)
        # Loopback is down in a new namespace; nearly everything wants it up.
        self.run("ip", "link", "set", "lo", "up")

    def run(self, *argv: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        """Run a command inside the namespace."""
        return sh(*in_ns(self.name, *argv), check=check, timeout=timeout)

    def popen(self, *argv: str, **kw) -> subprocess.Popen:
        """Start a long-running command (an agent, iperf3 -s) inside the namespace."""
        return subprocess.Popen(["ip", "netns", "exec", self.name, *argv], **kw)

    def delete(self) -> None:
        if self.name in _live:
            delete_netns(self.name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.delete()

    def __str__(self):
        return self.name


def delete_netns(name: str) -> None:
    """Delete a namespace (its veths go with it) and forget it for the exit clean-up."""
    sh("ip", "netns", "delete", name, check=False)
    _live.discard(name)


class Namespaces:
    """What every lab shares: the namespaces it made (self.namespaces, TCP congestion
    control self.cc, both declared by the lab) and close(), which deletes them all —
    their veths go with them."""

    namespaces: list[str]
    cc: str

    def new_netns(self, name: str) -> str:
        """A fresh namespace `name` (a leftover of that name is deleted first) with
        forwarding on, DAD off and the lab's congestion control."""
        sh("ip", "netns", "del", name, check=False)
        Netns(name)
        self.namespaces.append(name)
        for key, value in (("net.ipv4.tcp_congestion_control", self.cc),
                           ("net.ipv4.ip_forward", "1"),
                           ("net.ipv6.conf.all.forwarding", "1"),
                           ("net.ipv6.conf.default.accept_dad", "0")):
            sh(*in_ns(name, "sysctl", "-qw", f"{key}={value}"), check=False)
        return name

    def close(self) -> None:
        for ns in reversed(self.namespaces):
            delete_netns(ns)
        self.namespaces.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def veth(name_a: str, name_b: str, ns_a: Netns | None = None, ns_b: Netns | None = None,
         up: bool = True) -> None:
    """Create a veth pair; each end optionally moved into a namespace and set up.

    Interface names are limited to 15 characters by the kernel.
    """
    sh("ip", "link", "add", name_a, "type", "veth", "peer", "name", name_b)
    for dev, ns in ((name_a, ns_a), (name_b, ns_b)):
        if ns is not None:
            sh("ip", "link", "set", dev, "netns", ns.name)
        if up:
            (ns.run if ns else sh)("ip", "link", "set", dev, "up")


def delete_link(name: str, ns: Netns | None = None) -> None:
    """Delete an interface (deleting one veth end removes its peer too)."""
    (ns.run if ns else sh)("ip", "link", "delete", name, check=False)


@atexit.register
def _cleanup() -> None:
    # Namespaces are kernel objects that outlive the process: never leak them.
    for name in list(_live):
        delete_netns(name)
