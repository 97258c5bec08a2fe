"""The nftables side: table `netqos` in the inet and bridge families.

Why not the netdev family: the egress limiter redirects a VM's packets from the tap's tc
ingress to the IFB, and packets the IFB re-injects skip the tap's netdev ingress hook
(measured: its counter stays at 0). inet prerouting (routed ports) and bridge prerouting
(bridged ports) see them after the shaper, so both tables carry the same content:

    map from_vm  { type ifname : verdict }   device -> jump p-<port>-out
    map to_vm    { type ifname : verdict }   device -> jump p-<port>-in
    chain from_vm_hook  hook prerouting:  iifname vmap @from_vm
    chain to_vm_hook    hook postrouting: oifname vmap @to_vm
    chain p-<port>-out  [limit rate over N/second burst B packets drop] [ip/ip6 dscp set M]
    chain p-<port>-in   [limit rate over N/second burst B packets drop]

    map uplink_class { type ifname : classid }   device -> the port's class on the uplink
    inet:   chain uplink_hook  hook forward: oifname UPLINK meta priority set 0
                                     oifname UPLINK meta priority set iifname map @uplink_class
    bridge: chain uplink_hook  hook forward: meta priority 4e51:0-4e51:ffff meta priority set 0
                                     meta priority set iifname map @uplink_class

The uplink's HTB picks the class whose id equals skb->priority, so a guarantee follows the
device a packet entered on, bridged or routed (routing rewrites the priority before the
forward hook, so it is set here, after routing); the reset rule drops any priority of ours
the IFB classifier left on the packet (its class on the IFB), so nothing else can choose
an uplink class. The bridge family classifies whatever device a frame leaves by: a frame
bridged into a VXLAN device leaves the host as the host's own UDP (the output path, which
no forward hook sees), and skb->priority survives the encapsulation (measured: the port's
class on eth0 counts the VXLAN packets). So there it resets only the values that choose
one of our classes (major 4e51), leaving any other priority of a bridged frame alone.

One lookup per packet whatever the number of ports; a port's change is one atomic
transaction (flush its chain and refill it); a port's removal deletes its element and chain.
nft 1.0.6 cannot `dscp set` from a map, hence a chain per port rather than a dscp map.
"""
from __future__ import annotations

from typing import Any

from netqos.agent.tc.spec import PacketLimit
from netqos.agent.tc.state import OUR_MAJOR, NftFamily, PortChain

TABLE = "netqos"
FAMILIES = ("inet", "bridge")
PRIORITY = -150   # mangle: before the bridge or the IP stack decide anything
MAPS = {"from_vm": ("from_vm_hook", "prerouting", "iifname"),
        "to_vm": ("to_vm_hook", "postrouting", "oifname")}
UPLINK_MAP, UPLINK_CHAIN = "uplink_class", "uplink_hook"
# forward in both: the last hook that knows both devices (postrouting has no input device:
# measured, iifname never matched there). inet forward runs after routing set the priority
# of a routed packet; for a bridged frame br_netfilter's inet forward sees the bridge as
# oifname, so only the bridge family's rule acts on it.
UPLINK_HOOK = {"inet": "forward", "bridge": "forward"}
ANY_DEVICE = "*"   # the bridge family's uplink_hook: it classifies frames whatever their oifname


def chain_name(port_id: str, direction: str) -> str:
    """p-<port>-out for packets leaving the VM, p-<port>-in for packets entering it."""
    return f"p-{port_id}-{'out' if direction == 'egress' else 'in'}"


def port_of_chain(name: str) -> tuple[str, str] | None:
    """Inverse of chain_name: (port id, direction) or None for chains we don't own."""
    for suffix, direction in (("-out", "egress"), ("-in", "ingress")):
        if name.startswith("p-") and name.endswith(suffix):
            return name[2:-len(suffix)], direction
    return None


def _uplink_rules(family: str, uplink: str) -> list[str]:
    classify = f"meta priority set iifname map @{UPLINK_MAP}"
    if family == "bridge":   # whatever the frame leaves by: the uplink, a VXLAN or VLAN device
        return [f"meta priority {OUR_MAJOR:x}:0-{OUR_MAJOR:x}:ffff meta priority set 0",
                classify]
    return [f'oifname "{uplink}" meta priority set 0', f'oifname "{uplink}" {classify}']


