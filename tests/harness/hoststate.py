"""What a host holds, to prove that a command changed nothing (root).

`Snapshot` dumps, as JSON, the links, tc objects and nftables ruleset of network namespaces
(`ip -j -d link`, `tc -j qdisc|class|filter` per device, `nft -j list ruleset`) and, for a
private Open vSwitch, its OVSDB rows and each bridge's flows and meters. Two snapshots
compare equal when nothing was created, changed or deleted in between.

`Monitor` also catches what a snapshot cannot: something created and deleted again while
the command ran (a probe's throw-away device). It runs `ip monitor link`, `tc monitor` and
`nft monitor` in each namespace for the duration of a `with` block; `events` lists every
line they printed.

Counters are left out (no -s), so traffic or time alone changes nothing here. In the root
namespace, which other processes share, only the devices named in `devices` are dumped and
only events naming them count.
"""
from __future__ import annotations

import json
import subprocess
import time

# OVSDB columns netqos could write (statistics and status change on their own).
OVS_COLUMNS = {
    "Open_vSwitch": "bridges,other_config,external_ids,next_cfg",
    "Bridge": "name,ports,datapath_type,fail_mode,protocols,other_config,external_ids",
    "Port": "name,interfaces,qos,tag,trunks,other_config,external_ids",
    "Interface": "name,type,options,external_ids,ingress_policing_rate,"
                 "ingress_policing_burst,other_config",
    "QoS": "_uuid,type,queues,other_config,external_ids",
    "Queue": "_uuid,other_config,external_ids",
}


def _run(*argv: str, env: dict | None = None) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=30)
    return proc.stdout if proc.returncode == 0 else f"(exit {proc.returncode}) {proc.stderr}"


def _in_ns(ns: str | None, *argv: str) -> list[str]:
    return ["ip", "netns", "exec", ns, *argv] if ns else list(argv)


def _json(text: str):
    try:
        return json.loads(text) if text.strip() else []
    except json.JSONDecodeError:
        return text


def _steady(value):
    """Without what changes on its own: a bridge's running timers, a carrier settling."""
    if isinstance(value, dict):
        return {k: _steady(v) for k, v in value.items()
                if "timer" not in k and k != "operstate"}
    if isinstance(value, list):
        return [_steady(v) for v in value]
    return value


def netns_state(ns: str | None, devices: tuple[str, ...] = ()) -> dict:
    """Links, tc objects and nftables of namespace `ns` (None: the root one, where only
    `devices` are read)."""
    links = _json(_run(*_in_ns(ns, "ip", "-j", "-d", "link", "show")))
    if ns is None:
        links = [x for x in links if x.get("ifname") in devices]
    links = _steady(links)
    names = devices if ns is None else tuple(x["ifname"] for x in links)
    tc = {dev: {kind: _json(_run(*_in_ns(ns, "tc", "-j", kind, "show", "dev", dev)))
                for kind in ("qdisc", "class")} for dev in names}
    for dev in names:
        for hook in ("ingress", "egress"):
            tc[dev][f"filter {hook}"] = _json(_run(*_in_ns(ns, "tc", "-j", "filter", "show",
                                                           "dev", dev, hook)))
    state = {"links": links, "tc": tc}
    if ns is not None:   # the root namespace's ruleset is everyone's: not ours to compare
        state["nft"] = _json(_run(*_in_ns(ns, "nft", "-j", "list", "ruleset")))
    return state


def ovs_state(db: str, env: dict) -> dict:
    """The OVSDB rows netqos could touch, and every bridge's flows and meters."""
    state = {}
    for table, columns in OVS_COLUMNS.items():
        state[table] = _json(_run("ovs-vsctl", f"--db={db}", "--format=json",
                                  f"--columns={columns}", "list", table, env=env))
    for bridge in _run("ovs-vsctl", f"--db={db}", "list-br", env=env).split():
        state[f"flows {bridge}"] = _run("ovs-ofctl", "-O", "OpenFlow13", "--no-stats",
                                        "dump-flows", bridge, env=env)
        state[f"meters {bridge}"] = _run("ovs-ofctl", "-O", "OpenFlow13", "dump-meters",
                                         bridge, env=env)
    return state


class Snapshot:
    def __init__(self, namespaces: tuple[str | None, ...] = (), devices: tuple[str, ...] = (),
                 ovs: tuple[str, dict] | None = None):
        self.namespaces, self.devices, self.ovs = namespaces, devices, ovs

    def take(self) -> dict:
        state = {f"netns {ns or '(root)'}": netns_state(ns, self.devices)
                 for ns in self.namespaces}
        if self.ovs is not None:
            state["ovs"] = ovs_state(*self.ovs)
        return state


    def settled(self, timeout: float = 10) -> dict:
        """A snapshot once the host stopped changing (links just added settle their
        carrier): the same twice in a row."""
        deadline, last = time.monotonic() + timeout, self.take()
        while time.monotonic() < deadline:
            time.sleep(0.3)
            now = self.take()
            if now == last:
                return now
            last = now
        raise AssertionError("the host kept changing before the command ran")


class Monitor:
    """Netlink link and tc events and nftables changes in `namespaces` during a block."""

    def __init__(self, namespaces: tuple[str | None, ...], devices: tuple[str, ...] = ()):
        self.namespaces, self.devices = namespaces, devices
        self.events: list[str] = []
        self._procs: list[tuple[str | None, subprocess.Popen]] = []

    def __enter__(self) -> "Monitor":
        for ns in self.namespaces:
            for argv in (("ip", "monitor", "link"), ("tc", "monitor"), ("nft", "monitor")):
                self._procs.append((ns, subprocess.Popen(
                    _in_ns(ns, *argv), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                    text=True)))
        time.sleep(0.5)   # the monitors subscribe before the command runs
        return self

    def __exit__(self, *exc) -> None:
        time.sleep(0.5)   # late events of the command
        for ns, proc in self._procs:
            proc.terminate()
            out, _ = proc.communicate(timeout=10)
            for line in out.splitlines():
                if ns is None and not any(d in line for d in self.devices):
                    continue   # the root namespace's other devices are not ours
                self.events.append(f"{ns or '(root)'}: {line}")
        self._procs.clear()
