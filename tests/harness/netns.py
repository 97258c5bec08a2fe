"""Network namespaces and veth pairs for dataplane tests (needs root).

Names are unique per test process (nq-<pid>-<n>) so parallel runs and leftovers
of a crashed run never collide. Generic on purpose: tests/dataplane builds its
own topologies from these.

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


def run(*argv: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
    """Run a command in the root namespace; output captured as text."""
    res = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and res.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({res.returncode}): {res.stderr.strip()}")
    return res


def unique_name(prefix: str = "nq") -> str:
    return f"{prefix}-{os.getpid()}-{next(_counter)}"


class Netns:
    """A network namespace that exists until delete() (or the end of `with`)."""

    def __init__(self, name: str | None = None):
        self.name = name or unique_name()
        run("ip", "netns", "add", self.name)
        _live.add(self.name)
        # Loopback is down in a new namespace; nearly everything wants it up.
        self.run("ip", "link", "set", "lo", "up")

    def run(self, *argv: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        """Run a command inside the namespace."""
        return run("ip", "netns", "exec", self.name, *argv, check=check, timeout=timeout)

    def popen(self, *argv: str, **kw) -> subprocess.Popen:
        """Start a long-running command (an agent, iperf3 -s) inside the namespace."""
        return subprocess.Popen(["ip", "netns", "exec", self.name, *argv], **kw)

    def delete(self) -> None:
        if self.name in _live:
            run("ip", "netns", "delete", self.name, check=False)
            _live.discard(self.name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.delete()

    def __str__(self):
        return self.name


def veth(name_a: str, name_b: str, ns_a: Netns | None = None, ns_b: Netns | None = None,
         up: bool = True) -> None:
    """Create a veth pair; each end optionally moved into a namespace and set up.

    Interface names are limited to 15 characters by the kernel.
    """
    run("ip", "link", "add", name_a, "type", "veth", "peer", "name", name_b)
    for dev, ns in ((name_a, ns_a), (name_b, ns_b)):
        if ns is not None:
            run("ip", "link", "set", dev, "netns", ns.name)
        if up:
            (ns.run if ns else run)("ip", "link", "set", dev, "up")


def delete_link(name: str, ns: Netns | None = None) -> None:
    """Delete an interface (deleting one veth end removes its peer too)."""
    (ns.run if ns else run)("ip", "link", "delete", name, check=False)


@atexit.register
def _cleanup() -> None:
    # Namespaces are kernel objects that outlive the process: never leak them.
    for name in list(_live):
        run("ip", "netns", "delete", name, check=False)
    _live.clear()