def uplink_hook_of(family: str, uplink: str | None) -> str | None:
    """What parse_ruleset reads back as `uplink_hook` once skeleton(family, uplink) ran."""
    return None if uplink is None else ANY_DEVICE if family == "bridge" else uplink


def skeleton(family: str, uplink: str | None = None) -> list[str]:
    lines = [f"add table {family} {TABLE}"]
    if uplink:
        lines += [
            f"add map {family} {TABLE} {UPLINK_MAP} {{ type ifname : classid; }}",
            f"add chain {family} {TABLE} {UPLINK_CHAIN} "
            f"{{ type filter hook {UPLINK_HOOK[family]} priority {PRIORITY}; policy accept; }}",
            f"flush chain {family} {TABLE} {UPLINK_CHAIN}",
        ] + [f"add rule {family} {TABLE} {UPLINK_CHAIN} {r}" for r in _uplink_rules(family, uplink)]
    for map_name, (chain, hook, key) in MAPS.items():
        lines += [
            f"add map {family} {TABLE} {map_name} {{ type ifname : verdict; }}",
            f"add chain {family} {TABLE} {chain} "
            f"{{ type filter hook {hook} priority {PRIORITY}; policy accept; }}",
            f"flush chain {family} {TABLE} {chain}",
            f"add rule {family} {TABLE} {chain} {key} vmap @{map_name}",
        ]
    return lines


def drop_table(family: str) -> list[str]:
    return [f"delete table {family} {TABLE}"]


def chain_rules(limit: PacketLimit | None, dscp: int | None) -> list[str]:
    rules = []
    if limit is not None:
        rules.append(f"limit rate over {limit.rate_pps}/second burst {limit.burst_packets} "
                     f"packets drop")
    if dscp is not None:
        rules += [f"ip dscp set {dscp}", f"ip6 dscp set {dscp}"]
    return rules


def write_chain(family: str, name: str, rules: list[str], existed: bool) -> list[str]:
    verb = "flush" if existed else "add"
    lines = [f"{verb} chain {family} {TABLE} {name}"]
    lines += [f"add rule {family} {TABLE} {name} {r}" for r in rules]
    return lines


def delete_chain(family: str, name: str) -> list[str]:
    return [f"delete chain {family} {TABLE} {name}"]


def set_element(family: str, map_name: str, device: str, chain: str, old: str | None) -> list[str]:
    lines = []
    if old is not None:
        lines.append(f'delete element {family} {TABLE} {map_name} {{ "{device}" }}')
    lines.append(f'add element {family} {TABLE} {map_name} {{ "{device}" : jump {chain} }}')
    return lines


def delete_element(family: str, map_name: str, device: str) -> list[str]:
    return [f'delete element {family} {TABLE} {map_name} {{ "{device}" }}']


def class_element(family: str, device: str, minor: int, existed: bool) -> list[str]:
    """The uplink class of packets that entered on `device`."""
    lines = delete_element(family, UPLINK_MAP, device) if existed else []
    lines.append(f'add element {family} {TABLE} {UPLINK_MAP} '
                 f'{{ "{device}" : {OUR_MAJOR:x}:{minor:x} }}')
    return lines


# ---- reading `nft -j -n list ruleset` ----

# One statement of a rule in libnftables JSON ({"limit": {...}}, {"mangle": {...}}, ...):
# its shape depends on its single key, so its value stays untyped.
NftExpr = dict[str, Any]

def _read_rule(chain: PortChain, expr: list[NftExpr]) -> None:
    kinds = [next(iter(e)) for e in expr]
    if kinds == ["limit", "drop"] and expr[0]["limit"].get("inv") \
            and expr[0]["limit"].get("per") == "second":
        chain.limit = PacketLimit(expr[0]["limit"]["rate"], expr[0]["limit"].get("burst", 5))
    elif kinds == ["mangle"] and expr[0]["mangle"]["key"].get("payload", {}).get("field") == "dscp":
        proto = expr[0]["mangle"]["key"]["payload"]["protocol"]
        setattr(chain, "dscp4" if proto == "ip" else "dscp6", int(expr[0]["mangle"]["value"]))
    else:
        chain.other_rules += 1


