"""Queries shared by the services: visibility, sharing, tags, revisions.

Lists run a fixed number of queries whatever their length (one per relation, never one
per row), which is what keeps a 500-policy list in milliseconds.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import and_, delete, exists, or_, select
from sqlalchemy.orm import Session

from netqos.db.models import RbacEntry, Tag, utcnow

SHARED = "access_as_shared"
EVERYONE = "*"


def rbac_grants(object_type: str, object_id_col, project_id: str | None):
    """EXISTS an access_as_shared entry for the object, for everyone or this project."""
    targets = [EVERYONE] if project_id is None else [EVERYONE, project_id]
    return exists().where(RbacEntry.object_type == object_type,
                          RbacEntry.object_id == object_id_col,
                          RbacEntry.action == SHARED,
                          RbacEntry.target_project.in_(targets))


def shared_with(object_type: str, object_id_col, viewer):
    """EXISTS an access_as_shared entry for the object, for everyone or the project bound
    to `viewer` (a bindparam): a prepared statement's form of rbac_grants."""
    return exists().where(RbacEntry.object_type == object_type,
                          RbacEntry.object_id == object_id_col,
                          RbacEntry.action == SHARED,
                          or_(RbacEntry.target_project == EVERYONE,
                              RbacEntry.target_project == viewer))


def shared_ids(session: Session, object_type: str, ids: Iterable[str],
               viewer: str | None = None) -> set[str]:
    """Which of these objects are shared: with everyone, or (as Neutron shows `shared` to
    a caller) with the `viewer` project."""
    ids = list(ids)
    if not ids:
        return set()
    targets = [EVERYONE] if viewer is None else [EVERYONE, viewer]
    return set(session.scalars(select(RbacEntry.object_id).where(
        RbacEntry.object_type == object_type, RbacEntry.action == SHARED,
        RbacEntry.target_project.in_(targets), RbacEntry.object_id.in_(ids))))


def tags_by_id(session: Session, ids: Iterable[str]) -> dict[str, list[str]]:
    ids = list(ids)
    out: dict[str, list[str]] = defaultdict(list)
    if ids:
        for rid, tag in session.execute(select(Tag.resource_id, Tag.tag)
                                        .where(Tag.resource_id.in_(ids))):
            out[rid].append(tag)
    return out


def untag(session: Session, resource_id: str) -> None:
    """A deleted resource's tags go with it (tags are keyed by id, with no foreign key)."""
    session.execute(delete(Tag).where(Tag.resource_id == resource_id))


def tag_filter(column, q_filters: dict[str, list[str]]):
    """Neutron's tags, tags-any, not-tags, not-tags-any (comma-separated lists)."""
    conditions = []
    for key, values in q_filters.items():
        tags = [t for v in values for t in v.split(",") if t]
        if not tags:
            continue  # `not-tags=` names no tag: no condition (and_() of nothing fails)
        has = {t: exists().where(Tag.resource_id == column, Tag.tag == t) for t in tags}
        if key == "tags":
            conditions.extend(has.values())
        elif key == "tags-any":
            conditions.append(or_(*has.values()))
        elif key == "not-tags":
            conditions.append(~and_(*has.values()))
        elif key == "not-tags-any":
            conditions.append(~or_(*has.values()))
    return conditions


def bump_revision(obj) -> None:
    """A new revision of `obj`; the flush checks the old one (optimistic locking)."""
    obj.revision_number = obj.revision_number + 1
    obj.updated_at = utcnow()
