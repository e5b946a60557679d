"""The one place where errors become HTTP responses, always as a JSON error body.

Two shapes: troly's own ``{"error": {"code", "message"}}`` everywhere, and OpenAI's
``{"error": {"message", "type", "param", "code"}}`` on the OpenAI-compatible routes
(``/v1/models``, ``/v1/chat/completions``), so that OpenAI clients raise their typed exceptions.
An error after a stream has started is sent as an event with the same body (``body_of``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app import errors

log = logging.getLogger(__name__)

STATUS: list[tuple[type[errors.TrolyError], int]] = [
    (errors.UnsupportedFormat, 415),
    (errors.DocumentTooLarge, 413),
    (errors.InvalidInput, 422),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.EmbedderMismatch, 409),
    (errors.Unauthorized, 401),
    (errors.Forbidden, 403),
    (errors.RateLimited, 429),
    (errors.NotReady, 503),
    (errors.SearchUnavailable, 503),
    (errors.DatabaseUnavailable, 503),
]

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_format",
    422: "invalid_input",
    429: "rate_limited",
    503: "not_ready",
}

# The routes that answer as the OpenAI API does, errors included.
OPENAI_PREFIXES = ("/v1/models", "/v1/chat/")
# OpenAI answers an invalid request with 400, where troly's own routes say 422.
_OPENAI_STATUS = {422: 400}
# troly's codes that OpenAI clients know under another name.
_OPENAI_CODES = {"unauthorized": "invalid_api_key", "unit_not_found": "model_not_found"}
_OPENAI_TYPES = {401: "authentication_error", 403: "permission_error", 404: "not_found_error", 429: "rate_limit_error"}


def is_openai_path(path: str, root_path: str = "") -> bool:
    """``path`` as the request has it (behind a proxy's ``root_path``, that prefix first)."""
    if root_path and path.startswith(root_path):
        path = path[len(root_path) :]
    return path.startswith(OPENAI_PREFIXES)


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    openai: bool = False,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    status, body = shaped(status, code, message, openai=openai, param=param)
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(body, status_code=status, headers=headers or None)


def shaped(
    status: int, code: str, message: str, *, openai: bool = False, param: str | None = None
) -> tuple[int, dict[str, object]]:
    """The status and body of an error in troly's shape or, with ``openai``, in OpenAI's."""
    if not openai:
        return status, {"error": {"code": code, "message": message}}
    status = _OPENAI_STATUS.get(status, status)
    kind = "server_error" if status >= 500 else _OPENAI_TYPES.get(status, "invalid_request_error")
    if code == "unit_not_found" and param is None:
        param = "model"  # on these routes a unit is only ever named by the model
    return status, {"error": {"message": message, "type": kind, "param": param, "code": _OPENAI_CODES.get(code, code)}}


def status_of(error: errors.TrolyError) -> int:
    return next((status for kind, status in STATUS if isinstance(error, kind)), 400)


def body_of(exc: BaseException, *, openai: bool = False) -> tuple[int, dict[str, object]]:
    """Any exception as (status, error body): a domain error as mapped above, anything else a logged 500."""
    if isinstance(exc, errors.TrolyError):
        return shaped(status_of(exc), exc.code, exc.message, openai=openai)
    log.exception("unhandled error", exc_info=exc)
    return shaped(500, "internal_error", "internal error", openai=openai)


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    """All the problems in one message, and the first offending field (OpenAI's ``param``)."""
    parts = []
    fields = []
    for e in exc.errors():
        where = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
        fields.append(where)
        parts.append(f"{where}: {e.get('msg')}" if where else str(e.get("msg")))
    return "; ".join(parts) or "invalid request", next((f for f in fields if f), None)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")


def allowed_methods(request: Request) -> str:
    """Every method the request's path answers to, for a 405's ``Allow``: the router's own 405 names
    only the methods of the first route that matched the path (GET /v1/keys would hide POST)."""
    routes = request.app.router.routes
    allowed = [
        method
        for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes)
    ]
    return ", ".join(allowed)


def install(app: FastAPI) -> None:
    def openai(request: Request) -> bool:
        return is_openai_path(request.url.path, request.scope.get("root_path", ""))

    @app.exception_handler(errors.TrolyError)
    async def domain_error(request: Request, exc: errors.TrolyError) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, errors.RateLimited) else None
        return error_response(status_of(exc), exc.code, exc.message, openai=openai(request), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, param = _validation_message(exc)
        return error_response(422, "invalid_input", message, openai=openai(request), param=param)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "error")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request)
        return error_response(exc.status_code, code, str(exc.detail), openai=openai(request), headers=headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return error_response(500, "internal_error", "internal error", openai=openai(request))
