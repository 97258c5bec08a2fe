"""The agent's second check of every value it formats into root's commands.

The server validates what projects write, but the agent does not rely on that: whatever it
pulls becomes `tc -batch`, `ip -batch`, `nft -f` and OpenFlow text or a sysfs path, where
one stray newline is a command of its own. So every such value passes one of these checks
when the pulled JSON is decoded into the agent's model (netqos.wire, agent/l3/model.py).
Each returns the value in the one form the agent formats (MACs lower case, addresses
canonical) or raises `Untrusted` with a reason fit to report; a port (or router) that fails
is reported ERROR and left out, and the rest of the host converges.

The checks are full matches (`re.fullmatch`, never `$`, which matches before a final
newline) on exact types (a bool is not an integer, "10" is not a number).
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from netqos.qos.attributes import Choice, IntRange
from netqos.qos.netattrs import PCI_SLOT, PHYSNET   # the API's own patterns, checked again
from netqos.qos.rules import RULE_TYPES

T = TypeVar("T")

IFNAMSIZ = 16                 # the kernel's, with its terminating NUL
MAX_REVISION = 2**62
MAC = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}")   # lower case (agent/l2/model.py too)
# The kernel allows nearly any byte in a device name; the agent formats only these.
_DEVICE = re.compile(r"[A-Za-z0-9_.-]{1,%d}" % (IFNAMSIZ - 1))
_NAMESPACE = re.compile(r"[A-Za-z0-9_.-]{1,64}")    # a file in /run/netns
_IDENTIFIER = re.compile(r"[A-Za-z0-9_-]{1,64}")    # ids (UUIDs) in names, cookies, reports
_WORD = re.compile(r"[a-z0-9_-]{1,64}")             # vnic types
# In a line of a batch (tc, ip, nft, ovs-ofctl), any of these would cut it into several.
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Untrusted(ValueError):
    """A value the agent refuses to format; str() is the reason it reports."""


def _shown(value: Any) -> str:
    text = repr(value)            # escapes newlines and other control characters
    return text if len(text) <= 80 else text[:77] + "..."


def _fail(field: str, value: Any, what: str) -> Untrusted:
    return Untrusted(f"{field}: {_shown(value)} is not {what}")


def _text(value: Any, field: str, pattern: re.Pattern, what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise _fail(field, value, what)
    return value


def mac(value: Any, field: str = "mac_address") -> str:
    """A MAC address, returned lower case."""
    if not isinstance(value, str) or not MAC.fullmatch(value.lower()):
        raise _fail(field, value, "a MAC address")
    return value.lower()


def mac_or_unknown(value: Any) -> str:
    """A MAC the host itself holds (OVSDB's attached-mac, a libvirt domain's NIC), lower
    case; '' (unknown) when it is not one, so it is never formatted."""
    try:
        return mac(value, "mac")
    except Untrusted:
        return ""


def ip_address(value: Any, field: str = "ip_address") -> str:
    """An IPv4 or IPv6 address without scope id, returned canonical."""
    if not isinstance(value, str) or "%" in value or not value.isascii():
        raise _fail(field, value, "an IP address without scope id")
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise _fail(field, value, "an IP address") from None


def prefix(value: Any, field: str = "cidr") -> str:
    """An IPv4 or IPv6 network (host bits clear), returned canonical."""
    if not isinstance(value, str) or "%" in value or not value.isascii():
        raise _fail(field, value, "an IP prefix")
    try:
        return str(ipaddress.ip_network(value, strict=True))
    except ValueError:
        raise _fail(field, value, "an IP prefix") from None


def device_name(value: Any, field: str = "device") -> str:
    """A network device name: at most IFNAMSIZ-1 of [A-Za-z0-9_.-], not '.' or '..'."""
    name = _text(value, field, _DEVICE, f"a device name (1-{IFNAMSIZ - 1} of A-Za-z0-9_.-)")
    if name in (".", ".."):
        raise _fail(field, value, "a device name")
    return name


def namespace_name(value: Any, field: str = "namespace") -> str:
    name = _text(value, field, _NAMESPACE, "a namespace name (1-64 of A-Za-z0-9_.-)")
    if name in (".", ".."):
        raise _fail(field, value, "a namespace name")
    return name


def pci_address(value: Any, field: str = "pci_slot") -> str:
    """A PCI address dddd:bb:ss.f, returned lower case (it becomes a sysfs path)."""
    if not isinstance(value, str) or not PCI_SLOT.fullmatch(value.lower()):
        raise _fail(field, value, "a PCI address (dddd:bb:ss.f)")
    return value.lower()


def identifier(value: Any, field: str) -> str:
    return _text(value, field, _IDENTIFIER, "an id (1-64 of A-Za-z0-9_-)")


def word(value: Any, field: str) -> str:
    return _text(value, field, _WORD, "a name (1-64 of a-z0-9_-)")


def integer(value: Any, field: str, minimum: int = 0, maximum: int = 2**31 - 1) -> int:
    if type(value) is not int or not minimum <= value <= maximum:
        raise _fail(field, value, f"an integer in [{minimum}, {maximum}]")
    return value


def boolean(value: Any, field: str) -> bool:
    if type(value) is not bool:
        raise _fail(field, value, "true or false")
    return value


def optional(check: Callable[..., T], value: Any, field: str) -> T | None:
    return None if value is None else check(value, field)


def items(value: Any, field: str) -> list:
    if not isinstance(value, list | tuple):
        raise _fail(field, value, "a list")
    return list(value)


def record(value: Any, field: str) -> dict:
    if not isinstance(value, dict):
        raise _fail(field, value, "an object")
    return value


NETWORK_TYPES = frozenset({"flat", "vlan", "vxlan", "gre", "local"})
_LARGEST_ID = {"gre": 2**32 - 1}    # a GRE key is 32 bits; VLAN ids and VNIs fit in 24


def segment(value: Any, field: str = "network") -> dict:
    """A port's network and its segment (ids become bridge and VXLAN/VLAN device names,
    and tunnel keys in flows: a GRE key is 32 bits)."""
    value = record(value, field)
    network_type = value.get("network_type")
    if network_type not in NETWORK_TYPES:
        raise _fail(f"{field}.network_type", network_type, "flat, vlan, vxlan, gre or local")
    return {"network_id": identifier(value.get("network_id"), f"{field}.network_id"),
            "network_type": network_type,
            "physical_network": optional(
                lambda v, f: _text(v, f, PHYSNET, "a physical network name"),
                value.get("physical_network"), f"{field}.physical_network"),
            "segmentation_id": optional(
                lambda v, f: integer(v, f, 1, _LARGEST_ID.get(network_type, 2**24 - 1)),
                value.get("segmentation_id"), f"{field}.segmentation_id"),
            "mtu": optional(lambda v, f: integer(v, f, 68, 65535), value.get("mtu"),
                            f"{field}.mtu")}


def rule(value: Any, field: str = "rule") -> dict:
    """A rule of a known type, with exactly its value fields (the rule-type registry's
    ranges and choices, on exact types); anything else the server sent is dropped."""
    value = record(value, field)
    rule_type = RULE_TYPES.get(value.get("type")) if isinstance(value.get("type"), str) \
        else None
    if rule_type is None:
        raise _fail(f"{field}.type", value.get("type"), "a known rule type")
    out = {"type": rule_type.name}
    for spec in rule_type.fields:
        name = f"{field}.{rule_type.name}.{spec.name}"
        if value.get(spec.name) is None:
            if spec.required:
                raise Untrusted(f"{name} is missing")
            out[spec.name] = spec.default
            continue
        given = value[spec.name]
        if isinstance(spec, IntRange):
            out[spec.name] = integer(given, name, spec.minimum, spec.maximum)
        elif isinstance(spec, Choice):
            if type(given) not in (int, str) or given not in spec.choices:
                raise _fail(name, given, f"one of {', '.join(map(str, spec.choices))}")
            out[spec.name] = given
        else:   # a field type this check does not know: refuse rather than pass it on
            raise Untrusted(f"{name}: the agent cannot check this field")
    return out


def rules(value: Any, field: str = "rules") -> tuple[dict, ...]:
    return tuple(rule(r, f"{field}[{i}]") for i, r in enumerate(items(value, field)))


def profile(value: Any, field: str = "binding:profile") -> dict:
    """The binding:profile keys the agent formats, checked; the others are dropped."""
    if value is None:
        return {}
    value = record(value, field)
    # the keys the agent formats; the others (physical_network…) it never reads
    checks = {"device": device_name, "pci_slot": pci_address}
    return {key: check(value[key], f"{field}.{key}")
            for key, check in checks.items() if value.get(key) not in (None, "")}


# ---- decoding a pulled list: the good ones, and the refused ones to report ----
@dataclass(frozen=True)
class Refused:
    """A port (or router, by its gateway port) the agent would not enforce, and why."""

    port_id: str
    revision: int
    reason: str
    status: str = "ERROR"


def decode_all(docs: Any, decode: Callable[[dict], T], key: str,
               field: str) -> tuple[list[T], list[Refused]]:
    """Decode every dict in `docs`; one that fails is refused (reported under its `key`
    if that is a valid id; one without even that cannot be reported and is only left out).
    """
    good: list[T] = []
    refused: list[Refused] = []
    for i, doc in enumerate(items(docs, field)):
        try:
            good.append(decode(record(doc, f"{field}[{i}]")))
        except Untrusted as exc:
            owner, revision = _owner(doc, key)
            if owner is not None:
                refused.append(Refused(owner, revision, f"refused by the agent: {exc}"))
    return good, refused


def unshared_devices(ports: list, claims: Callable[[Any], list[str]]
                     ) -> tuple[list, list[Refused]]:
    """Refuse the ports that would take another port's device, so that no name chosen for
    one port can hand it another's device. `claims(port)`: the device names it may use.
    A port's own names (derived from its id: tap<id[:11]>…) win over a name given in
    binding:profile; a given name two ports share, or two own names colliding (ids alike
    in their first 11 characters), refuse every port involved."""
    holders: dict[str, list] = {}
    for port in ports:
        for name in claims(port):
            holders.setdefault(name, []).append(port)
    good, refused = [], []
    for port in ports:
        rivals = {o.port_id for name in claims(port) for o in holders[name]
                  if o is not port and (port.device is not None or o.device is None)}
        if rivals:            # (own names: only another own name contests them)
            refused.append(Refused(port.port_id, port.revision,
                                   "refused by the agent: its device is also claimed by "
                                   f"port(s) {', '.join(sorted(rivals))}"))
        else:
            good.append(port)
    return good, refused


def _owner(doc: Any, key: str) -> tuple[str | None, int]:
    if not isinstance(doc, dict):
        return None, 0
    try:
        owner = identifier(doc.get(key), key)
    except Untrusted:
        return None, 0
    revision = doc.get("revision")
    return owner, revision if type(revision) is int and 0 <= revision <= MAX_REVISION else 0


def each(values: Iterable[Any], check: Callable[[Any, str], T], field: str) -> tuple[T, ...]:
    return tuple(check(v, f"{field}[{i}]") for i, v in enumerate(items(values, field)))
