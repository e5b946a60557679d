"""Counting the live questions being answered (``app.service.live_traffic``), for the evaluations
that step aside for them. Pure ASGI middleware: a streamed answer counts until its last event."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.rate_limits import ASK_PATHS
from app.service.services import Services


class CountLiveQuestions:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        services: Services | None = None
        if scope["type"] == "http" and scope.get("method") == "POST" and scope.get("path") in ASK_PATHS:
            # Opened in the lifespan: absent only for a request that comes before the start finished.
            services = getattr(scope["app"].state, "services", None)
        if services is None:
            await self.app(scope, receive, send)
            return
        with services.traffic.answering():
            await self.app(scope, receive, send)
