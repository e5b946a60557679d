"""The JSON API: a thin translation between JSON and the core (``app.assistant``).

A sibling of the pages (``app.web``): both read the service through ``app.service.deps``;
``app.application`` puts them together.
"""

from __future__ import annotations

from fastapi import FastAPI

from app.api import documents, errors, evaluations, openai_compat
from app.api.contract import publish_limits
from app.api.limits import BodySizeLimit
from app.api.live_traffic import CountLiveQuestions
from app.api.rate_limits import RateLimits
from app.api.request_log import RequestLog
from app.api.routes import router
from app.settings import Settings

__all__ = ["install"]


def install(app: FastAPI, settings: Settings) -> None:
    """The routes under ``/v1`` and ``/healthz`` (troly's own and the OpenAI-compatible ones), the one
    error → status mapping, the body size limit, the rate limits and the request log."""
    errors.install(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_upload_bytes)
    app.add_middleware(CountLiveQuestions)  # what evaluations step aside for (app.service.evaluation_jobs)
    # Added last, so it runs first: a request over its limit is refused before its body is read.
    app.add_middleware(
        RateLimits,
        ask=settings.ask_rate_limit,
        write=settings.write_rate_limit,
        storage=settings.rate_limit_storage,
    )
    app.add_middleware(RequestLog)  # outside the limits: a refused request is logged too
    app.include_router(router)
    app.include_router(documents.router)
    app.include_router(openai_compat.router)
    app.include_router(evaluations.router)
    publish_limits(app, settings)
