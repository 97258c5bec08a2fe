"""Can this kernel carry libvirt's own <bandwidth>? Tried once on a throw-away veth pair.

libvirt builds inbound limits as HTB + an `sfq` leaf (+ a `fw` filter for floors) and
outbound limits as an ingress qdisc with a u32 filter whose action is `police`. Where any of
sch_sfq, cls_fw, act_police is missing (this project's machines: all three), libvirt fails
half-way and leaves a half-built tree (measured), and a CONFIG <bandwidth> stops the domain
from starting: the agent must then shape the tap itself.
"""
from __future__ import annotations

from netqos.agent.tc.runner import Runner

DEV = "nqlvprobe"


def probe_libvirt_bandwidth(runner: Runner) -> dict[str, bool]:
    runner.run("ip", "link", "del", DEV)   # leftover of a probe killed half-way
    caps = {"sfq": False, "cls_fw": False, "police": False}
    if runner.run("ip", "link", "add", DEV, "type", "veth", "peer", "name",
                  DEV + "p").returncode != 0:
        return caps
    try:
        ok = runner.run("tc", "qdisc", "add", "dev", DEV, "root", "handle", "1:", "htb",
                        "default", "1").returncode == 0 and runner.run(
            "tc", "class", "add", "dev", DEV, "parent", "1:", "classid", "1:1", "htb",
            "rate", "1mbit").returncode == 0
        caps["sfq"] = ok and runner.run("tc", "qdisc", "add", "dev", DEV, "parent", "1:1",
                                        "handle", "2:", "sfq", "perturb", "10").returncode == 0
        caps["cls_fw"] = ok and runner.run("tc", "filter", "add", "dev", DEV, "parent", "1:0",
                                           "protocol", "all", "prio", "1", "handle", "1",
                                           "fw", "flowid", "1:1").returncode == 0
        caps["police"] = runner.run("tc", "qdisc", "add", "dev", DEV, "ingress"
                                    ).returncode == 0 and runner.run(
            "tc", "filter", "add", "dev", DEV, "parent", "ffff:", "protocol", "all", "u32",
            "match", "u32", "0", "0", "police", "rate", "1mbit", "burst", "10k", "drop",
            "flowid", ":1").returncode == 0
    finally:
        runner.run("ip", "link", "del", DEV)
    return caps


def libvirt_bandwidth_works(caps: dict[str, bool]) -> bool:
    return all(caps.get(k) for k in ("sfq", "cls_fw", "police"))