def _vmap_ok(expr: list[NftExpr], key: str, map_name: str) -> bool:
    return (len(expr) == 1 and "vmap" in expr[0]
            and expr[0]["vmap"]["key"].get("meta", {}).get("key") == key
            and expr[0]["vmap"]["data"] == f"@{map_name}")


def _classid_minor(text: str) -> int | None:
    major, _, minor = str(text).partition(":")
    try:
        return int(minor, 16) if int(major, 16) == OUR_MAJOR else None
    except ValueError:
        return None


def _ours_reset(match: dict[str, Any]) -> bool:
    """The bridge family's reset condition: skb->priority within our major."""
    return bool(match["left"].get("meta", {}).get("key") == "priority"
                and match["right"] == {"range": [f"{OUR_MAJOR:x}:0", f"{OUR_MAJOR:x}:ffff"]})


def _uplink_of(rules: list[list[NftExpr]]) -> str | None:
    """What the uplink_hook chain classifies for, if its two rules are ours: the uplink
    device (inet: `oifname` in both rules) or ANY_DEVICE (bridge: a reset of our
    priorities, then the classifying rule on its own)."""
    if len(rules) != 2 or any(not r or "mangle" not in r[-1] or len(r) > 2 for r in rules):
        return None
    matches = [r[0]["match"] for r in rules if len(r) == 2 and "match" in r[0]]
    devices: set[str] = {m["right"] for m in matches
                         if m["left"].get("meta", {}).get("key") == "oifname"}
    values = [r[-1]["mangle"]["value"] for r in rules
              if r[-1]["mangle"]["key"].get("meta", {}).get("key") == "priority"]
    mapped = values[1:] and isinstance(values[1], dict) and values[1].get("map", {})
    if len(values) != 2 or values[0] not in ("none", 0, "0") or not mapped \
            or mapped.get("data") != f"@{UPLINK_MAP}" \
            or mapped.get("key", {}).get("meta", {}).get("key") != "iifname":
        return None
    if len(matches) == 2 and len(devices) == 1:
        return next(iter(devices))
    if len(matches) == 1 and len(rules[0]) == 2 and _ours_reset(matches[0]) \
            and len(rules[1]) == 1:
        return ANY_DEVICE
    return None


def parse_ruleset(doc: dict[str, Any]) -> dict[str, NftFamily]:
    """family -> NftFamily for our tables in the JSON of `nft -j -n list ruleset`."""
    out = {f: NftFamily() for f in FAMILIES}
    hook_rules: dict[tuple[str, str], list[list[NftExpr]]] = {}
    hook_chains: set[tuple[str, str]] = set()
    for item in doc.get("nftables", []):
        kind, body = next(iter(item.items()))
        if not isinstance(body, dict) or body.get("family") not in out:
            continue
        fam = out[body["family"]]
        if kind == "table" and body["name"] == TABLE:
            fam.present = True
        if body.get("table") != TABLE:
            continue
        if kind == "map" and body["name"] == UPLINK_MAP:
            for dev, classid in body.get("elem", []):
                if (minor := _classid_minor(classid)) is not None:
                    fam.uplink_class[dev] = minor
        elif kind == "map" and body["name"] in MAPS:
            target = fam.from_vm if body["name"] == "from_vm" else fam.to_vm
            for dev, verdict in body.get("elem", []):
                target[dev] = next(iter(verdict.values()))["target"]
        elif kind == "chain":
            if port_of_chain(body["name"]):
                fam.chains[body["name"]] = PortChain()
            elif body.get("hook"):
                hook_chains.add((body["family"], body["name"]))
        elif kind == "rule":
            if body["chain"] in fam.chains:
                _read_rule(fam.chains[body["chain"]], body["expr"])
            else:
                hook_rules.setdefault((body["family"], body["chain"]), []).append(body["expr"])
    for family, fam in out.items():
        if (family, UPLINK_CHAIN) in hook_chains:
            fam.uplink_hook = _uplink_of(hook_rules.get((family, UPLINK_CHAIN), []))
        fam.hooks_ok = fam.present and all(
            (family, chain) in hook_chains
            and [_vmap_ok(e, key, m) for e in hook_rules.get((family, chain), [])] == [True]
            for m, (chain, _hook, key) in MAPS.items())
    return out
