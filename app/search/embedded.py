"""The embedded search backend: every unit's indexes (FAISS + bm25s) in this process.

Each unit's indexes are read from a snapshot when it holds exactly the stored passages,
otherwise rebuilt from the stored vectors (never re-embedded), and snapshotted again. Only one
process may serve a data directory with it: another process's writes would never reach these
indexes (``TROLY_SEARCH_BACKEND=milvus`` is the backend that replicas share).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from app.search.backend import Idf, Mode
from app.search.lexical import bm25_idf
from app.search.unit_index import Ranked, UnitIndex, merge_ranked
from app.search.vector import Keys
from app.stopwatch import NO_WATCH, Stopwatch
from app.store.base import DocumentStore

log = logging.getLogger(__name__)

# Each unit's snapshot is a folder of this one, in the data directory, named by the unit's id.
SNAPSHOTS_FOLDER = "indexes"


class EmbeddedSearch:
    """One ``UnitIndex`` per unit, opened at start. Callers serialise writes (the knowledge base's lock)."""

    def __init__(self, store: DocumentStore, dim: int, embedder: str, folder: Path, exact_below: int) -> None:
        self._store = store
        self._dim = dim
        self._embedder = embedder
        self._folder = folder
        self._exact_below = exact_below
        self._indexes: dict[str, UnitIndex] = {unit.id: self._open(unit.id) for unit in store.list_units()}

    def index(self, unit: str) -> UnitIndex:
        """A unit's indexes as they stand (diagnosis, the benchmark and tests)."""
        return self._indexes[unit]

    def units(self) -> list[str]:
        return list(self._indexes)

    def passage_count(self, units: Iterable[str] | None = None) -> int:
        chosen = self._indexes if units is None else [u for u in units if u in self._indexes]
        return sum(len(self._indexes[u]) for u in chosen)

    # -- writes ----------------------------------------------------------------------------
    def create_unit(self, unit: str) -> None:
        self._indexes[unit] = UnitIndex(self._dim)

    def add(self, unit: str, keys: Keys, tokens: Sequence[Sequence[str]], vectors: npt.NDArray[np.float32]) -> None:
        self._indexes[unit].add(keys, tokens, vectors)

    def replace(
        self,
        unit: str,
        old_keys: Keys,
        new_keys: Keys,
        tokens: Sequence[Sequence[str]],
        vectors: npt.NDArray[np.float32],
    ) -> None:
        self._indexes[unit].replace(old_keys, new_keys, tokens, vectors)

    def remove(self, unit: str, keys: Keys) -> None:
        self._indexes[unit].remove(keys)

    # -- reads -----------------------------------------------------------------------------
    def candidates(
        self,
        units: Sequence[str],
        vector: npt.NDArray[np.float32],
        tokens: Sequence[str],
        depth: int,
        mode: Mode = "hybrid",
        watch: Stopwatch = NO_WATCH,
    ) -> tuple[Ranked, Ranked]:
        ranked = [self._indexes[u].candidates(vector, tokens, depth, mode, watch) for u in units if u in self._indexes]
        # One list over all units, so that units compete on relevance, not on rank within a unit.
        with watch.lap("fusion"):
            return merge_ranked([d for d, _ in ranked], depth), merge_ranked([lx for _, lx in ranked], depth)

    def idf(self, units: Iterable[str]) -> Idf:
        """Units not loaded count for nothing."""
        indexes = [self._indexes[u].lexical for u in units if u in self._indexes]
        n = sum(len(i) for i in indexes)

        def idf(token: str) -> float:
            return bm25_idf(sum(i.document_frequency(token) for i in indexes), n)

        return idf

    def stale_units(self, store: DocumentStore) -> list[str]:
        """None normally: every write updates the store and then these indexes under one lock."""
        return [
            unit.id
            for unit in store.list_units()
            if unit.id not in self._indexes or self._indexes[unit.id].fingerprint() != store.unit_fingerprint(unit.id)
        ]

    def repair(self, store: DocumentStore) -> list[str]:
        """Rebuilds the stale units' indexes from the store (none normally: see ``stale_units``)."""
        stale = self.stale_units(store)
        for unit in stale:
            self._indexes[unit] = UnitIndex.from_rows(self._dim, store.index_rows(unit), exact_below=self._exact_below)
        return stale

    # -- snapshots -------------------------------------------------------------------------
    def save(self) -> None:
        """Snapshots every unit's indexes, so that the next start reads them instead of rebuilding."""
        for unit, index in self._indexes.items():
            self._save(unit, index)

    def close(self) -> None:
        """Nothing is held open: the snapshots are written by ``save``."""

    def _snapshot_dir(self, unit: str) -> Path:
        return self._folder / unit

    def _open(self, unit: str) -> UnitIndex:
        started = time.perf_counter()
        expected = self._store.unit_fingerprint(unit)
        index = UnitIndex.load(self._snapshot_dir(unit), self._dim, self._embedder, expected)
        if index is not None:
            log.info("unit %s: %d passages, indexes read in %.2f s", unit, len(index), time.perf_counter() - started)
            return index
        # Missing, stale (a crash after a write) or damaged: rebuild from the stored vectors, never re-embed.
        index = UnitIndex.from_rows(self._dim, self._store.index_rows(unit), exact_below=self._exact_below)
        self._save(unit, index)
        log.info(
            "unit %s: %d passages, indexes rebuilt from the store in %.2f s%s",
            unit,
            len(index),
            time.perf_counter() - started,
            " (approximate search)" if index.approximate else "",
        )
        return index

    def _save(self, unit: str, index: UnitIndex) -> None:
        try:
            index.save(self._snapshot_dir(unit), self._embedder)
        except OSError as exc:  # a snapshot is a shortcut for the next start, never a reason to fail
            log.warning("unit %s: index snapshot not saved (%s); the next start rebuilds it", unit, exc)
