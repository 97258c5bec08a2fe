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
"""
from __future__ import annotations

from collections.abc import Callable

from netqos.qos.errors import PolicyNotAuthorized
from netqos.service.context import Context

Who = Callable[[Context], bool]


def admin(ctx: Context) -> bool:
    return ctx.is_admin


def admin_or_service(ctx: Context) -> bool:
    return ctx.is_admin or "service" in ctx.roles


def member_or_service(ctx: Context) -> bool:
    """ADMIN_OR_PROJECT_MEMBER or SERVICE; ownership is checked by the resource's lookup."""
    return ctx.is_admin or bool(ctx.roles & {"member", "manager", "service"})


def port_rights() -> dict[str, Who]:
    """neutron/conf/policies/port.py: create_port:<attr> and update_port:<attr>."""
    return {
        "binding:host_id": admin_or_service,
        "binding:profile": admin_or_service,   # Neutron: service only (see above)
        "binding:vnic_type": member_or_service,
    }


def router_rights() -> dict[str, Who]:
    """neutron/conf/policies/router.py, for keys of external_gateway_info."""
    return {"external_fixed_ips": admin}


def floatingip_rights() -> dict[str, Who]:
    """neutron/conf/policies/floatingip.py: create_floatingip:floating_ip_address."""
    return {"floating_ip_address": admin}


def check(ctx: Context, action: str, body: dict, rights: dict[str, Who],
          prefix: str = "") -> None:
    """Refuse if `body` names an attribute `ctx` may not set (`action`: create_port).

    The message is Neutron's: the base rule and-ed with the rule of every attribute the
    body names, "((rule:create_port and rule:create_port:a) and rule:create_port:b) is
    disallowed by policy"."""
    named = [name for name in rights if name in body]
    if all(rights[name](ctx) for name in named):
        return
    rule = f"rule:{action}"
    for name in named:
        rule = f"({rule} and rule:{action}:{prefix}{name})"
    raise PolicyNotAuthorized(rule=rule)
