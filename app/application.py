"""The FastAPI application factory: the JSON API and the pages over one set of services.

Models and indexes load once, in the lifespan.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import __version__, api, web
from app.api.metrics import instrument
from app.assistant import Assistant
from app.service.metrics import metrics_from_environment
from app.settings import Settings
from app.wiring import open_services


def create_app(settings: Settings | None = None, assistant: Assistant | None = None) -> FastAPI:
    """``assistant`` may be given (tests, embedding in another program; the caller closes it); otherwise
    it opens at start, taking the data directory's lock (a second process is refused), and closes at the stop."""
    settings = settings or Settings()
    # Its own registry: apps made in one process count apart (multiprocess mode: docs/operations.md).
    metrics = metrics_from_environment()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = open_services(settings, assistant, metrics)
        metrics.watch(services.assistant)
        app.state.assistant = services.assistant
        app.state.services = services
        yield
        services.close()
        try:
            # A clean stop leaves fresh snapshots; after a crash the next start rebuilds from the store.
            services.assistant.save_indexes()
        finally:
            if assistant is None:  # opened by this app: its data directory's lock goes with it
                services.assistant.close()

    app = FastAPI(
        title="troly",
        summary="Trợ lý ảo: answers from a unit's own knowledge base, with citations",
        version=__version__,
        lifespan=lifespan,
    )
    app.state.settings = settings
    # What GET /v1/models gives as every model's "created" (units keep no creation time).
    app.state.started_at = int(time.time())
    api.install(app, settings)
    instrument(app, metrics)  # GET /metrics; its middleware outermost, so that it counts every request
    web.install(app)  # the pages (/, /quan-tri, /dashboard) and /static
    return app
