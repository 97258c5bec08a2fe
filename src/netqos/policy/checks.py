"""Neutron's `field:` check, which oslo.policy does not have itself.

    field:<resource>:<attribute>=<value>     the target's attribute equals value
    field:<resource>:<attribute>=~<regex>    ... matches the regular expression

Neutron's defaults use it for shared networks and policies (`field:networks:shared=True`),
service ports (`field:port:device_owner=~^network:`) and RBAC wildcards.
"""
from __future__ import annotations

import re

from oslo_policy import policy


@policy.register("field")
class FieldCheck(policy.Check):
    def __init__(self, kind: str, match: str):
        super().__init__(kind, match)
        _resource, _, assignment = match.partition(":")
        self.attribute, _, value = assignment.partition("=")
        self.regex = re.compile(value[1:]) if value.startswith("~") else None
        self.value = value

    def __call__(self, target, creds, enforcer, current_rule=None) -> bool:
        if self.attribute not in target:
            return False
        got = target[self.attribute]
        if self.regex is not None:
            return isinstance(got, str) and bool(self.regex.match(got))
        return str(got) == self.value
