"""The operator's console, served at /ui: static ES modules, no build step, no CDN.

The page is a client of the same API as every other client: it sends X-Auth-Token (tokens
or keystone mode) and sees what the API shows that caller. /ui/config.json tells it how to
sign in (the server's auth mode); static files need no identity, data always does.
"""
from __future__ import annotations

from pathlib import Path

from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


def install(app) -> None:
    settings = app.state.settings

    def config(_request):
        # The sign-in hook: "token" forms send what they get as X-Auth-Token; a "password"
        # form (keystone mode) posts {"user", "password", "project"} to `password_url` and
        # gets {"token"} back. The keystone mode sets app.state.ui_password_url to its route.
        return JSONResponse({"auth": settings.auth,
                             "sign_in": {"noauth": "none", "tokens": "token"}.get(
                                 settings.auth, "password"),
                             "password_url": getattr(app.state, "ui_password_url", None)})

    app.add_route("/ui/config.json", config, methods=["GET"], include_in_schema=False)
    app.add_route("/ui", lambda _r: RedirectResponse("/ui/"), methods=["GET"],
                  include_in_schema=False)
    app.mount("/ui", StaticFiles(directory=STATIC, html=True), name="ui")
