"""Hypothesis strategies for the property test of the API edge (test_property_input.py).

Every writable attribute of every resource has a strategy of *plausible* values (what a
client would send, referring to the test's real resources, `World`). A request body is a
plausible body in which up to two attributes are made hostile: a control character, a
`%scope` or a path spliced into any string inside the value, or arbitrary JSON instead.
So each hostile value is tried both alone in an otherwise valid request (where a missing
validator would let it through) and among other bad ones.
"""
from __future__ import annotations

import string
from dataclasses import dataclass

from hypothesis import strategies as st

CONTROL = ["\n", "\r", "\t", "\x00", "\x0b", "\x1b", "\x7f", "\x85", "\u2028", " "]
SPLICES = CONTROL + ["%0", "%eth0", "%\nqdisc del dev qg-x root\nx", "/", "../", ";", "'"]

# Arbitrary JSON, as any client could send it (NaN and huge integers included).
JUNK = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6)


def _leaves(value, path=()):
    """Paths to every string inside `value` (dict keys excluded)."""
    if isinstance(value, str):
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaves(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _leaves(v, (*path, i))]
    return []


def _splice(value, which: int, piece: str, at: int, upper: bool):
    paths = _leaves(value)
    if not paths:
        return piece
    path = paths[which % len(paths)]

    def rebuild(v, rest):
        if not rest:
            text = v[:at] + piece + v[at:]
            return text.upper() if upper else text
        if isinstance(v, dict):
            return {**v, rest[0]: rebuild(v[rest[0]], rest[1:])}
        return [rebuild(x, rest[1:]) if i == rest[0] else x for i, x in enumerate(v)]

    return rebuild(value, path)


def hostile(plausible: st.SearchStrategy) -> st.SearchStrategy:
    """A plausible value with something spliced into one of its strings, or junk."""
    spliced = st.builds(_splice, plausible, st.integers(0, 7),
                        st.sampled_from(SPLICES) | st.text(max_size=3), st.integers(0, 40),
                        st.booleans())
    return spliced | JUNK


def body(attrs: dict[str, st.SearchStrategy], required=(),
         max_hostile: int = 2) -> st.SearchStrategy[dict]:
    """A plausible body (required attributes always given), up to max_hostile of its
    attributes hostile."""
    names = sorted(attrs)

    @st.composite
    def build(draw):
        given = {n: draw(attrs[n]) for n in names
                 if n in required or draw(st.booleans())}
        for name in draw(st.lists(st.sampled_from(names), max_size=max_hostile,
                                  unique=True)):
            given[name] = draw(hostile(attrs[name]))
        return given

    return build()


HEX2 = st.integers(0, 255).map(lambda b: f"{b:02x}")
MACS = st.builds(lambda *b: "fa:16:3e:" + ":".join(b), *[HEX2] * 3) | st.sampled_from(
    ["FA-16-3E-12-34-56", "fa:16:3e:AB:cd:01"])
NAMES = st.text(max_size=20)
BOOLS = st.sampled_from([True, False, "true", "False"])
DEVICE_NAMES = st.text(alphabet=string.ascii_lowercase + string.digits + "-_.", min_size=1,
                       max_size=15).filter(lambda s: s[0].isalnum())
PCI = st.builds("{:04x}:{:02x}:{:02x}.{}".format, st.integers(0, 0xffff),
                st.integers(0, 255), st.integers(0, 31), st.integers(0, 7))


def kbps(low: int = 0) -> st.SearchStrategy:
    return st.integers(low, 2**31 - 1) | st.sampled_from([str(low + 10), 1000.0])


