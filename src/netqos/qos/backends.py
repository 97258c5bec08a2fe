"""The backend support matrix: what each dataplane backend can enforce.

One table per backend. The server consults it to refuse (409) a rule or a binding that the
port's backend cannot enforce, and /v2.0/qos/rule-types shows it to clients. The agent's
backends implement what their table promises; nothing here touches the kernel.
"""
from __future__ import annotations

from typing import Any

from collections.abc import Iterable
from dataclasses import dataclass, field

from netqos.qos.attributes import MAX_INT32, Choice, IntRange
from netqos.qos.rules import RULE_TYPES

FULL_RANGE = (0, MAX_INT32)


@dataclass(frozen=True)
class RuleSupport:
    """One rule type on one backend: allowed directions, narrowed ranges, enforcement."""

    rule_type: str
    directions: tuple[str, ...] = ()          # empty: every direction of the type
    ranges: dict[str, tuple[int, int]] = field(default_factory=dict)  # narrower than FULL
    enforced: bool = True                     # False: accepted for admission control only
    note: str = ""

    def allows(self, rule: dict[str, Any]) -> bool:
        if self.directions and rule.get("direction") not in self.directions:
            return False
        return all(lo <= rule.get(name, lo) <= hi for name, (lo, hi) in self.ranges.items())

    def parameters(self) -> list[dict[str, Any]]:
        """supported_parameters, in Neutron's rule-type detail shape."""
        params = []
        for f in RULE_TYPES[self.rule_type].fields:
            if isinstance(f, IntRange):
                lo, hi = self.ranges.get(f.name, (f.minimum, f.maximum))
                params.append({"parameter_name": f.name, "parameter_type": "range",
                               "parameter_values": {"start": lo, "end": hi}})
            elif isinstance(f, Choice):
                values = list(self.directions) if f.name == "direction" and self.directions \
                    else list(f.choices)
                params.append({"parameter_name": f.name, "parameter_type": "choices",
                               "parameter_values": values})
        return params


