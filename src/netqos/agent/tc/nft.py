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

One lookup per packet whatever the number of ports; a port's change is one atomic
transaction (flush its chain and refill it); a port's removal deletes its element and chain.
nft 1.0.6 cannot `dscp set` from a map, hence a chain per port rather than a dscp map.
"""
from __future__ import annotations

from netqos.agent.tc.spec import PacketLimit
from netqos.agent.tc.state import NftFamily, PortChain

TABLE = "netqos"
FAMILIES = ("inet", "bridge")
PRIORITY = -150   # mangle: before the bridge or the IP stack decide anything
MAPS = {"from_vm": ("from_vm_hook", "prerouting", "iifname"),
        "to_vm": ("to_vm_hook", "postrouting", "oifname")}


def chain_name(port_id: str, direction: str) -> str:
    """p-<port>-out for packets leaving the VM, p-<port>-in for packets entering it."""
    return f"p-{port_id}-{'out' if direction == 'egress' else 'in'}"


def port_of_chain(name: str) -> tuple[str, str] | None:
    """Inverse of chain_name: (port id, direction) or None for chains we don't own."""
    for suffix, direction in (("-out", "egress"), ("-in", "ingress")):
        if name.startswith("p-") and name.endswith(suffix):
            return name[2:-len(suffix)], direction
    return None


def skeleton(family: str) -> list[str]:
    lines = [f"add table {family} {TABLE}"]
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


# ---- reading `nft -j -n list ruleset` ----

def _read_rule(chain: PortChain, expr: list[dict]) -> None:
    kinds = [next(iter(e)) for e in expr]
    if kinds == ["limit", "drop"] and expr[0]["limit"].get("inv") \
            and expr[0]["limit"].get("per") == "second":
        chain.limit = PacketLimit(expr[0]["limit"]["rate"], expr[0]["limit"].get("burst", 5))
    elif kinds == ["mangle"] and expr[0]["mangle"]["key"].get("payload", {}).get("field") == "dscp":
        proto = expr[0]["mangle"]["key"]["payload"]["protocol"]
        setattr(chain, "dscp4" if proto == "ip" else "dscp6", int(expr[0]["mangle"]["value"]))
    else:
        chain.other_rules += 1


def _vmap_ok(expr: list[dict], key: str, map_name: str) -> bool:
    return (len(expr) == 1 and "vmap" in expr[0]
            and expr[0]["vmap"]["key"].get("meta", {}).get("key") == key
            and expr[0]["vmap"]["data"] == f"@{map_name}")


def parse_ruleset(doc: dict) -> dict[str, NftFamily]:
    """family -> NftFamily for our tables in the JSON of `nft -j -n list ruleset`."""
    out = {f: NftFamily() for f in FAMILIES}
    hook_rules: dict[tuple[str, str], list[list[dict]]] = {}
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
        if kind == "map" and body["name"] in MAPS:
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
        fam.hooks_ok = fam.present and all(
            (family, chain) in hook_chains
            and [_vmap_ok(e, key, m) for e in hook_rules.get((family, chain), [])] == [True]
            for m, (chain, _hook, key) in MAPS.items())
    return out
