"""Rules shared by every resource: ownership on create, revisions. (Attaching a policy:
service/policies.check_attach.)"""
from __future__ import annotations

from netqos.qos.errors import HTTPBadRequest, NotAuthorized, RevisionNumberConstraintFailed
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


def pop_owner(ctx: Context, values: dict) -> str:
    """The owner of a new network, subnet, port, router, floating IP or RBAC entry; only
    a member (or manager, or admin) may create one."""
    project_id = owner_project(ctx, values.pop("project_id", None), values.pop("tenant_id", None))
    if not ctx.may_write(project_id):
        raise NotAuthorized("A reader may not create resources: the member role is needed.")
    return project_id


def check_revision(obj, if_match: int | None) -> None:
    """If-Match: revision_number=N must name the current revision (else 412)."""
    if if_match is not None and obj.revision_number != if_match:
        raise RevisionNumberConstraintFailed(expected=if_match, current=obj.revision_number)
