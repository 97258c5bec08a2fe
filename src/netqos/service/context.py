"""Who is calling: the identity every service operation is authorized against.

Decisions go through the policy engine (netqos.policy) by Neutron's rule names, so an
operator's policy.yaml changes them the way it would change Neutron's.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from netqos.policy.engine import PolicyEngine, defaults_only
from netqos.qos.errors import PolicyNotAuthorized

ADMIN_PROJECT = "fake_project_id"  # noauth without identity headers, as Neutron's noauth


@dataclass(frozen=True)
class Context:
    project_id: str
    user_id: str = ""
    roles: frozenset[str] = frozenset()
    # An agent's identity is bound to one host: it may use that host's endpoints only.
    host: str | None = None
    engine: PolicyEngine | None = field(default=None, compare=False, repr=False)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    def owns(self, project_id: str) -> bool:
        """Visibility, not a policy rule: admin sees everything, a project its own."""
        return self.is_admin or project_id == self.project_id

    @property
    def credentials(self) -> dict:
        return {"project_id": self.project_id, "tenant_id": self.project_id,
                "user_id": self.user_id, "roles": sorted(self.roles)}

    def allowed(self, rule: str, target: Mapping) -> bool:
        """Does the policy rule (e.g. "create_policy") allow this call on `target`
        (the resource's attributes: project_id, network:project_id, shared, ...)?"""
        return (self.engine or defaults_only()).allowed(self.credentials, rule, target)

    def enforce(self, rule: str, target: Mapping) -> None:
        if not self.allowed(rule, target):
            raise PolicyNotAuthorized(action=rule)

    @classmethod
    def admin(cls) -> "Context":
        return cls(ADMIN_PROJECT, "admin", frozenset({"admin", "manager", "member", "reader"}))
