"""Refuse what no database can hold before it reaches one: NUL characters in the URL.

PostgreSQL text cannot contain NUL, so an id or a filter value with one would fail inside
the query (a 500). Nothing stored ever contains NUL (string attributes refuse it), so such a
path names nothing (404) and such a query string is malformed (400).
"""
from __future__ import annotations

from urllib.parse import unquote_to_bytes

from netqos.api.errors import neutron_error


class RefuseNul:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            response = None
            if "\x00" in scope["path"]:
                response = neutron_error(404, "HTTPNotFound", "The resource could not be found.")
            elif b"\x00" in unquote_to_bytes(scope.get("query_string", b"")):
                response = neutron_error(400, "HTTPBadRequest",
                                         "NUL characters are not allowed in the query string")
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
