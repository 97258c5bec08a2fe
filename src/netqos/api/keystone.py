"""--auth keystone: X-Auth-Token validated against Keystone v3 by netqos's service user.

Each new token is checked once with `GET /v3/auth/tokens` (`X-Subject-Token`, through
keystoneauth1, authenticated as the service user) and cached until it expires; a cached
token is checked again after `token_cache_time` seconds (as keystonemiddleware does), so a
revoked one stops working by then. If Keystone does not answer, cached tokens go on
working until they expire and new ones get 503. The identity headers of a client
(X-Project-Id, X-Roles, ...) are never read in this mode.

X-Service-Token (a service such as Nova acting for a user): it must be a valid token
holding the `service` role; the user's token may then have expired recently (Keystone's
allow_expired window), so a long operation started by a user can finish.

Agents: a service user named in `keystone_agent_users` ("user:host,...") is an agent of
that host: its identity is bound to the host and carries no other role. The server, not
the agent, decides which host a user speaks for, so a stolen agent password exposes one
host's ports, never another's.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from netqos.api.auth import token_from
from netqos.config import Settings
from netqos.qos.errors import NotAuthenticated, ServiceUnavailable
from netqos.service.context import Context

LOG = logging.getLogger(__name__)
SERVICE_ROLE = "service"


@dataclass
class Cached:
    ctx: Context
    expires: float     # the token's own expiry (epoch seconds)
    checked: float     # when Keystone last said it is valid


class TokenCache:
    """Validated tokens and the identity each one carries."""

    def __init__(self, recheck_after: float):
        self.recheck_after = recheck_after
        self.entries: dict[str, Cached] = {}
        self.lock = threading.Lock()

    def get(self, token: str) -> Cached | None:
        entry = self.entries.get(token)
        if entry is not None and entry.expires <= time.time():
            self.drop(token)
            return None
        return entry

    def fresh(self, entry: Cached) -> bool:
        return time.time() - entry.checked < self.recheck_after

    def put(self, token: str, ctx: Context, expires: float) -> None:
        with self.lock:
            if len(self.entries) > 10000:   # bounded: forget the expired ones first
                now = time.time()
                self.entries = {t: e for t, e in self.entries.items() if e.expires > now}
            self.entries[token] = Cached(ctx, expires, time.time())

    def drop(self, token: str) -> None:
        with self.lock:
            self.entries.pop(token, None)


def parse_agent_users(value: str | None) -> dict[str, str]:
    pairs = (item.split(":", 1) for item in (value or "").split(",") if item.strip())
    return {user.strip(): host.strip() for user, host in pairs}


class KeystoneAuth:
    def __init__(self, settings: Settings):
        missing = [n for n in ("auth_url", "username", "password")
                   if not getattr(settings, f"keystone_{n}")]
        if missing:
            raise ValueError("auth = keystone needs " + ", ".join(
                f"keystone_{n} ([keystone_authtoken] {n})" for n in missing))
        self.identity_url = _v3(settings.keystone_auth_url)
        uri = settings.keystone_www_authenticate_uri or settings.keystone_auth_url
        self.www_authenticate = f'Keystone uri="{uri}"'
        plugin = v3.Password(auth_url=self.identity_url, username=settings.keystone_username,
                             password=settings.keystone_password,
                             project_name=settings.keystone_project_name,
                             user_domain_name=settings.keystone_user_domain_name,
                             project_domain_name=settings.keystone_project_domain_name)
        self.session = ks_session.Session(auth=plugin, timeout=10)
        self.cache = TokenCache(settings.keystone_token_cache_time)
        self.agents = parse_agent_users(settings.keystone_agent_users)

    def __call__(self, request: Request):
        """The caller's Context: at once from the cache, or an awaitable that asks
        Keystone in a worker thread (the event loop never waits on Keystone)."""
        token = token_from(request)
        if not token:
            raise self._unauthenticated("Authentication required")
        service_token = request.headers.get("x-service-token")
        cached = self.cache.get(token)
        if cached is not None and self.cache.fresh(cached):
            return cached.ctx
        return run_in_threadpool(self._check, token, service_token, cached)

    def _check(self, token: str, service_token: str | None, cached: Cached | None) -> Context:
        try:
            allow_expired = bool(service_token) and self._is_service(service_token)
            data = self._validate(token, allow_expired)
        except ServiceUnavailable:
            if cached is not None:   # Keystone is away: a token it accepted stays good
                return cached.ctx
            raise
        if data is None:
            self.cache.drop(token)
            raise self._unauthenticated("The request you have made requires authentication.")
        ctx = self._context(data)
        self.cache.put(token, ctx, _epoch(data["expires_at"]))
        return ctx

    def _validate(self, token: str, allow_expired: bool = False) -> dict | None:
        """Keystone's view of a token: its body, or None if invalid, expired or revoked."""
        params = "?allow_expired=1" if allow_expired else ""
        try:
            resp = self.session.get(f"{self.identity_url}/auth/tokens{params}",
                                    headers={"X-Subject-Token": token}, raise_exc=False)
        except (ks_exc.ConnectFailure, ks_exc.ConnectTimeout, ks_exc.DiscoveryFailure,
                ks_exc.RequestTimeout, ks_exc.Unauthorized) as exc:
            LOG.warning("Keystone at %s cannot validate tokens: %s", self.identity_url, exc)
            raise ServiceUnavailable("The identity service (Keystone) does not answer.") \
                from None
        if resp.status_code in (401, 404):
            return None
        if resp.status_code != 200:
            LOG.warning("Keystone answered %s to a token validation", resp.status_code)
            raise ServiceUnavailable(f"The identity service (Keystone) answered "
                                     f"{resp.status_code}.")
        return resp.json()["token"]

    def _is_service(self, service_token: str) -> bool:
        data = self._validate(service_token)
        if data is None or SERVICE_ROLE not in {r["name"].lower() for r in data.get("roles", [])}:
            raise self._unauthenticated("The service token is not valid.")
        return True

    def _context(self, data: dict) -> Context:
        project = data.get("project")
        if not project:
            raise self._unauthenticated("A project-scoped token is required.")
        user = data["user"]
        host = self.agents.get(user["name"])
        if host is not None:
            return Context.for_host(host, user["id"])
        return Context(project["id"], user["id"],
                       frozenset(r["name"].lower() for r in data.get("roles", [])))

    def _unauthenticated(self, message: str) -> NotAuthenticated:
        return NotAuthenticated(message, headers={"WWW-Authenticate": self.www_authenticate})


