"""A list request, independent of HTTP: filters, sort keys, page, fields."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ListQuery:
    filters: dict[str, list[str]] = field(default_factory=dict)
    sorts: tuple[tuple[str, str], ...] = ()       # (key, "asc" | "desc")
    limit: int | None = None
    marker: str | None = None
    page_reverse: bool = False
    fields: tuple[str, ...] = ()                  # empty: every field
    tags: dict[str, list[str]] = field(default_factory=dict)  # tags, tags-any, not-tags…


@dataclass(frozen=True)
class Page:
    items: list[dict]
    ids: list[str]                 # of the items, in order (items may lack "id": fields=)
    has_more: bool = False         # there is a further page in the direction asked
