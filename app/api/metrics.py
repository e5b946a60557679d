"""``GET /metrics`` (Prometheus' text format) and the middleware that counts and times every request.

What is counted and how several workers add up: ``app.service.metrics``.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, FastAPI, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.service.deps import ServicesDep
from app.service.metrics import UNMATCHED, Metrics

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
def metrics(services: ServicesDep) -> Response:
    """Not in the OpenAPI document: a text endpoint for Prometheus, not part of the JSON API."""
    body, content_type = services.metrics.exposition()
    return Response(body, media_type=content_type)


def route_of(scope: Scope) -> str:
    """The template of the route that handled the request (``/v1/units/{unit}/documents``), never
    the path itself: one label per route, however many units and documents there are."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


class RequestMetrics:
    """Pure ASGI middleware: every HTTP request's route template, status and time to its last byte."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless a response starts: an exception that escapes is a 500
        observed = False

        def observe() -> None:
            nonlocal observed
            observed = True
            # The router has written the matched route into this very scope.
            self.metrics.observe_request(scope["method"], route_of(scope), status, time.perf_counter() - started)

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif not observed and _last(message):
                # Counted before the last byte goes out: a client that has its response sees it counted.
                observe()
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            if not observed:  # no complete response: an error, or the client went away
                observe()


def _last(message: Message) -> bool:
    kind = message["type"]
    return kind == "http.response.pathsend" or (kind == "http.response.body" and not message.get("more_body", False))


def instrument(app: FastAPI, metrics: Metrics) -> None:
    """``GET /metrics`` and the request metrics; call it after the other middleware is added, so
    that this one is outermost and counts their refusals (413, 429) too."""
    app.include_router(router)
    app.add_middleware(RequestMetrics, metrics=metrics)