@dataclass
class World:
    """Resources the plausible values refer to (set up once per database)."""

    v4_prefix: str          # "198.18.7."
    v6_prefix: str          # "fd00:198:18:7::"
    ext_v4_prefix: str
    ids: dict[str, str]     # network, subnet, subnet6, ext_network, ext_subnet, port, ...
    host: str               # a host the world's bound port lives on
    project: str = ""       # the callers' project

    def id_of(self, *names: str) -> st.SearchStrategy[str]:
        return st.sampled_from([self.ids[n] for n in names])

    def ip4(self, prefix: str | None = None) -> st.SearchStrategy[str]:
        return st.builds(lambda n: f"{prefix or self.v4_prefix}{n}", st.integers(2, 254))

    def ip6(self) -> st.SearchStrategy[str]:
        return st.builds(lambda n: f"{self.v6_prefix}{n:x}", st.integers(2, 0xffff))

    def fixed_ips(self) -> st.SearchStrategy[list]:
        v4 = st.fixed_dictionaries({"subnet_id": self.id_of("subnet")},
                                   optional={"ip_address": self.ip4()})
        v6 = st.fixed_dictionaries({"subnet_id": self.id_of("subnet6")},
                                   optional={"ip_address": self.ip6()})
        return st.lists(v4 | v6 | st.fixed_dictionaries({"ip_address": self.ip4()}),
                        max_size=2)

    def profile(self) -> st.SearchStrategy[dict]:
        return st.fixed_dictionaries({}, optional={
            "pci_slot": PCI, "physical_network": st.sampled_from(["physnet1", "phys-2"]),
            "device": DEVICE_NAMES, "pci_vendor_info": st.just("8086:10ed"),
            "trusted": st.booleans(), "capabilities": st.just(["switchdev"])})

    def cidr(self) -> st.SearchStrategy[str]:
        return st.builds(lambda a, n: f"198.18.{a}.0/{n}", st.integers(0, 255),
                         st.integers(16, 30))

    def attributes(self, resource: str) -> tuple[dict[str, st.SearchStrategy], tuple]:
        """({attribute: plausible values}, required attributes) of `resource`."""
        owner = st.sampled_from([self.project, "proj-other"])
        common = {"name": NAMES, "description": NAMES, "project_id": owner,
                  "tenant_id": owner}
        direction = st.sampled_from(["egress", "ingress"])
        ext_ip = self.ip4(self.ext_v4_prefix)
        table = {
            "policies": ({**common, "shared": BOOLS, "is_default": st.just(False)}, ()),
            "bandwidth_limit_rules": ({"max_kbps": kbps(), "max_burst_kbps": kbps(),
                                       "direction": direction}, ("max_kbps",)),
            "dscp_marking_rules": ({"dscp_mark": st.sampled_from([0, 10, 26, 46, "26"])},
                                   ("dscp_mark",)),
            "minimum_bandwidth_rules": ({"min_kbps": kbps(), "direction": direction},
                                        ("min_kbps",)),
            "minimum_packet_rate_rules": ({"min_kpps": kbps(), "direction": direction |
                                           st.just("any")}, ("min_kpps",)),
            "packet_rate_limit_rules": ({"max_kpps": kbps(), "max_burst_kpps": kbps(),
                                         "direction": direction}, ("max_kpps",)),
            "networks": ({**common, "admin_state_up": BOOLS, "shared": BOOLS,
                          "router:external": BOOLS, "mtu": st.integers(68, 9000),
                          "qos_policy_id": self.id_of("policy") | st.none()}, ()),
            "subnets": ({**common, "network_id": self.id_of("network"), "cidr": self.cidr(),
                         "ip_version": st.just(4), "enable_dhcp": BOOLS,
                         "gateway_ip": st.none(),
                         "allocation_pools": st.just([]),
                         "dns_nameservers": st.lists(st.sampled_from(
                             ["8.8.8.8", "192.0.2.53", "198.51.100.1"]), max_size=3,
                             unique=True),
                         "host_routes": st.lists(st.fixed_dictionaries(
                             {"destination": st.sampled_from(["10.0.0.0/8", "192.0.2.0/24"]),
                              "nexthop": st.just("198.18.0.1")}), max_size=1)},
                        ("network_id", "cidr", "ip_version")),
            "ports": ({**common, "network_id": self.id_of("network"),
                       "admin_state_up": BOOLS, "mac_address": MACS,
                       "fixed_ips": self.fixed_ips(),
                       "device_owner": st.sampled_from(["", "compute:nova", "compute:az1"]),
                       "device_id": st.uuids().map(str),
                       "binding:host_id": st.sampled_from([self.host, "", "prop-host-2"]),
                       "binding:vnic_type": st.sampled_from(["normal", "direct", "macvtap"]),
                       "binding:profile": self.profile(),
                       "qos_policy_id": self.id_of("policy") | st.none(),
                       "allowed_address_pairs": st.lists(st.fixed_dictionaries(
                           {"ip_address": self.ip4() | self.cidr()},
                           optional={"mac_address": MACS}), max_size=2),
                       "security_groups": st.just([]), "port_security_enabled": BOOLS},
                      ("network_id",)),
            "routers": ({**common, "admin_state_up": BOOLS,
                         "external_gateway_info": st.none() | st.fixed_dictionaries(
                             {"network_id": self.id_of("ext_network")},
                             optional={"enable_snat": BOOLS,
                                       "qos_policy_id": self.id_of("policy"),
                                       "external_fixed_ips": st.lists(st.fixed_dictionaries(
                                           {"subnet_id": self.id_of("ext_subnet"),
                                            "ip_address": ext_ip}), max_size=1)})}, ()),
            "floatingips": ({"description": NAMES, "project_id": owner,
                             "floating_network_id": self.id_of("ext_network"),
                             "floating_ip_address": ext_ip,
                             "port_id": self.id_of("port") | st.none(),
                             "fixed_ip_address": self.ip4() | st.none(),
                             "qos_policy_id": self.id_of("policy") | st.none()},
                            ("floating_network_id",)),
            "rbac-policies": ({"object_type": st.just("qos_policy"),
                               "object_id": self.id_of("policy"),
                               "action": st.just("access_as_shared"),
                               "target_tenant": st.sampled_from(["*", "proj-b", "proj-c"]),
                               "project_id": owner},
                              ("object_type", "object_id", "action", "target_tenant")),
        }
        return table[resource]

    def with_hostile(self, resource: str, attribute: str) -> st.SearchStrategy[dict]:
        """A plausible create body whose `attribute` is hostile."""
        attrs, required = self.attributes(resource)
        return st.builds(lambda b, v: {**b, attribute: v},
                         body(attrs, required, max_hostile=0), hostile(attrs[attribute]))

    def body(self, resource: str, creating: bool) -> st.SearchStrategy[dict]:
        attrs, required = self.attributes(resource)
        if not creating:  # what a PUT may change (the owner and references stay)
            attrs = {k: v for k, v in attrs.items()
                     if k not in ("project_id", "tenant_id")
                     and (k not in required or k == "target_tenant"
                          or k.startswith(("min_", "max_", "dscp")))}
        return body(attrs, required if creating else ())