@dataclass(frozen=True)
class BackendSupport:
    name: str                     # the driver name clients see in rule-types
    vif_type: str                 # binding:vif_type of the ports it enforces
    vnic_types: tuple[str, ...]   # binding:vnic_type values it serves
    rules: tuple[RuleSupport, ...]

    def support_for(self, rule_type: str) -> RuleSupport | None:
        return next((r for r in self.rules if r.rule_type == rule_type), None)

    def allows(self, rule: dict[str, Any]) -> bool:
        support = self.support_for(rule["type"])
        return support is not None and support.allows(rule)

    def first_refused(self, rules: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
        return next((r for r in rules if not self.allows(r)), None)

    @property
    def rule_types(self) -> frozenset[str]:
        return frozenset(r.rule_type for r in self.rules)

    def to_wire(self) -> dict[str, Any]:
        """The table as an agent reports it in its heartbeat (JSON)."""
        return {"name": self.name, "vif_type": self.vif_type,
                "vnic_types": list(self.vnic_types),
                "rules": [{"rule_type": r.rule_type, "directions": list(r.directions),
                           "ranges": {k: list(v) for k, v in r.ranges.items()},
                           "enforced": r.enforced, "note": r.note} for r in self.rules]}

    @classmethod
    def from_wire(cls, doc: Any) -> BackendSupport:
        """A reported table, checked: known rule types, their own directions and integer
        parameters, ranges within the type's own. ValueError says what is wrong."""
        if not isinstance(doc, dict):
            raise ValueError("a support table is an object")
        rules = doc.get("rules")
        if not isinstance(rules, list):
            raise ValueError("support.rules must be a list")
        return cls(_word(doc.get("name"), "support.name"),
                   _word(doc.get("vif_type"), "support.vif_type"),
                   tuple(_word(v, "support.vnic_types") for v in _list(doc, "vnic_types")),
                   tuple(_rule_from_wire(r) for r in rules))


def _list(doc: dict[str, Any], key: str) -> list[Any]:
    value = doc.get(key, [])
    if not isinstance(value, list):
        raise ValueError(f"{key} must be a list")
    return value


def _word(value: Any, what: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= 64 \
            or not value.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"{what}: {value!r} is not a name")
    return value


def _rule_from_wire(doc: Any) -> RuleSupport:
    if not isinstance(doc, dict) or doc.get("rule_type") not in RULE_TYPES:
        raise ValueError(f"support.rules: unknown rule type in {doc!r}"[:200])
    rule_type = RULE_TYPES[doc["rule_type"]]
    directions = tuple(_list(doc, "directions"))
    if any(d not in rule_type.directions for d in directions):
        raise ValueError(f"support.rules: {rule_type.name} has no direction in {directions}")
    bounds = {f.name: (f.minimum, f.maximum) for f in rule_type.fields
              if isinstance(f, IntRange)}
    ranges_doc = doc.get("ranges") or {}
    if not isinstance(ranges_doc, dict):
        raise ValueError("support.rules.ranges must be an object")
    ranges = {}
    for name, value in ranges_doc.items():
        if name not in bounds or not isinstance(value, list) or len(value) != 2 \
                or not all(type(v) is int for v in value):
            raise ValueError(f"support.rules: bad range {name}={value!r}"[:200])
        lo, hi = value
        if not bounds[name][0] <= lo <= hi <= bounds[name][1]:
            raise ValueError(f"support.rules: range {name}={value} outside "
                             f"{list(bounds[name])}")
        ranges[name] = (lo, hi)
    enforced, note = doc.get("enforced", True), doc.get("note", "")
    if not isinstance(enforced, bool) or not isinstance(note, str) or len(note) > 512:
        raise ValueError("support.rules: enforced is a boolean, note a short text")
    return RuleSupport(rule_type.name, directions, ranges, enforced, note)


_NOT_ENFORCED_PPS = ("accepted for admission control; the dataplane does not enforce a "
                     "packet-rate guarantee")

LINUX_TC = BackendSupport("linuxtc", "tap", ("normal",), (
    RuleSupport("bandwidth_limit"),
    RuleSupport("dscp_marking", note="nftables, on packets leaving the VM"),
    RuleSupport("minimum_bandwidth", directions=("egress",),
                note="HTB class on the host uplink"),
    RuleSupport("packet_rate_limit", note="nftables limit per device and direction"),
    RuleSupport("minimum_packet_rate", enforced=False, note=_NOT_ENFORCED_PPS),
))

OPENVSWITCH = BackendSupport("openvswitch", "ovs", ("normal",), (
    RuleSupport("bandwidth_limit"),
    RuleSupport("dscp_marking"),
    RuleSupport("minimum_bandwidth", directions=("egress",),
                note="queue min-rate on the uplink, kernel datapath"),
    RuleSupport("packet_rate_limit"),
    RuleSupport("minimum_packet_rate", enforced=False, note=_NOT_ENFORCED_PPS),
))

# The userspace datapath ignores set_queue: every packet lands in queue 0, so no
# per-port guarantee can hold there (measured). Refuse rather than pretend.
OPENVSWITCH_NETDEV = BackendSupport("openvswitch-netdev", "ovs", ("normal",), (
    RuleSupport("bandwidth_limit", note="egress by OpenFlow meter: policing is ignored here"),
    RuleSupport("dscp_marking"),
    RuleSupport("packet_rate_limit"),
    RuleSupport("minimum_packet_rate", enforced=False, note=_NOT_ENFORCED_PPS),
))

# The NIC enforces: max_tx_rate / min_tx_rate per VF, in Mbit/s, without burst.
SRIOV = BackendSupport("sriovnicswitch", "hw_veb", ("direct", "macvtap"), (
    RuleSupport("bandwidth_limit", directions=("egress",),
                ranges={"max_burst_kbps": (0, 0)}),
    RuleSupport("minimum_bandwidth", directions=("egress",)),
))

# The L3 role of the agent: floating IPs and router gateways, enforced on the router's
# external gateway device (qg-) on the network node. Only bandwidth limits mean anything
# there (as in Neutron); the other rule types of a policy bound to a floating IP or a
# gateway are accepted and ignored. Serves no vnic type: it never enforces a VM's port,
# so it is not in BACKENDS and never narrows the rule-types list.
L3_FIP_IGNORED = ("ignored for floating IPs and router gateways: only bandwidth_limit "
                  "is enforced there")
L3_FIP = BackendSupport("l3-fip", "l3", (), (
    RuleSupport("bandwidth_limit",
                note="floating IPs and router gateways: an HTB class per address on the "
                     "router's gateway device (egress) and on its IFB (ingress); other rule "
                     "types of their policies are ignored"),
))

# libvirt domains' NICs: the same rules as linuxtc (on hosts where libvirt's own bandwidth
# code works, it carries the bandwidth limits; tc on the tap does the rest, and everything
# where it does not).
LIBVIRT = BackendSupport("libvirt", "tap", ("normal",), LINUX_TC.rules)

BACKENDS: dict[str, BackendSupport] = {b.name: b for b in (
    LINUX_TC, OPENVSWITCH, OPENVSWITCH_NETDEV, SRIOV, LIBVIRT)}

# SR-IOV is loaded where hosts have VFs (settings.backends); its narrow table would
# otherwise hide from the default rule-type list what every other port can enforce.
DEFAULT_LOADED = ("linuxtc", "openvswitch")


# A host's or a server's backends: names of the built-in tables, or tables as agents
# reported them (BackendSupport), which take precedence over a built-in of the same name.
Tables = Iterable["str | BackendSupport"]


def tables(loaded: Tables) -> list[BackendSupport]:
    """The support tables `loaded` names or holds, unknown names left out, one per name
    (the first one given wins)."""
    out: dict[str, BackendSupport] = {}
    for entry in loaded:
        table = entry if isinstance(entry, BackendSupport) else BACKENDS.get(entry)
        if table is not None:
            out.setdefault(table.name, table)
    return list(out.values())


def backend_for_port(vnic_type: str | None, host_backends: Tables = ()) -> BackendSupport:
    """The backend that will enforce a port: the first of its host's backends (as its
    agents reported them, in their order of preference) that serves its vnic type; for a
    host with none that does, the built-in choice: SR-IOV for VF ports, else linuxtc."""
    vnic = vnic_type or "normal"
    for backend in tables(host_backends):
        if vnic in backend.vnic_types:
            return backend
    return SRIOV if vnic in SRIOV.vnic_types else LINUX_TC


def server_tables(configured: Iterable[str], reported: Tables) -> list[BackendSupport]:
    """The tables /v2.0/qos/rule-types shows: the configured backends (settings.backends),
    each as its agents reported it if one did, else built in; and every reported backend
    that is not built in (a plug-in's: it needs no edit here). A built-in backend that is
    not configured stays out, as before: SR-IOV's narrow table would otherwise hide from
    the default list what every other port can enforce."""
    got = {t.name: t for t in tables(reported)}
    configured = list(configured)
    return tables([*(got.get(name, name) for name in configured),
                   *(t for name, t in got.items()
                     if name not in configured and name not in BACKENDS)])


def rule_types_supported_by_all(loaded: Tables) -> list[str]:
    backends = tables(loaded)
    if not backends:
        return []
    common = frozenset.intersection(*(b.rule_types for b in backends))
    return [t for t in RULE_TYPES if t in common]


def rule_types_supported_by_any(loaded: Tables) -> list[str]:
    union = set().union(*(b.rule_types for b in tables(loaded)))
    return [t for t in RULE_TYPES if t in union]


def l3_ignored_rule_types(rules: Iterable[dict[str, Any]]) -> list[str]:
    """Rule types of a floating IP's or gateway's policy that the L3 role does not enforce."""
    return sorted({r["type"] for r in rules if not L3_FIP.allows(r)})


def l3_driver_detail(rule_type: str) -> dict[str, Any]:
    """The l3-fip entry of /v2.0/qos/rule-types/{type}: what a floating IP gets of it."""
    support = L3_FIP.support_for(rule_type)
    if support is None:
        return {"name": L3_FIP.name, "supported_parameters": [], "enforced": False,
                "note": L3_FIP_IGNORED}
    return {"name": L3_FIP.name, "supported_parameters": support.parameters(),
            "enforced": True, "note": support.note}


def rule_type_details(rule_type: str, loaded: Tables) -> list[dict[str, Any]]:
    """The drivers list of /v2.0/qos/rule-types/{type}."""
    drivers = []
    for table in tables(loaded):
        support = table.support_for(rule_type)
        if support is not None:
            drivers.append({"name": table.name, "supported_parameters": support.parameters(),
                            "enforced": support.enforced, "note": support.note})
    return drivers
