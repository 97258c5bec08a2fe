"""Typed fields for the values an agent formats into root's text: MACs, addresses, CIDRs,
host and device names, binding profiles.

Each converts a client value to its one canonical spelling or raises InvalidAttribute with
the reason neutron-lib's validator gives. The checks are full matches (re.fullmatch: `$`
would match before a trailing newline), and no value with whitespace, a control character
or an IPv6 scope id (`%`) gets through, since `tc -batch`, `ip -batch`, `nft -f` and
OpenFlow bundles are line- and word-oriented text.
"""
from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Any

from netqos.qos.attributes import Field, InvalidAttribute, String, Uuid

_HEX_PAIRS = re.compile(r"[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(\1[0-9A-Fa-f]{2}){4}")
INVALID_MACS = frozenset({"00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"})
# A Linux interface name: at most IFNAMSIZ-1 characters, none of '/', ':' or whitespace;
# this keeps to the characters real device names use.
_DEVICE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,14}")
# A host as agents name themselves (hostname, FQDN, or an id with ':' or '@').
_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,254}")
# The two patterns below are also the agent's second check (netqos/trust.py).
# A PCI address as Nova writes pci_slot: domain:bus:slot.function.
PCI_SLOT = re.compile(r"[0-9A-Fa-f]{4}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7]")
# A physical network name as bridge/interface mappings spell it.
PHYSNET = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network


def has_control(text: str) -> bool:
    return _CONTROL.search(text) is not None


def canonical_mac(value: Any) -> str | None:
    """`value` as lower-case colon-separated MAC, or None if it is not a unicast-able one."""
    if not isinstance(value, str) or not _HEX_PAIRS.fullmatch(value):
        return None
    mac = value.lower().replace("-", ":")
    return None if mac in INVALID_MACS else mac


def canonical_ip(value: Any) -> IPAddress | None:
    """An ipaddress object for `value` as neutron-lib accepts it, else None: no whitespace,
    no scope id, an IPv4 address only in its plain dotted-quad form."""
    if not isinstance(value, str) or "%" in value or re.search(r"\s", value):
        return None
    if ":" not in value and value.count(".") != 3:
        return None
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def parse_network(value: Any, strict: bool) -> IPNetwork | None:
    """An ip_network for a `a.b.c.d/n` string (host bits allowed unless strict), else None."""
    if not isinstance(value, str) or "/" not in value:
        return None
    address, _, prefix = value.partition("/")
    if canonical_ip(address) is None or not prefix.isdigit() or not prefix.isascii():
        return None
    try:
        return ipaddress.ip_network(value, strict=strict)
    except ValueError:
        return None


@dataclass(frozen=True)
class MacAddress(Field):
    def _convert(self, value: Any) -> str:
        mac = canonical_mac(value)
        if mac is None:
            raise self.invalid(value, "is not a valid MAC address")
        return mac


@dataclass(frozen=True)
class IpAddress(Field):
    """An IP address, stored in its canonical (compressed, lower-case) spelling."""

    def _convert(self, value: Any) -> str:
        addr = canonical_ip(value)
        if addr is None:
            raise self.invalid(value, "is not a valid IP address")
        if addr.version == 4 and str(addr) != value:
            raise self.invalid(value, f"is not an accepted IP address, '{addr}' is "
                                      "recommended")
        return str(addr)


@dataclass(frozen=True)
class Subnet(Field):
    """A subnet's CIDR; host bits are dropped (10.0.0.1/24 is 10.0.0.0/24)."""

    def _convert(self, value: Any) -> str:
        net = parse_network(value, strict=False)
        if net is None:
            raise self.invalid(value, "is not a valid IP subnet")
        return str(net)


@dataclass(frozen=True)
class RouteCidr(Field):
    """A route destination: a network address with its prefix, not loopback."""

    def _convert(self, value: Any) -> str:
        net = parse_network(value, strict=True)
        if net is None:
            raise self.invalid(value, "is not a valid CIDR")
        if net.is_loopback:
            raise self.invalid(value, "is not a routable CIDR")
        return str(net)


