"""Rules shared by every resource: ownership on create, revisions. (Attaching a policy:
service/policies.check_attach.)"""
from __future__ import annotations

from netqos.qos.errors import HTTPBadRequest, RevisionNumberConstraintFailed
from netqos.service.context import Context


def owner_project(ctx: Context, project_id: str | None, tenant_id: str | None) -> str:
    """The project a new resource belongs to; only an admin may name another one."""
    if project_id and tenant_id and project_id != tenant_id:
        raise HTTPBadRequest("'project_id' and 'tenant_id' do not match")
    wanted = project_id or tenant_id or ctx.project_id
    if wanted != ctx.project_id and not ctx.is_admin:
        raise HTTPBadRequest("Specifying 'project_id' other than the authenticated project "
                             "in request is not allowed for the current user.")
    return wanted


def pop_owner(ctx: Context, values: dict, resource: str, **target) -> str:
    """The owner of a new network, subnet, port, router, floating IP or RBAC entry, once
    the policy rule create_<resource> allows it (Neutron's default: a member, manager or
    admin). `target` adds what the rule may look at besides the owner (network:project_id)."""
    project_id = owner_project(ctx, values.pop("project_id", None), values.pop("tenant_id", None))
    ctx.enforce(f"create_{resource}", {"project_id": project_id, "tenant_id": project_id,
                                       **target})
    return project_id


def check_revision(obj, if_match: int | None) -> None:
    """If-Match: revision_number=N must name the current revision (else 412)."""
    if if_match is not None and obj.revision_number != if_match:
        raise RevisionNumberConstraintFailed(expected=if_match, current=obj.revision_number)
