"""The web pages: ask, maintain documents, dashboard. Server-rendered, every asset served locally."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.web.router import STATIC_DIR, router

__all__ = ["STATIC_DIR", "install", "router"]


def install(app: FastAPI) -> None:
    """The pages and their static files (CSS, JS, icon) under ``/static``."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