def _dict_with(field_name: str, value: Any, keys: set[str],
               optional: frozenset[str] = frozenset()) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidAttribute(attribute=field_name,
                               reason=f"Invalid input. '{value}' must be a dictionary with "
                                      f"keys: {sorted(keys)}")
    given = set(value)
    if not keys <= given or not given <= keys | optional:
        raise InvalidAttribute(attribute=field_name,
                               reason="Validation of dictionary's keys failed. Expected "
                                      f"keys: {sorted(keys)} Provided keys: {sorted(given)}")
    return value


def _list(field_name: str, value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidAttribute(attribute=field_name,
                               reason=f"Invalid data format for {what}: '{value}'")
    return value


@dataclass(frozen=True)
class IpPools(Field):
    """allocation_pools: [{"start": ip, "end": ip}] (range checks need the subnet)."""

    def _convert(self, value: Any) -> list[dict[str, Any]]:
        ip = IpAddress(self.name)
        return [{k: ip.convert(_dict_with(self.name, pool, {"start", "end"})[k])
                 for k in ("start", "end")}
                for pool in _list(self.name, value, "IP pool")]


@dataclass(frozen=True)
class HostRoutes(Field):
    def _convert(self, value: Any) -> list[dict[str, Any]]:
        routes: list[dict[str, Any]] = []
        for route in _list(self.name, value, "hostroute"):
            _dict_with(self.name, route, {"destination", "nexthop"})
            clean = {"destination": RouteCidr(self.name).convert(route["destination"]),
                     "nexthop": IpAddress(self.name).convert(route["nexthop"])}
            if clean in routes:
                raise InvalidAttribute(attribute=self.name,
                                       reason=f"Duplicate hostroute '{route}'")
            routes.append(clean)
        return routes


@dataclass(frozen=True)
class Nameservers(Field):
    def _convert(self, value: Any) -> list[str]:
        hosts: list[str] = []
        for host in _list(self.name, value, "nameserver"):
            try:
                addr = IpAddress(self.name).convert(host)
            except InvalidAttribute as exc:
                raise InvalidAttribute(attribute=self.name,
                                       reason=f"'{host}' is not a valid nameserver. "
                                              f"{exc.kwargs['reason']}") from None
            if addr in hosts:
                raise InvalidAttribute(attribute=self.name,
                                       reason=f"Duplicate nameserver '{host}'")
            hosts.append(addr)
        return hosts


@dataclass(frozen=True)
class FixedIps(Field):
    """fixed_ips / external_fixed_ips: [{"subnet_id"?, "ip_address"?}], addresses canonical
    and unique (whether each lies in its subnet is IPAM's check, which knows the subnets)."""

    def _convert(self, value: Any) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for entry in _list(self.name, value, "fixed IP"):
            if not isinstance(entry, dict) or not set(entry) <= {"subnet_id", "ip_address"}:
                raise InvalidAttribute(attribute=self.name,
                                       reason=f"Invalid data format for fixed IP: '{entry}'")
            clean = {}
            if "ip_address" in entry:
                clean["ip_address"] = IpAddress(self.name).convert(entry["ip_address"])
                if any(e.get("ip_address") == clean["ip_address"] for e in out):
                    raise InvalidAttribute(attribute=self.name, reason="Duplicate IP address "
                                           f"'{entry['ip_address']}'")
            if "subnet_id" in entry:
                clean["subnet_id"] = Uuid(self.name).convert(entry["subnet_id"])
            out.append(clean)
        return out


@dataclass(frozen=True)
class AddressPairs(Field):
    """allowed_address_pairs: [{"ip_address": ip or cidr, "mac_address"?: mac}]."""

    def _convert(self, value: Any) -> list[dict[str, Any]]:
        out = []
        for pair in _list(self.name, value, "allowed address pair"):
            _dict_with(self.name, pair, {"ip_address"}, optional=frozenset({"mac_address"}))
            ip = pair["ip_address"]
            net = parse_network(ip, strict=False) if isinstance(ip, str) and "/" in ip \
                else None
            clean = {"ip_address": str(net) if net is not None
                     else IpAddress(self.name).convert(ip)}
            if "mac_address" in pair:
                clean["mac_address"] = MacAddress(self.name).convert(pair["mac_address"])
            out.append(clean)
        return out


@dataclass(frozen=True)
class PrintableString(String):
    """A string an agent may print or match on (device_owner, device_id): no control
    characters, since a newline in it would split a line of root's text."""

    def _convert(self, value: Any) -> str:
        text = super()._convert(value)
        if has_control(text):
            raise self.invalid(text, "contains control characters")
        return text


@dataclass(frozen=True)
class HostId(Field):
    """binding:host_id: '' (unbound) or a host name; it also appears in URL paths.
    Null unbinds too (Nova sends it when it unplugs a port)."""

    def convert(self, value: Any) -> str:
        return "" if value is None else self._convert(value)

    def _convert(self, value: Any) -> str:
        if value == "":
            return ""
        if not isinstance(value, str) or not _HOST.fullmatch(value):
            raise self.invalid(value, "is not a valid host name")
        return value


@dataclass(frozen=True)
class PhysicalNetwork(Field):
    """provider:physical_network: a name agents map to an interface or bridge."""

    def _convert(self, value: Any) -> str:
        if not isinstance(value, str) or not PHYSNET.fullmatch(value):
            raise self.invalid(value, "is not a valid physical network name")
        return value


def device_name(value: Any) -> bool:
    return isinstance(value, str) and _DEVICE.fullmatch(value) is not None \
        and value not in (".", "..")


# binding:profile keys an agent reads, with their checks; other keys (Nova's
# pci_vendor_info, capabilities, trusted, ...) are kept but must be plain data.
PROFILE_KEYS = {
    "device": (device_name, "is not a valid device name"),
    "pci_slot": (lambda v: isinstance(v, str) and PCI_SLOT.fullmatch(v) is not None,
                 "is not a valid PCI slot"),
    "physical_network": (lambda v: isinstance(v, str) and PHYSNET.fullmatch(v) is not None,
                         "is not a valid physical network name"),
}
_PROFILE_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,255}")
MAX_PROFILE_DEPTH = 3


