"""Keystone's default role inference: admin implies manager, manager implies member,
member implies reader (what `keystone-manage bootstrap` creates).

Keystone expands implied roles in the tokens it issues; identities that do not come from
Keystone (noauth headers, the token file) are expanded here, so a rule such as
`role:reader and project_id:%(project_id)s` treats them the same way.
"""
from __future__ import annotations

IMPLIES = {"admin": "manager", "manager": "member", "member": "reader"}


def with_implied(roles) -> frozenset[str]:
    out = set()
    for role in roles:
        while role and role not in out:
            out.add(role)
            role = IMPLIES.get(role)
    return frozenset(out)
