"""Who is calling: the identity every service operation is authorized against."""
from __future__ import annotations

from dataclasses import dataclass

ADMIN_PROJECT = "fake_project_id"  # noauth without identity headers, as Neutron's noauth


@dataclass(frozen=True)
class Context:
    project_id: str
    user_id: str = ""
    roles: frozenset[str] = frozenset()

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    def owns(self, project_id: str) -> bool:
        return self.is_admin or project_id == self.project_id

    def may_manage(self, project_id: str) -> bool:
        """Neutron's default: admin anywhere, a project manager in its own project."""
        return self.is_admin or (project_id == self.project_id and "manager" in self.roles)

    def may_write(self, project_id: str) -> bool:
        """Neutron's default for networks, subnets, ports, routers, floating IPs, RBAC
        entries: admin anywhere, a project's member (or manager) in its own project;
        a reader only reads."""
        return self.is_admin or (project_id == self.project_id
                                 and bool(self.roles & {"member", "manager"}))

    @classmethod
    def admin(cls) -> "Context":
        return cls(ADMIN_PROJECT, "admin", frozenset({"admin", "manager", "member", "reader"}))
