"""Every unit's search indexes: read from a snapshot when it holds exactly the stored passages,
otherwise rebuilt from the stored vectors (never re-embedded), and snapshotted again."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

from app.embedding.base import Embedder
from app.errors import EmbedderMismatch
from app.search.unit_index import UnitIndex
from app.store.base import DocumentStore

log = logging.getLogger(__name__)

# Each unit's snapshot is a folder of this one, in the data directory, named by the unit's id.
SNAPSHOTS_FOLDER = "indexes"


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


class UnitIndexes:
    """One ``UnitIndex`` per unit, opened at start. Callers serialise writes (the knowledge base's lock)."""

    def __init__(self, store: DocumentStore, embedder: Embedder, folder: Path, exact_below: int) -> None:
        self._store = store
        self._embedder = embedder
        self._folder = folder
        self._exact_below = exact_below
        self._indexes: dict[str, UnitIndex] = {unit.id: self._open(unit.id) for unit in store.list_units()}

    def __getitem__(self, unit_id: str) -> UnitIndex:
        return self._indexes[unit_id]

    def __contains__(self, unit_id: str) -> bool:
        return unit_id in self._indexes

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._indexes))

    def passage_count(self) -> int:
        return sum(len(index) for index in self._indexes.values())

    def create(self, unit_id: str) -> UnitIndex:
        index = self._indexes[unit_id] = UnitIndex(self._embedder.dim)
        return index

    def save(self) -> None:
        """Snapshots every unit's indexes, so that the next start reads them instead of rebuilding."""
        for unit_id, index in self._indexes.items():
            self._save(unit_id, index)

    def _snapshot_dir(self, unit_id: str) -> Path:
        return self._folder / unit_id

    def _open(self, unit_id: str) -> UnitIndex:
        started = time.perf_counter()
        expected = self._store.unit_fingerprint(unit_id)
        index = UnitIndex.load(self._snapshot_dir(unit_id), self._embedder.dim, self._embedder.name, expected)
        if index is not None:
            log.info("unit %s: %d passages, indexes read in %.2f s", unit_id, len(index), time.perf_counter() - started)
            return index
        # Missing, stale (a crash after a write) or damaged: rebuild from the stored vectors, never re-embed.
        index = UnitIndex.from_rows(self._embedder.dim, self._store.index_rows(unit_id), exact_below=self._exact_below)
        self._save(unit_id, index)
        log.info(
            "unit %s: %d passages, indexes rebuilt from the store in %.2f s%s",
            unit_id,
            len(index),
            time.perf_counter() - started,
            " (approximate search)" if index.approximate else "",
        )
        return index

    def _save(self, unit_id: str, index: UnitIndex) -> None:
        try:
            index.save(self._snapshot_dir(unit_id), self._embedder.name)
        except OSError as exc:  # a snapshot is a shortcut for the next start, never a reason to fail
            log.warning("unit %s: index snapshot not saved (%s); the next start rebuilds it", unit_id, exc)
