"""Tags of any resource (Neutron's standard-attr-tag): each change is a new revision."""
from __future__ import annotations

from sqlalchemy import delete, select

from netqos.db import repo
from netqos.db.models import Tag
from netqos.qos.attributes import ListOf, String
from netqos.qos.errors import NotFound
from netqos.service import resources
from netqos.service.txn import Txn

TAG = String("tag", max_length=255)
TAGS = ListOf("tags", item=TAG)


class TagNotFound(NotFound):
    message = "Tag %(tag)s could not be found for %(resource)s %(resource_id)s."


def get_all(txn: Txn, kind: resources.Kind, obj_id: str) -> list[str]:
    obj = resources.find(txn, kind, obj_id)
    return sorted(repo.tags_by_id(txn.session, [obj.id]).get(obj.id, []))


def check(txn: Txn, kind: resources.Kind, obj_id: str, tag: str) -> None:
    if tag not in get_all(txn, kind, obj_id):
        raise TagNotFound(tag=tag, resource=kind.name, resource_id=obj_id)


def replace(txn: Txn, kind: resources.Kind, obj_id: str, tags: list) -> list[str]:
    wanted = sorted(set(TAGS.convert(tags)))
    obj = _changing(txn, kind, obj_id)
    txn.session.execute(delete(Tag).where(Tag.resource_id == obj.id))
    txn.session.add_all(Tag(resource_id=obj.id, tag=t) for t in wanted)
    txn.session.flush()
    return wanted


def add(txn: Txn, kind: resources.Kind, obj_id: str, tag: str) -> None:
    tag = TAG.convert(tag)
    obj = _changing(txn, kind, obj_id)
    if txn.session.scalar(select(Tag.tag).where(Tag.resource_id == obj.id, Tag.tag == tag)):
        return
    txn.session.add(Tag(resource_id=obj.id, tag=tag))
    txn.session.flush()


def remove(txn: Txn, kind: resources.Kind, obj_id: str, tag: str | None) -> None:
    obj = _changing(txn, kind, obj_id)
    stmt = delete(Tag).where(Tag.resource_id == obj.id)
    if tag is not None:
        if txn.session.execute(stmt.where(Tag.tag == tag)).rowcount == 0:
            raise TagNotFound(tag=tag, resource=kind.name, resource_id=obj_id)
        return
    txn.session.execute(stmt)


def _changing(txn: Txn, kind: resources.Kind, obj_id: str):
    obj = resources.find_owned(txn, kind, obj_id)
    repo.bump_revision(obj)
    return obj
