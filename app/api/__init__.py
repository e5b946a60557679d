"""The JSON API: a thin translation between JSON and the core (``app.assistant``).

A sibling of the pages (``app.web``): both read the service through ``app.service.deps``;
``app.application`` puts them together.
"""

from __future__ import annotations

from fastapi import FastAPI

from app.api import documents, errors, openai_compat
from app.api.limits import BodySizeLimit
from app.api.routes import ERROR_RESPONSES, router
from app.settings import Settings

__all__ = ["install"]


def install(app: FastAPI, settings: Settings) -> None:
    """The routes under ``/v1`` and ``/healthz`` (troly's own and the OpenAI-compatible ones), the one
    error → status mapping and the body size limit."""
    errors.install(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_upload_bytes)
    app.include_router(router)
    app.include_router(documents.router, responses=ERROR_RESPONSES)
    app.include_router(openai_compat.router)
