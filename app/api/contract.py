"""What the OpenAPI document promises beyond the bodies' shapes: every error status a route can
answer, with its body, and the limits that come from the settings.

Each route lists exactly the statuses it can answer (``errors(...)``), so that a client generator
or a validator (schemathesis, run by ``tests/integration/test_contract.py``) can trust the
document. Limits set by the operator (``TROLY_MAX_QUESTION_CHARS``, ``TROLY_MAX_TOP_K``) are
written into the served document from the running service's settings (``publish_limits``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from app.api.openai_schemas import OpenAIErrorBody
from app.api.schemas import SETTING_KEY, ErrorBody
from app.settings import Settings

Responses = dict[int | str, dict[str, Any]]

# Why a route answers each status, unless the route says more precisely.
WHY: dict[int, str] = {
    400: "the request body could not be read: not UTF-8 JSON, or a broken multipart form",
    401: "a key is needed and none was sent, the Authorization header is not 'Bearer <key>', "
    "or the key is unknown or revoked",
    403: "the key's role or units do not allow this",
    404: "not found: the message names what",
    409: "conflicts with what is stored: the message says what",
    413: "the request body is over TROLY_MAX_UPLOAD_BYTES",
    415: "neither application/json nor multipart/form-data, or a file type troly cannot read",
    422: "invalid input: the message names the field and the rule",
    429: "too many requests from this key (or address, without a key): wait Retry-After seconds",
    503: "not ready: the message says what is missing",
}
# OpenAI's API answers every invalid request with 400 (app.api.errors maps troly's 422 to it).
OPENAI_WHY: dict[int, str] = {
    **WHY,
    400: "invalid request (OpenAI's invalid_request_error): the message and param name the field",
    404: "no such model (model_not_found): GET /v1/models lists them",
}

_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "Bearer", "required": True, "schema": {"type": "string"}}},
    429: {
        "Retry-After": {
            "description": "seconds until the request may be sent again",
            "required": True,
            "schema": {"type": "integer", "minimum": 1},
        }
    },
}


def _event(name: str, data: dict[str, Any]) -> dict[str, Any]:
    """One server-sent event as schemathesis and OpenAPI (before 3.2's itemSchema) read a stream's
    schema: its ``event`` and its ``data``, a JSON text whose schema is ``contentSchema``."""
    return {
        "type": "object",
        "required": ["event", "data"],
        "properties": {
            "event": {"const": name},
            "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": data},
        },
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


# POST /v1/ask with stream=true (app.api.streaming): citations, delta pieces, then done or error.
ASK_EVENT: dict[str, Any] = {
    "oneOf": [
        _event("citations", {"type": "array", "items": _ref("CitationOut")}),
        _event(
            "delta",
            {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}},
        ),
        _event("done", _ref("AskOut")),
        _event("error", _ref("ErrorBody")),
    ]
}
# POST /v1/chat/completions with stream=true: data-only events, as OpenAI sends them.
CHAT_EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "event": {"const": "message", "description": "no event line: an SSE event's default type"},
        "data": {
            "type": "string",
            "description": "a chat.completion.chunk, an error body (OpenAI's shape) once streaming, or [DONE] last",
        },
    },
}


def errors(*codes: int, openai: bool = False, why: dict[int, str] | None = None) -> Responses:
    """``responses=`` for a route that can answer these error statuses, each with the error body:
    troly's ``{"error": {"code", "message"}}``, or with ``openai`` OpenAI's shape."""
    reasons = {**(OPENAI_WHY if openai else WHY), **(why or {})}
    model = OpenAIErrorBody if openai else ErrorBody
    declared: Responses = {}
    for code in codes:
        declared[code] = {"model": model, "description": reasons[code]}
        if code in _HEADERS:
            declared[code]["headers"] = _HEADERS[code]
    return declared


def _fill_limits(node: object, settings: Settings) -> None:
    """Every ``{SETTING_KEY: {keyword: setting}}`` in the document becomes ``keyword: <its value>``."""
    if isinstance(node, dict):
        marks = node.pop(SETTING_KEY, None)
        if isinstance(marks, dict):
            for keyword, setting in marks.items():
                node[keyword] = getattr(settings, setting)
        for value in node.values():
            _fill_limits(value, settings)
    elif isinstance(node, list):
        for value in node:
            _fill_limits(value, settings)


def _drop_unanswered_422(document: dict[str, Any]) -> None:
    """FastAPI declares a 422 with its own body on every route with a parameter that does not
    declare one; troly never sends that body (app.api.errors reshapes every validation error),
    and a route whose parameters are all plain strings never answers 422 at all."""
    fastapi_body = "#/components/schemas/HTTPValidationError"
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            declared = responses.get("422", {}).get("content", {}).get("application/json", {}).get("schema", {})
            if declared.get("$ref") == fastapi_body:
                del responses["422"]
    schemas = document.get("components", {}).get("schemas", {})
    if fastapi_body.rsplit("/", 1)[1] in schemas and fastapi_body not in json.dumps(document):
        schemas.pop("HTTPValidationError")
        schemas.pop("ValidationError", None)


def publish_limits(app: FastAPI, settings: Settings) -> None:
    """The served OpenAPI document carries this service's limits, not the defaults, and no error
    status its routes cannot answer."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            _fill_limits(document, settings)
            _drop_unanswered_422(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
