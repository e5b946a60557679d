"""The store remembers which embedder filled it; the embedded backend's snapshot folder is named here
too, for the backup (``app.service.backup``), which copies the snapshots with the store."""

from __future__ import annotations

from app.embedding.base import Embedder
from app.errors import EmbedderMismatch
from app.search.embedded import SNAPSHOTS_FOLDER
from app.store.base import DocumentStore

__all__ = ["SNAPSHOTS_FOLDER", "check_embedder"]


def check_embedder(store: DocumentStore, embedder: Embedder) -> None:
    """A store remembers the embedder that filled it: vectors of another one would answer nonsense."""
    stored = store.get_meta("embedder")
    if stored is None:
        store.set_meta("embedder", embedder.name)
        store.set_meta("dim", str(embedder.dim))
    elif stored != embedder.name:
        raise EmbedderMismatch(
            f"the index in this data directory was built with {stored!r}, but the configured embedder is "
            f"{embedder.name!r}; use another TROLY_DATA_DIR or configure the same embedder"
        )
