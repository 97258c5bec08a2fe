"""Neutron's error bodies and status codes; no client input ever yields a 500."""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from netqos.qos import errors

LOG = logging.getLogger(__name__)

# Most specific first: the first category an error belongs to decides its status.
STATUS = (
    (errors.PreconditionFailed, 412),
    (errors.BadRequest, 400),
    (errors.NotAuthenticated, 401),
    (errors.NotAuthorized, 403),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.ServiceUnavailable, 503),
)
HTTP_TYPES = {400: "HTTPBadRequest", 401: "HTTPUnauthorized", 403: "HTTPForbidden",
              404: "HTTPNotFound", 405: "HTTPMethodNotAllowed", 409: "HTTPConflict",
              412: "HTTPPreconditionFailed", 415: "HTTPUnsupportedMediaType"}


def neutron_error(status: int, type_: str, message: str, headers=None) -> JSONResponse:
    return JSONResponse({"NeutronError": {"type": type_, "message": message, "detail": ""}},
                        status_code=status, headers=headers)


def status_of(exc: errors.NetqosError) -> int:
    return next((code for cls, code in STATUS if isinstance(exc, cls)), 400)


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.NetqosError)
    async def _domain(_: Request, exc: errors.NetqosError):
        return neutron_error(status_of(exc), exc.type, str(exc),
                             headers=getattr(exc, "headers", None))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException):
        message = {404: "The resource could not be found.",
                   405: "The method is not allowed for this resource."}.get(
            exc.status_code, str(exc.detail))
        return neutron_error(exc.status_code, HTTP_TYPES.get(exc.status_code, "HTTPError"),
                             message, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return neutron_error(400, "HTTPBadRequest", f"Invalid input for {where}: "
                             f"{first.get('msg', 'invalid value')}.")

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception):
        LOG.exception("internal error on %s %s", request.method, request.url.path)
        return neutron_error(500, "HTTPInternalServerError",
                             "Request Failed: internal server error while processing your "
                             "request.")
