"""Who is calling: the identity every service operation is authorized against.

Decisions go through the policy engine (netqos.policy) by Neutron's rule names, so an
operator's policy.yaml changes them the way it would change Neutron's.

An agent's identity is bound to one host (`host` set, role `agent`): it may read that
host's desired state and report for it, and nothing else. Every authenticator (token file,
Keystone) maps agent credentials to such a Context; `acts_for_host` is the one check.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from netqos.policy.engine import PolicyEngine, defaults_only
from netqos.qos.errors import PolicyNotAuthorized

ADMIN_PROJECT = "fake_project_id"  # noauth without identity headers, as Neutron's noauth
AGENT_ROLE = "agent"


@dataclass(frozen=True)
class Context:
    project_id: str
    user_id: str = ""
    roles: frozenset[str] = frozenset()
    host: str | None = None   # an agent's credential: bound to this one host
    engine: PolicyEngine | None = field(default=None, compare=False, repr=False)

    @property
    def is_admin(self) -> bool:
        # A host-bound credential is never an admin, whatever roles it was given.
        return "admin" in self.roles and self.host is None

    def acts_for_host(self, host: str) -> bool:
        """May this caller pull and report for `host` (the agent endpoints)? An admin for
        every host; an agent credential for its own host only."""
        return self.is_admin or (self.host is not None and self.host == host)

    @property
    def in_project(self) -> bool:
        """A project's user; a host-bound agent credential belongs to none, whatever
        project the authenticator saw (Keystone's service project)."""
        return self.host is None

    def owns(self, project_id: str) -> bool:
        """Visibility, not a policy rule: admin sees everything, a project its own."""
        return self.is_admin or (self.in_project and project_id == self.project_id)

    @property
    def credentials(self) -> dict:
        """What policy rules see of the caller; a host-bound credential has no project
        and no role a rule could grant anything to."""
        if not self.in_project:
            return {"project_id": None, "user_id": self.user_id, "roles": []}
        return {"project_id": self.project_id, "tenant_id": self.project_id,
                "user_id": self.user_id, "roles": sorted(self.roles)}

    def allowed(self, rule: str, target: Mapping) -> bool:
        """Does the policy rule (e.g. "create_policy") allow this call on `target`
        (the resource's attributes: project_id, network:project_id, shared, ...)?"""
        return (self.engine or defaults_only()).allowed(self.credentials, rule, target)

    def enforce(self, rule: str, target: Mapping) -> None:
        if not self.allowed(rule, target):
            raise PolicyNotAuthorized(rule=f"rule:{rule}")

    @classmethod
    def for_host(cls, host: str, user_id: str = "") -> "Context":
        """The identity of the agent of `host` (no project: it owns nothing)."""
        return cls("", user_id or f"netqos-agent@{host}", frozenset({AGENT_ROLE}), host)

    @classmethod
    def admin(cls) -> "Context":
        return cls(ADMIN_PROJECT, "admin", frozenset({"admin", "manager", "member", "reader"}))
