"""List query strings -> ListQuery; page links in Neutron's `<collection>_links` shape."""
from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request

from netqos.qos.attributes import Boolean, IntRange
from netqos.qos.errors import HTTPBadRequest
from netqos.service.listing import ListQuery, Page

TAG_FILTERS = ("tags", "tags-any", "not-tags", "not-tags-any")
CONTROL = frozenset({"fields", "sort_key", "sort_dir", "limit", "marker", "page_reverse",
                     *TAG_FILTERS})
# Filters Neutron accepts on every list and that carry no meaning here.
IGNORED = frozenset({"all_projects", "all_tenants"})


def list_query(request: Request) -> ListQuery:
    items = request.query_params.multi_items()
    get = lambda key: [v for k, v in items if k == key]  # noqa: E731
    filters: dict[str, list[str]] = {}
    for key, value in items:
        if key not in CONTROL and key not in IGNORED:
            filters.setdefault(key, []).append(value)
    limit = get("limit")
    page_reverse = get("page_reverse")
    return ListQuery(
        filters=filters,
        sorts=_sorts(get("sort_key"), get("sort_dir")),
        limit=IntRange("limit").convert(limit[-1]) or None if limit else None,
        marker=(get("marker") or [None])[-1],
        page_reverse=Boolean("page_reverse").convert(page_reverse[-1]) if page_reverse
        else False,
        fields=tuple(f for v in get("fields") for f in v.split(",") if f),
        tags={k: get(k) for k in TAG_FILTERS if get(k)},
    )


def _sorts(keys: list[str], dirs: list[str]) -> tuple[tuple[str, str], ...]:
    if len(dirs) > len(keys):
        raise HTTPBadRequest("The number of sort_keys and sort_dirs must be the same")
    for d in dirs:
        if d not in ("asc", "desc"):
            raise HTTPBadRequest(f"{d} is invalid value for sort_dir, valid values are 'asc' "
                                 "and 'desc'")
    dirs = dirs + ["asc"] * (len(keys) - len(dirs))
    return tuple(zip(keys, dirs))


def links(request: Request, collection: str, q: ListQuery, page: Page) -> dict:
    """next/previous links when the client pages with `limit`."""
    if not q.limit or not page.ids:
        return {}
    base = str(request.url.remove_query_params(["marker", "page_reverse"]))
    sep = "&" if "?" in base else "?"
    more_after = page.has_more if not q.page_reverse else bool(q.marker)
    more_before = bool(q.marker) if not q.page_reverse else page.has_more
    out = []
    if more_after:
        out.append({"rel": "next", "href": base + sep + urlencode({"marker": page.ids[-1]})})
    if more_before:
        out.append({"rel": "previous", "href": base + sep + urlencode(
            {"marker": page.ids[0], "page_reverse": "True"})})
    return {f"{collection}_links": out} if out else {}
