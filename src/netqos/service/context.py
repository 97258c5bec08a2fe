"""Who is calling: the identity every service operation is authorized against.

An agent's identity is bound to one host (`host` set, role `agent`): it may read that
host's desired state and report for it, and nothing else. Every authenticator (token file,
Keystone) maps agent credentials to such a Context; `acts_for_host` is the one check.
"""
from __future__ import annotations

from dataclasses import dataclass

ADMIN_PROJECT = "fake_project_id"  # noauth without identity headers, as Neutron's noauth
AGENT_ROLE = "agent"


@dataclass(frozen=True)
class Context:
    project_id: str
    user_id: str = ""
    roles: frozenset[str] = frozenset()
    host: str | None = None   # an agent's credential: bound to this one host

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
        return self.is_admin or (self.in_project and project_id == self.project_id)

    def may_manage(self, project_id: str) -> bool:
        """Neutron's default: admin anywhere, a project manager in its own project."""
        return self.is_admin or (self.in_project and project_id == self.project_id
                                 and "manager" in self.roles)

    def may_write(self, project_id: str) -> bool:
        """Neutron's default for networks, subnets, ports, routers, floating IPs, RBAC
        entries: admin anywhere, a project's member (or manager) in its own project;
        a reader only reads."""
        return self.is_admin or (self.in_project and project_id == self.project_id
                                 and bool(self.roles & {"member", "manager"}))

    @classmethod
    def for_host(cls, host: str, user_id: str = "") -> "Context":
        """The identity of the agent of `host` (no project: it owns nothing)."""
        return cls("", user_id or f"netqos-agent@{host}", frozenset({AGENT_ROLE}), host)

    @classmethod
    def admin(cls) -> "Context":
        return cls(ADMIN_PROJECT, "admin", frozenset({"admin", "manager", "member", "reader"}))
