"""Who is calling: noauth (keystonemiddleware's headers), bearer tokens from a file, or
Keystone tokens (api/keystone.py).

noauth: identity comes from X-Project-Id / X-User-Id / X-Roles, as keystonemiddleware
sets them; without them the caller is an admin of `fake_project_id`, like Neutron's noauth,
so `openstacksdk` with `auth_type: none` works unchanged. It trusts whoever can connect,
so the server serves it on loopback only (cli/server_cmds.py).
tokens: a YAML/JSON file maps each token to {project_id, user_id, roles} — or, for an
agent, {roles: [agent], host: NAME}, a credential for that one host's agent endpoints.
The client sends it in X-Auth-Token. A missing or unknown token is a 401.

`Authenticate` runs before any route: it decides who is calling from the headers alone
and answers a failure itself, so nothing reads a request body before its sender is known.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

import yaml
from fastapi import Request

from netqos.api.errors import neutron_error, status_of
from netqos.policy.roles import with_implied
from netqos.qos.errors import HTTPBadRequest, NetqosError, NotAuthenticated
from netqos.service.context import AGENT_ROLE, Context

PROJECT_ID_MAX = 255
# Served to anyone: the version document clients probe before they authenticate, and the
# API's own description. Everything else needs a credential (in tokens mode).
PUBLIC_PATHS = frozenset({"/", "/docs", "/docs/oauth2-redirect", "/openapi.json"})
PUBLIC_PREFIX = "/ui/"    # the console's page and assets: it signs in with the API's auth


def is_public(path: str) -> bool:
    """Paths served without a credential; the console's data comes from the API, which
    needs one, so its static files reveal nothing."""
    return path in PUBLIC_PATHS or path == "/ui" or path.startswith(PUBLIC_PREFIX)


CALLER = "netqos.caller"   # where the middleware leaves the Context in the request's state


def roles_from_header(value: str | None) -> frozenset[str]:
    return frozenset(r.strip().lower() for r in (value or "").split(",") if r.strip())


class NoAuth:
    def __call__(self, request: Request) -> Context:
        h = request.headers
        project = h.get("x-project-id") or h.get("x-tenant-id")
        if not project:
            return Context.admin()
        if len(project) > PROJECT_ID_MAX:  # it would not fit the project_id columns
            raise HTTPBadRequest(f"X-Project-Id is longer than {PROJECT_ID_MAX} characters")
        return Context(project, h.get("x-user-id", ""), roles_from_header(h.get("x-roles")))


class TokenFileError(ValueError):
    pass


def identity(token: str, entry) -> Context:
    """One token file entry -> its Context; a malformed entry is refused at start."""
    if not isinstance(entry, dict):
        raise TokenFileError(f"token {token[:4]}…: expected a mapping of project_id, "
                             f"user_id, roles (and host for an agent)")
    roles = entry.get("roles", ["member"])
    if not isinstance(roles, list):
        raise TokenFileError(f"token {token[:4]}…: roles must be a list")
    roles = frozenset(str(r).lower() for r in roles)
    host = entry.get("host")
    if host is not None:
        if roles != {AGENT_ROLE}:
            raise TokenFileError(f"token {token[:4]}…: a credential bound to a host has "
                                 f"exactly the role {AGENT_ROLE!r}")
        return Context(str(entry.get("project_id", "")),
                       str(entry.get("user_id") or f"netqos-agent@{host}"), roles, str(host))
    if AGENT_ROLE in roles:
        raise TokenFileError(f"token {token[:4]}…: role {AGENT_ROLE!r} needs the host it "
                             f"acts for (host: NAME)")
    if "project_id" not in entry:
        raise TokenFileError(f"token {token[:4]}…: project_id is missing")
    return Context(str(entry["project_id"]), str(entry.get("user_id", "")), roles)


def token_from(request: Request) -> str:
    """X-Auth-Token, as keystonemiddleware reads it; `Authorization: Bearer` too, which is
    what a Prometheus scrape job can send."""
    token = request.headers.get("x-auth-token")
    if token is None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        token = value.strip() if scheme.lower() == "bearer" else ""
    return token


class TokenFile:
    def __init__(self, path: str | Path):
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise TokenFileError(f"token file {path}: {exc}") from None
        entries = data.get("tokens", data) if isinstance(data, dict) else None
        if not isinstance(entries, dict):
            raise TokenFileError(f"token file {path}: expected a mapping of tokens")
        self.tokens = {str(token): identity(str(token), e) for token, e in entries.items()}

    def __call__(self, request: Request) -> Context:
        ctx = self.tokens.get(token_from(request))
        if ctx is None:
            raise NotAuthenticated("Authentication required: a valid X-Auth-Token is needed.")
        return ctx


class WithLocalTokens:
    """Tokens minted by this process (the embedded agent's host credential) recognized
    first, then the configured authenticator, whatever its mode."""

    def __init__(self, inner: Callable, tokens: Mapping[str, Context]):
        self.inner, self.tokens = inner, dict(tokens)

    def __call__(self, request: Request):
        ctx = self.tokens.get(token_from(request))
        return ctx if ctx is not None else self.inner(request)


def make_authenticator(mode: str, token_file: str | None,
                       local_tokens: Mapping[str, Context] | None = None, settings=None):
    """The one switch between identity modes. An authenticator takes the request (only
    its headers are read) and returns a Context, or an awaitable of one."""
    if mode == "noauth":
        inner = NoAuth()
    elif mode == "tokens":
        if not token_file:
            raise TokenFileError("auth = tokens needs a token file (--token-file)")
        inner = TokenFile(token_file)
    elif mode == "keystone":
        from netqos.api.keystone import KeystoneAuth

        inner = KeystoneAuth(settings)
    else:
        raise ValueError(f"unknown auth mode {mode!r}: use noauth, tokens or keystone")
    return WithLocalTokens(inner, local_tokens) if local_tokens else inner


class Authenticate:
    """ASGI middleware: authenticate every non-public request from its headers, before any
    route runs or any byte of its body is read; a failure is answered here."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        try:
            ctx = scope["app"].state.authenticate(Request(scope))
            if inspect.isawaitable(ctx):
                ctx = await ctx
        except NetqosError as exc:
            # The body stays unread; the server closes the connection after this answer.
            response = neutron_error(status_of(exc), exc.type, str(exc), headers={
                **getattr(exc, "headers", {}), "connection": "close"})
            await response(scope, receive, send)
            return
        # Keystone's implied roles (a manager is a member and a reader too) whatever the
        # mode, and the server's policy engine for every decision the caller meets.
        ctx = replace(ctx, roles=with_implied(ctx.roles), engine=scope["app"].state.policy)
        scope.setdefault("state", {})[CALLER] = ctx
        await self.app(scope, receive, send)


def caller(request: Request) -> Context:
    """The Context the middleware found for this request."""
    ctx = request.scope.get("state", {}).get(CALLER)
    if ctx is None:   # a public path: it has no caller to act as
        raise NotAuthenticated("Authentication required: a valid X-Auth-Token is needed.")
    return ctx
