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
    """`<collection>_links` as Neutron builds them when the client pages with `limit`:
    `next` unless a forward page came back short, `previous` unless a reverse page did
    (so a full first page carries both); each is the request's own query with the marker
    (and page_reverse) set."""
    if not q.limit or not page.ids:
        return {}
    short = len(page.ids) < q.limit
    out = []
    if not (short and not q.page_reverse):
        out.append({"rel": "next", "href": _href(request, page.ids[-1], reverse=False)})
    if not (short and q.page_reverse):
        out.append({"rel": "previous", "href": _href(request, page.ids[0], reverse=True)})
    return {f"{collection}_links": out}


def _href(request: Request, marker: str, reverse: bool) -> str:
    """The request's URL with marker set in place (or appended), page_reverse set for a
    previous link and dropped for a next one, every other parameter in its order."""
    params = [(k, v) for k, v in request.query_params.multi_items()]
    params = _set(params, "marker", marker)
    params = _set(params, "page_reverse", "True") if reverse else \
        [(k, v) for k, v in params if k != "page_reverse"]
    return str(request.url.replace(query=urlencode(params)))


def _set(params: list[tuple[str, str]], key: str, value: str) -> list[tuple[str, str]]:
    """`key` given once, with `value`: at its first place if the query had it, else last."""
    if not any(k == key for k, _ in params):
        return [*params, (key, value)]
    out, done = [], False
    for k, v in params:
        if k == key:
            if not done:
                out.append((k, value))
            done = True
        else:
            out.append((k, v))
    return out
