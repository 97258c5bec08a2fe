"""Filters, sorting and keyset pagination of list queries, in SQL.

A resource declares its listable attributes as {name: Attr}; anything else a client
filters or sorts by is a 400, as with Neutron's filter validation.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, false, or_

from netqos.qos.errors import HTTPBadRequest
from netqos.service.listing import ListQuery


@dataclass(frozen=True)
class Attr:
    expr: Any                                   # a column or SQL expression
    convert: Callable[[Any], Any] = str         # query-string value -> typed value
    sortable: bool = True
    filterable: bool = True


# Query parameters that are not filters.
CONTROL_PARAMS = frozenset({"fields", "sort_key", "sort_dir", "limit", "marker",
                            "page_reverse", "tags", "tags-any", "not-tags", "not-tags-any"})


def check_query(attrs: Mapping[str, Attr], q: ListQuery) -> None:
    for key in q.filters:
        if key not in attrs or not attrs[key].filterable:
            raise HTTPBadRequest(f"['{key}'] is invalid attribute for filtering")
    for key, _ in q.sorts:
        if key not in attrs or not attrs[key].sortable:
            raise HTTPBadRequest(f"['{key}'] is invalid attribute for sort_keys")


def apply_filters(stmt: Select, attrs: Mapping[str, Attr], q: ListQuery) -> Select:
    for key, values in q.filters.items():
        attr = attrs[key]
        converted = [attr.convert(v) for v in values]
        stmt = stmt.where(attr.expr.in_(converted) if len(converted) > 1
                          else attr.expr == converted[0])
    return stmt


def order_keys(attrs: Mapping[str, Attr], q: ListQuery, id_col) -> list[tuple[Any, bool]]:
    """[(expression, ascending)], ending with id so the order is total."""
    keys = [(attrs[k].expr, d != "desc") for k, d in q.sorts]
    if not any(k == "id" for k, _ in q.sorts):
        keys.append((id_col, keys[-1][1] if keys else True))
    if q.page_reverse:
        keys = [(e, not asc) for e, asc in keys]
    return keys


def apply_order(stmt: Select, keys: list[tuple[Any, bool]]) -> Select:
    return stmt.order_by(*(e.asc() if asc else e.desc() for e, asc in keys))


def after_marker(keys: list[tuple[Any, bool]], marker_values: list[Any] | None):
    """Keyset condition: rows strictly after the marker row in `keys` order."""
    if marker_values is None:
        return false()  # a marker that does not exist selects nothing
    ors = []
    for i, (expr, asc) in enumerate(keys):
        equal = [keys[j][0] == marker_values[j] for j in range(i)]
        beyond = expr > marker_values[i] if asc else expr < marker_values[i]
        ors.append(and_(*equal, beyond))
    return or_(*ors)
