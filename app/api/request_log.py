"""One log line per request, and its request id.

``X-Request-ID`` is taken from the client when it is a sane token (so that a proxy's or a
client's id follows the request through), else made here, and returned on the response. The
line holds the time, the id, the method, the route (its template, never the raw path with ids
in it), the status, the latency, and for questions the unit, the reader and whether it
answered; never a key, a header or a body. ``TROLY_LOG_FORMAT=json`` writes each line as one
JSON object (python-json-logger), ``text`` as a readable line.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pythonjsonlogger.json import JsonFormatter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.service.request_notes import open_notes

log = logging.getLogger("troly.request")

_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# The fields a request line carries, in this order in the text format.
FIELDS = ("request_id", "method", "route", "status", "latency_ms", "unit", "reader", "answered")


def request_id_of(scope: Scope) -> str:
    for name, value in scope.get("headers") or []:
        if name == b"x-request-id":
            given = str(value.decode("latin-1")).strip()
            if _SANE_ID.match(given):
                return given
    return uuid.uuid4().hex


def route_of(scope: Scope) -> str:
    """The matched route's template (``/v1/units/{unit}/documents``); unmatched paths as one label."""
    path = getattr(scope.get("route"), "path", None)
    return str(path) if isinstance(path, str) else "(unmatched)"


class RequestLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        notes = open_notes(request_id_of(scope))
        status = 500  # unless a response starts: an error that escapes every handler

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", notes.request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            fields: dict[str, Any] = {
                "request_id": notes.request_id,
                "method": scope.get("method"),
                "route": route_of(scope),
                "status": status,
                "latency_ms": round((time.perf_counter() - started) * 1000, 1),
                "unit": notes.unit,
                "reader": notes.reader,
                "answered": notes.answered,
            }
            log.info("%s %s %s", fields["method"], fields["route"], status, extra={"request": fields})


class TextFormatter(logging.Formatter):
    """``time level logger message``, and a request line's fields as ``key=value``."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = getattr(record, "request", None)
        if isinstance(fields, dict):
            line += " " + " ".join(f"{k}={fields[k]}" for k in FIELDS if fields.get(k) is not None)
        return line


class RequestJsonFormatter(JsonFormatter):
    """One JSON object a line: time (ISO 8601, UTC), level, logger, message, and a request line's
    fields at the top level."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - logging's name
        return datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds")

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        super().add_fields(log_data, record, message_dict)
        fields = log_data.pop("request", None)
        if isinstance(fields, dict):
            log_data.update(fields)


def formatter(kind: Literal["json", "text"]) -> logging.Formatter:
    if kind == "json":
        return RequestJsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    return TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


def configure_logging(kind: Literal["json", "text"], level: int = logging.INFO) -> None:
    """The root logger writes every line (troly's, uvicorn's) to stderr in ``kind``'s format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(kind))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):  # theirs through the root's handler, in the same format
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every segment build
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per call to the LLM: the request line says it
    # Its set-up lines at every start; app.store.migrate says which schema upgrade runs, when one does.
    logging.getLogger("alembic").setLevel(logging.WARNING)
