"""The one place a search backend is chosen, from the settings (``TROLY_SEARCH_BACKEND``).

``app.wiring`` opens it for the entry points; a knowledge base built without one (tests, the
benchmark) opens it here too, so that the settings decide in both cases.
"""

from __future__ import annotations

from app.embedding.base import Embedder
from app.errors import SearchMisconfigured
from app.search.backend import SearchBackend
from app.search.embedded import SNAPSHOTS_FOLDER, EmbeddedSearch
from app.settings import Settings
from app.store.base import DocumentStore


def check_search_settings(settings: Settings) -> None:
    """Refuses settings that name a backend without what it needs, before anything loads."""
    if settings.search_backend == "milvus" and not settings.milvus_uri:
        raise SearchMisconfigured(
            "TROLY_SEARCH_BACKEND=milvus needs TROLY_MILVUS_URI, the Milvus server's address "
            "(e.g. http://milvus:19530; docs/deploy.md, Search backends)"
        )


def open_search(settings: Settings, store: DocumentStore, embedder: Embedder) -> SearchBackend:
    """The configured backend, holding exactly the store's passages: the embedded one reads its snapshots
    or rebuilds from the store; Milvus's collection is created if missing, then synced with the store."""
    check_search_settings(settings)
    if settings.search_backend == "embedded":
        folder = settings.data_dir / SNAPSHOTS_FOLDER
        return EmbeddedSearch(store, embedder.dim, embedder.name, folder, exact_below=settings.exact_search_below)
    assert settings.milvus_uri is not None  # checked above
    from app.search.milvus import MilvusSearch

    token = settings.milvus_token.get_secret_value() if settings.milvus_token is not None else None
    search = MilvusSearch.open(
        settings.milvus_uri,
        token,
        settings.milvus_collection,
        embedder.dim,
        embedder.name,
        stats=store,
    )
    try:
        search.sync(store)
    except BaseException:
        search.close()
        raise
    return search
