"""The FastAPI application factory. Models and indexes load once, in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import __version__, web
from app.api import documents, errors
from app.api.limits import BodySizeLimit
from app.api.routes import ERROR_RESPONSES, router
from app.assistant import Assistant
from app.settings import Settings


def create_app(settings: Settings | None = None, assistant: Assistant | None = None) -> FastAPI:
    """``assistant`` may be given (tests, embedding in another program); otherwise it opens at start."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from app.wiring import open_services

        services = open_services(settings, assistant)
        app.state.assistant = services.assistant
        app.state.services = services
        yield
        # A clean stop leaves fresh snapshots; after a crash the next start rebuilds from the store.
        services.assistant.save_indexes()

    app = FastAPI(
        title="troly",
        summary="Trợ lý ảo: answers from a unit's own knowledge base, with citations",
        version=__version__,
        lifespan=lifespan,
    )
    app.state.settings = settings
    errors.install(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_upload_bytes)
    app.include_router(router)
    app.include_router(documents.router, responses=ERROR_RESPONSES)
    web.install(app)  # the pages (/, /quan-tri, /dashboard) and /static
    return app