def _v3(url: str) -> str:
    url = url.rstrip("/")
    return url if url.endswith("/v3") else url + "/v3"


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


SIGN_IN_PATH = "/ui/keystone/token"   # under /ui/: served without a credential


def install_sign_in(app, settings: Settings) -> None:
    """The console's password form (keystone mode): {"user", "password", "project"} in,
    {"token"} out, through Keystone's own password authentication in the configured
    domains. netqos keeps nothing: the page then sends the token like a pasted one."""
    from fastapi.responses import JSONResponse
    import httpx

    url = _v3(settings.keystone_auth_url) + "/auth/tokens"

    async def sign_in(request: Request):
        try:
            body = await request.json()
            user, password, project = (str(body[k]) for k in ("user", "password", "project"))
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": "expected user, password and project"}, 400)
        auth = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": user, "password": password,
            "domain": {"name": settings.keystone_user_domain_name}}}},
            "scope": {"project": {"name": project, "domain": {
                "name": settings.keystone_project_domain_name}}}}}
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                resp = await client.post(url, json=auth)
        except httpx.HTTPError:
            return JSONResponse({"error": "Keystone does not answer"}, 503)
        if resp.status_code != 201:
            return JSONResponse({"error": "Keystone refused the credentials"}, 401)
        return JSONResponse({"token": resp.headers["X-Subject-Token"]})

    app.add_route(SIGN_IN_PATH, sign_in, methods=["POST"], include_in_schema=False)
    app.state.ui_password_url = SIGN_IN_PATH
