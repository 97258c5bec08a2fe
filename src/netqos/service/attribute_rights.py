"""Who may set which attribute: Neutron's default per-attribute policy, in one place.

Each resource has one table {attribute: who}; `check` refuses a request that *names* an
attribute its caller may not set, whatever the value (an empty `binding:host_id` or
`binding:profile` from a member is refused as a real one is: presence, not truthiness,
decides). The rule names are oslo.policy's (`create_port:binding:host_id`), so a policy
engine can take over these checks one to one.

Where netqos differs from Neutron 2026.x defaults, the table says so:
- `binding:profile`: Neutron allows the `service` role only (Nova); netqos also lets an
  admin set it, since its own CLI binds ports as an admin (`netqos vm`), as Neutron's
  deprecated rule did.
- `update_port:mac_address` is not here: a port's MAC cannot be changed (400).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from netqos.qos.errors import PolicyNotAuthorized
from netqos.service.context import Context


@dataclass(frozen=True)
class Target:
    """What a rule looks at besides the caller: the project owning the port's network,
    and whether that network is shared with the caller (Neutron's rule:shared)."""

    network_owner: str = ""
    network_shared: bool = False


Who = Callable[[Context, Target], bool]


def admin(ctx: Context, _: Target) -> bool:
    return ctx.is_admin


def admin_or_service(ctx: Context, _: Target) -> bool:
    return ctx.is_admin or "service" in ctx.roles


def member_or_service(ctx: Context, target: Target) -> bool:
    """ADMIN_OR_PROJECT_MEMBER or SERVICE; ownership is checked by the resource's lookup."""
    return admin_or_service(ctx, target) or bool(ctx.roles & {"member", "manager"})


def net_owner_member(ctx: Context, target: Target) -> bool:
    """ADMIN_OR_SERVICE or NET_OWNER_MEMBER: a member of the network's own project."""
    return admin_or_service(ctx, target) or (
        ctx.project_id == target.network_owner and bool(ctx.roles & {"member", "manager"}))


def net_owner_member_or_shared(ctx: Context, target: Target) -> bool:
    return net_owner_member(ctx, target) or target.network_shared


def port_rights(creating: bool) -> dict[str, Who]:
    """neutron/conf/policies/port.py: create_port:<attr> / update_port:<attr>.

    Choosing a port's MAC or IP addresses is for the network's owner (or admin): a tenant
    on someone else's shared network takes what it is given."""
    return {
        "binding:host_id": admin_or_service,
        "binding:profile": admin_or_service,   # Neutron: service only (see above)
        "binding:vnic_type": member_or_service,
        "mac_address": net_owner_member,
        "fixed_ips": net_owner_member_or_shared if creating else net_owner_member,
        "fixed_ips:ip_address": net_owner_member,
        "fixed_ips:subnet_id": net_owner_member_or_shared,
        "allowed_address_pairs": net_owner_member,
    }


def router_rights() -> dict[str, Who]:
    """neutron/conf/policies/router.py, for keys of external_gateway_info."""
    return {"external_fixed_ips": admin}


def floatingip_rights() -> dict[str, Who]:
    """neutron/conf/policies/floatingip.py: create_floatingip:floating_ip_address."""
    return {"floating_ip_address": admin}


def check(ctx: Context, action: str, body: dict, rights: dict[str, Who],
          target: Target = Target(), prefix: str = "") -> None:
    """Refuse if `body` names an attribute `ctx` may not set (`action`: create_port).

    The message is Neutron's: the base rule and-ed with the rule of every attribute the
    body names, "((rule:create_port and rule:create_port:a) and rule:create_port:b) is
    disallowed by policy"."""
    named = [name for name in rights if _names(body, name)]
    if all(rights[name](ctx, target) for name in named):
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
