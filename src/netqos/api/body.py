"""Request bodies and headers as Neutron reads them."""
from __future__ import annotations

import json
import math
import re

from fastapi import Depends, Request

from netqos.api.deps import agent_context, context
from netqos.qos.errors import HTTPBadRequest, MalformedRequestBody
from netqos.service.context import Context


async def raw_body(request: Request, _ctx: Context = Depends(context)) -> bytes:
    """A FastAPI dependency: the body bytes, so sync handlers can parse them. It depends on
    the caller, so a credential the route refuses is refused before the body is read."""
    return await request.body()


async def agent_raw_body(request: Request, _ctx: Context = Depends(agent_context)) -> bytes:
    """raw_body for the agent endpoints, whose callers may be host-bound."""
    return await request.body()


# A \uD800-\uDFFF escape: json.loads turns an unpaired one into a lone surrogate, which no
# UTF-8 encoder (database driver, response body) accepts. Only then (or for a UTF-16/32
# body, whose escapes the pattern does not see) is the full check paid.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _encodable(doc) -> bool:
    try:
        json.dumps(doc, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return False
    return True


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number out of range: {text}")
    return value


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def parse_plain(raw: bytes) -> dict:
    """A body without a root key, as router interface actions take it."""
    if not raw.strip():
        raise HTTPBadRequest("Resource body required")
    try:
        # NaN, Infinity and 1e999 are no JSON numbers, and no database's JSON holds them.
        doc = json.loads(raw, parse_float=_finite, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise MalformedRequestBody(reason="Cannot understand JSON") from None
    if (_SURROGATE_ESCAPE.search(raw) or b"\x00" in raw) and not _encodable(doc):
        raise MalformedRequestBody(reason="Cannot understand JSON: unpaired UTF-16 surrogate")
    if not isinstance(doc, dict):
        raise HTTPBadRequest("Body contains invalid data")
    return doc


def parse(raw: bytes, root: str, expect: type = dict):
    """`{"<root>": {...}}` -> the inner value, or the 400 Neutron gives for each mistake."""
    doc = parse_plain(raw)
    if root not in doc:
        raise HTTPBadRequest(f"Unable to find '{root}' in request body")
    inner = doc[root]
    if not isinstance(inner, expect):
        kind = "an object" if expect is dict else "a list"
        raise HTTPBadRequest(f"Invalid format: the '{root}' in the request body must be {kind}")
    return inner


_IF_MATCH = re.compile(r"^\s*revision_number\s*=\s*(\d+)\s*$")


def if_match(request: Request) -> int | None:
    """`If-Match: revision_number=N` -> N. Other If-Match forms are not revisions."""
    header = request.headers.get("if-match")
    if header is None:
        return None
    for part in header.split(","):
        m = _IF_MATCH.match(part)
        if m:
            return int(m.group(1))
    raise HTTPBadRequest(f"Invalid If-Match header {header!r}: expected revision_number=N")
