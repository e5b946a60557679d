"""Text embedders behind one protocol; the backend is chosen in settings."""

from app.embedding.base import Embedder
from app.embedding.factory import create_embedder

__all__ = ["Embedder", "create_embedder"]
