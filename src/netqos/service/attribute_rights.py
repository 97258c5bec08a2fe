"""Who may set which attribute: Neutron's per-attribute policy rules, by their names.

Each resource lists the attributes that have a rule of their own; `check` refuses a request
that *names* an attribute its caller may not set, whatever the value (an empty
`binding:host_id` or `binding:profile` from a member is refused as a real one is: presence,
not truthiness, decides). The decision is the policy engine's (netqos.policy), rule
`<action>:<attribute>` (`create_port:binding:host_id`), so an operator's policy.yaml
changes it; the defaults, and where they differ from Neutron's, are in
netqos/policy/defaults_core.py.
"""
from __future__ import annotations

from collections.abc import Mapping

from netqos.qos.errors import PolicyNotAuthorized
from netqos.service.context import Context

# neutron/conf/policies/port.py: create_port:<attr> / update_port:<attr>. A port's MAC
# cannot be changed (400), so update_port:mac_address never comes into play.
PORT = ("binding:host_id", "binding:profile", "binding:vnic_type", "mac_address",
        "fixed_ips", "fixed_ips:ip_address", "fixed_ips:subnet_id", "allowed_address_pairs",
        # network_device: a service owner takes a port out of its network's QoS policy.
        "device_owner")
# neutron/conf/policies/router.py, for keys of external_gateway_info.
ROUTER_GATEWAY = ("external_fixed_ips",)
# neutron/conf/policies/floatingip.py.
FLOATINGIP = ("floating_ip_address",)


def check(ctx: Context, action: str, body: dict, names: tuple[str, ...],
          target: Mapping, prefix: str = "") -> None:
    """Refuse if `body` names an attribute `ctx` may not set (`action`: create_port).

    `target` is what the rules look at: the resource's project_id, its network's
    (network:project_id), whether that network is shared with the caller (shared).
    The message is Neutron's: the base rule and-ed with the rule of every attribute the
    body names, "((rule:create_port and rule:create_port:a) and rule:create_port:b) is
    disallowed by policy"."""
    named = [name for name in names if _names(body, name)]
    if all(ctx.allowed(f"{action}:{prefix}{name}", {**target, name: _value(body, name)})
           for name in named):
        return
    rule = f"rule:{action}"
    for name in named:
        rule = f"({rule} and rule:{action}:{prefix}{name})"
    raise PolicyNotAuthorized(rule=rule)


def _names(body: dict, name: str) -> bool:
    """Whether the body names `name`; "fixed_ips:ip_address" is a key of any entry."""
    outer, _, inner = name.partition(":") if name.startswith("fixed_ips:") else (name, "", "")
    if not inner:
        return name in body
    entries = body.get(outer)
    return isinstance(entries, list) and any(isinstance(e, dict) and inner in e
                                             for e in entries)


def _value(body: dict, name: str):
    """The attribute's value as a `field:` check compares it (device_owner=~^network:)."""
    value = body.get(name)
    return value if isinstance(value, (str, int, bool)) else ""
