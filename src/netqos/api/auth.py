"""Who is calling: noauth (keystonemiddleware's headers), bearer tokens from a file, or
Keystone tokens (api/keystone.py).

noauth: identity comes from X-Project-Id / X-User-Id / X-Roles, as keystonemiddleware
sets them; without them the caller is an admin of `fake_project_id`, like Neutron's noauth,
so `openstacksdk` with `auth_type: none` works unchanged.
tokens: a YAML/JSON file maps each token to {project_id, user_id, roles}; the client sends
it in X-Auth-Token. A missing or unknown token is a 401.
"""
from __future__ import annotations

from pathlib import Path

import yaml
from fastapi import Request

from netqos.qos.errors import HTTPBadRequest, NotAuthenticated
from netqos.service.context import Context

PROJECT_ID_MAX = 255


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


class TokenFile:
    def __init__(self, path: str | Path):
        data = yaml.safe_load(Path(path).read_text()) or {}
        self.tokens = {token: Context(str(e["project_id"]), str(e.get("user_id", "")),
                                      frozenset(r.lower() for r in e.get("roles", ["member"])))
                       for token, e in (data.get("tokens") or data).items()}

    def __call__(self, request: Request) -> Context:
        ctx = self.tokens.get(request.headers.get("x-auth-token", ""))
        if ctx is None:
            raise NotAuthenticated("Authentication required: a valid X-Auth-Token is needed.")
        return ctx


def make_authenticator(mode: str, token_file: str | None, settings=None):
    if mode == "noauth":
        return NoAuth()
    if mode == "tokens":
        if not token_file:
            raise ValueError("auth = tokens needs a token file (--token-file)")
        return TokenFile(token_file)
    if mode == "keystone":
        from netqos.api.keystone import KeystoneAuth

        return KeystoneAuth(settings)
    raise ValueError(f"unknown auth mode {mode!r}: use noauth, tokens or keystone")
