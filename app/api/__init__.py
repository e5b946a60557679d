"""The HTTP edge: a thin translation between JSON and the core (app.assistant)."""

from app.api.application import create_app

__all__ = ["create_app"]