@dataclass(frozen=True)
class BindingProfile(Field):
    def _convert(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.invalid(value, "is not a dictionary")
        out = {}
        for key, item in value.items():
            if not _PROFILE_KEY.fullmatch(key):
                raise self.invalid(key, "is not a valid binding:profile key")
            check = PROFILE_KEYS.get(key)
            if check is not None and item is not None:
                ok, why = check
                if not ok(item):
                    raise InvalidAttribute(attribute=f"{self.name}.{key}",
                                           reason=f"'{item}' {why}")
                item = item.lower() if key == "pci_slot" else item
            self._check_plain(key, item, 0)
            out[key] = item
        return out

    def _check_plain(self, key: str, item: Any, depth: int) -> None:
        """JSON scalars, lists and dicts of them, strings without control characters."""
        if depth > MAX_PROFILE_DEPTH:
            raise self.invalid(key, "is nested too deeply")
        if isinstance(item, str):
            if has_control(item) or len(item) > 255:
                raise InvalidAttribute(attribute=f"{self.name}.{key}",
                                       reason=f"'{item}' is not a valid string")
        elif isinstance(item, list):
            for x in item:
                self._check_plain(key, x, depth + 1)
        elif isinstance(item, dict):
            for k, x in item.items():
                if not _PROFILE_KEY.fullmatch(k):
                    raise self.invalid(k, "is not a valid binding:profile key")
                self._check_plain(key, x, depth + 1)
        elif isinstance(item, float) and not math.isfinite(item):
            raise self.invalid(item, "is not a valid binding:profile value")
        elif item is not None and not isinstance(item, (bool, int, float)):
            raise self.invalid(item, "is not a valid binding:profile value")
