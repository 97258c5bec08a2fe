"""Read the kernel in two dumps, whatever the number of ports: `ip -d -j link show` (every
link with its kind, master, flags and vxlan/vlan attributes) and `bridge -j fdb show`
(every forwarding entry; only the vxlan devices' static entries with a `dst` matter)."""
from __future__ import annotations

import json
from typing import Any

from netqos.agent.l2.linuxbridge import names
from netqos.agent.l2.linuxbridge.state import Fdb, L2State, Link
from netqos.agent.tc.runner import Runner

TOS_INHERIT = "0x1"   # how `ip -d -j` shows a vxlan's `tos inherit`


def parse_link(d: dict[str, Any]) -> Link:   # one object of `ip -d -j link show`
    info = d.get("linkinfo") or {}
    data = info.get("info_data") or {}
    kind = info.get("info_kind")
    link = d.get("link")  # a vlan's parent ("eth1"), "eth1@if3" style names excluded
    return Link(name=d["ifname"], kind=kind, master=d.get("master"),
                up="UP" in (d.get("flags") or ()), mtu=d.get("mtu", 1500),
                vni=data.get("id") if kind == "vxlan" else None,
                local=data.get("local") if kind == "vxlan" else None,
                learning=data.get("learning") if kind == "vxlan" else None,
                dstport=data.get("port") if kind == "vxlan" else None,
                tos_inherit=kind == "vxlan" and data.get("tos") == TOS_INHERIT,
                vlan_id=data.get("id") if kind == "vlan" else None,
                parent=link if kind == "vlan" else None)


def parse_fdb(entries: list[dict[str, Any]]) -> set[Fdb]:   # `bridge -j fdb show`
    return {Fdb(e["ifname"], e["mac"].lower(), e["dst"]) for e in entries
            if e.get("dst") and e.get("ifname", "").startswith(names.VXLAN_PREFIX)}


def observe(runner: Runner) -> L2State:
    links = {d["ifname"]: parse_link(d) for d in runner.ip_json("-d", "link", "show")}
    proc = runner.run("bridge", "-j", "fdb", "show", check=True)
    return L2State(links=links, fdb=parse_fdb(json.loads(proc.stdout or "[]")))
