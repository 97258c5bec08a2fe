"""What every listed resource shares: visibility, lookup by id, and list queries."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, or_, select

from netqos.db import listing, repo
from netqos.db.listing import Attr
from netqos.qos.errors import NetqosError
from netqos.service.context import Context
from netqos.service import views
from netqos.service.listing import ListQuery, Page
from netqos.service.txn import Txn


@dataclass(frozen=True)
class Kind:
    name: str                                   # "network"
    model: Any                                  # the SQLAlchemy model
    attrs: dict[str, Attr]                      # what lists filter and sort by
    not_found: Callable[[str], NetqosError]
    rbac_type: str | None = None                # object_type of its RBAC entries
    visible_to_all: Callable[[Any], Any] | None = None   # e.g. external networks
    load: Sequence[Any] = field(default_factory=tuple)   # loader options for rows
    visible_via: Callable[[Context], Any] | None = None   # visibility borrowed elsewhere
    # Loader options for a lookup by id, when one joined query beats `load`'s extra
    # queries (a policy with its rules): those are fetched by find_or_none.
    load_one: Sequence[Any] | None = None
    # Computed columns a plain-row list (page(..., plain=True)) selects besides the table's.
    row_columns: Sequence[Any] = field(default_factory=tuple)

    def visible(self, ctx: Context):
        """SQL condition for rows the caller may see, or None when it sees everything."""
        if ctx.is_admin:
            return None
        if self.visible_via is not None:
            return self.visible_via(ctx)
        conditions = [self.model.project_id == ctx.project_id]
        if self.rbac_type:
            conditions.append(repo.rbac_grants(self.rbac_type, self.model.id, ctx.project_id))
        if self.visible_to_all is not None:
            conditions.append(self.visible_to_all(self.model))
        return or_(*conditions)

    def select(self, ctx: Context, load: Sequence[Any] | None = None,
               plain: bool = False) -> Select:
        """Mapped objects, or with `plain` rows of the table's columns and row_columns:
        building a few hundred ORM objects costs more than the query itself."""
        if plain:
            stmt = select(*self.model.__table__.c, *self.row_columns)
        else:
            stmt = select(self.model).options(*(self.load if load is None else load))
        condition = self.visible(ctx)
        return stmt if condition is None else stmt.where(condition)


def find_or_none(txn: Txn, kind: Kind, obj_id: str):
    stmt = kind.select(txn.ctx, kind.load_one).where(kind.model.id == obj_id)
    # unique(): a joined collection repeats the row once per member.
    return txn.session.scalars(stmt).unique().first()


def find(txn: Txn, kind: Kind, obj_id: str):
    """The row if the caller may see it; the kind's 404 otherwise (also for a bad id)."""
    row = find_or_none(txn, kind, obj_id)
    if row is None:
        raise kind.not_found(obj_id)
    return row


def find_owned(txn: Txn, kind: Kind, obj_id: str, rule: str | None = None):
    """The row, for the caller to change: it must own it (or be admin; another project's
    shared one is 404), and the policy rule (update_<kind> unless named: delete_port,
    add_router_interface, ...) must allow it (a reader's own one is 403)."""
    row = find(txn, kind, obj_id)
    if not txn.ctx.owns(row.project_id):
        raise kind.not_found(obj_id)
    txn.ctx.enforce(rule or f"update_{kind.name}", target_of(row))
    return row


def target_of(row) -> dict:
    """What a policy rule sees of a row: its owner, and its network's owner if it has one."""
    target = {"project_id": row.project_id, "tenant_id": row.project_id}
    network = getattr(row, "network", None)
    if network is not None and hasattr(network, "project_id"):
        target["network:project_id"] = target["network:tenant_id"] = network.project_id
    return target


def list_rows(txn: Txn, kind: Kind, q: ListQuery, where=(),
              plain: bool = False) -> tuple[list, bool]:
    """Rows for one page of a list, and whether more follow."""
    listing.check_query(kind.attrs, q)
    stmt = listing.apply_filters(kind.select(txn.ctx, plain=plain).where(*where), kind.attrs, q)
    stmt = stmt.where(*repo.tag_filter(kind.model.id, q.tags))
    keys = listing.order_keys(kind.attrs, q, kind.model.id)
    if q.marker:
        marker = txn.session.execute(
            select(*(e for e, _ in keys)).where(kind.model.id == q.marker)).first()
        stmt = stmt.where(listing.after_marker(keys, list(marker) if marker else None))
    stmt = listing.apply_order(stmt, keys)
    if q.limit:
        stmt = stmt.limit(q.limit + 1)
    rows = txn.session.execute(stmt).all() if plain else list(txn.session.scalars(stmt))
    has_more = bool(q.limit) and len(rows) > q.limit
    rows = rows[:q.limit] if q.limit else rows
    if q.page_reverse:
        rows.reverse()
    return rows, has_more


def page(txn: Txn, kind: Kind, q: ListQuery, render: Callable[[Txn, list], list[dict]],
         plain: bool = False) -> Page:
    """One page of a list; `render` turns the rows (plain ones with `plain`, see
    Kind.select) into views, batching its lookups."""
    rows, has_more = list_rows(txn, kind, q, plain=plain)
    return Page([views.only_fields(v, q.fields) for v in render(txn, rows)],
                [r.id for r in rows], has_more)


def standard_attrs(model) -> dict[str, Attr]:
    """The attributes every resource lists by: id, project, name, revision, times."""
    from netqos.qos.attributes import IntRange

    attrs = {"id": Attr(model.id), "project_id": Attr(model.project_id),
             "tenant_id": Attr(model.project_id),
             "revision_number": Attr(model.revision_number,
                                     IntRange("revision_number").convert),
             "created_at": Attr(model.created_at, filterable=False),
             "updated_at": Attr(model.updated_at, filterable=False)}
    for optional in ("name", "description"):
        if hasattr(model, optional):
            attrs[optional] = Attr(getattr(model, optional))
    return attrs
