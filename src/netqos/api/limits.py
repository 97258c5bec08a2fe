"""A ceiling on request bodies: 413 past `max_body_size` bytes (1 MiB by default).

A declared Content-Length over the limit is refused before a byte of the body is read;
a chunked body is counted as it is read and refused when it passes the limit, so the
server never holds more than the limit of any request. This runs after authentication
(api/auth.py), so only a known caller gets this far.
"""
from __future__ import annotations

from netqos.api.errors import neutron_error

DEFAULT_MAX_BODY = 1 << 20


class BodyTooLarge(Exception):
    pass


def too_large(limit: int):
    return neutron_error(413, "HTTPRequestEntityTooLarge",
                         f"Request is too large: the body must not exceed {limit} bytes.",
                         headers={"connection": "close"})


def declared_length(scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None   # the HTTP server refuses a malformed one before us
    return None


class BodyLimit:
    def __init__(self, app, limit: int = DEFAULT_MAX_BODY):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = declared_length(scope)
        if length is not None and length > self.limit:
            await too_large(self.limit)(scope, receive, send)
            return
        seen = 0
        started = False

        async def counted_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge
            return message

        async def watched_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            if started:
                raise
            await too_large(self.limit)(scope, receive, send)
