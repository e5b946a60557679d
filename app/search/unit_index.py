"""A unit's two indexes, loaded from the store once and kept in step with every write."""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from app.domain import keys_fingerprint
from app.search.ann import DEFAULT_EXACT_BELOW, IVFIndex, build_vector_index
from app.search.fusion import Fused, reciprocal_rank_fusion
from app.search.lexical import Bm25Index
from app.search.rwlock import ReadWriteLock
from app.search.vector import FlatIPIndex, Keys, Scores, VectorIndex
from app.stopwatch import NO_WATCH, Stopwatch
from app.store.base import IndexRows

Ranked = tuple[Keys, Scores]
EMPTY: Ranked = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))

_FORMAT = 2  # 2: BM25 tokens kept as one string per passage
_MANIFEST = "manifest.json"


def merge_ranked(lists: Sequence[Ranked], depth: int) -> Ranked:
    """Several units' ranked lists as one, by score (cosines compare across units; BM25 roughly does)."""
    if len(lists) == 1:
        return lists[0]
    keys = np.concatenate([k for k, _ in lists]) if lists else EMPTY[0]
    scores = np.concatenate([s for _, s in lists]) if lists else EMPTY[1]
    order = np.lexsort((keys, -scores))[:depth]
    return keys[order], scores[order]


class UnitIndex:
    """Both indexes change together: a search sees a document in both or in neither."""

    def __init__(self, dim: int, vectors: VectorIndex | None = None, lexical: Bm25Index | None = None) -> None:
        self.vectors: VectorIndex = vectors if vectors is not None else FlatIPIndex(dim)
        self.lexical = lexical if lexical is not None else Bm25Index()
        self._lock = ReadWriteLock()

    @classmethod
    def from_rows(cls, dim: int, rows: IndexRows, exact_below: int = DEFAULT_EXACT_BELOW) -> UnitIndex:
        """Built from stored vectors (never re-embedded); approximate search from ``exact_below`` passages."""
        vectors = build_vector_index(dim, rows.vectors.reshape(-1, dim), rows.keys, exact_below=exact_below)
        lexical = Bm25Index()
        lexical.add(rows.keys, rows.tokens)
        return cls(dim, vectors, lexical)

    def add(self, keys: Keys, tokens: Sequence[Sequence[str]], vectors: npt.NDArray[np.float32]) -> None:
        with self._lock.writing():
            self.vectors.add(keys, vectors)
            self.lexical.add(keys, tokens)

    def remove(self, keys: Keys) -> None:
        with self._lock.writing():
            self.vectors.remove(keys)
            self.lexical.remove(keys)

    def replace(self, old: Keys, keys: Keys, tokens: Sequence[Sequence[str]], vectors: npt.NDArray[np.float32]) -> None:
        with self._lock.writing():
            self.vectors.remove(old)
            self.lexical.remove(old)
            self.vectors.add(keys, vectors)
            self.lexical.add(keys, tokens)

    def candidates(
        self,
        vector: npt.NDArray[np.float32],
        tokens: Sequence[str],
        depth: int,
        mode: str = "hybrid",
        watch: Stopwatch = NO_WATCH,
    ) -> tuple[Ranked, Ranked]:
        """Each retriever's own ranked list, read from one consistent state of both indexes."""
        with self._lock.reading():
            with watch.lap("faiss"):
                dense = self.vectors.search(vector, depth) if mode != "lexical" else EMPTY
            with watch.lap("bm25"):
                lexical = self.lexical.search(tokens, depth) if mode != "dense" else EMPTY
        return dense, lexical

    def search(
        self, vector: npt.NDArray[np.float32], tokens: Sequence[str], depth: int, rrf_k: int, mode: str = "hybrid"
    ) -> list[Fused]:
        return reciprocal_rank_fusion(*self.candidates(vector, tokens, depth, mode), k=rrf_k)

    @property
    def approximate(self) -> bool:
        return isinstance(self.vectors, IVFIndex)

    def __len__(self) -> int:
        return len(self.vectors)

    # -- snapshots: a restart reads the built indexes instead of rebuilding them from the store ----
    def fingerprint(self) -> str:
        keys = self.lexical.keys()
        return keys_fingerprint(len(keys), int(keys.max(initial=0)), int(keys.sum()))

    def save(self, folder: Path, embedder: str) -> None:
        """Writes both indexes and, last, a manifest naming the passages they hold.

        The fingerprint comes from the index itself, not from the store: a document stored but not
        yet indexed when the snapshot is taken makes it stale, and stale snapshots are never loaded.
        """
        # Per process and thread: another process over the same data directory may be saving too.
        partial = folder.with_name(f"{folder.name}.partial-{os.getpid()}-{threading.get_ident()}")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        with self._lock.reading():
            self.vectors.save(partial / "vectors.faiss")
            self.lexical.save(partial / "bm25")
            manifest = {
                "format": _FORMAT,
                "embedder": embedder,
                "fingerprint": self.fingerprint(),
                "approximate": self.approximate,
            }
        (partial / _MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
        # Not atomic across the two steps; a crash between them leaves no snapshot, i.e. a rebuild.
        shutil.rmtree(folder, ignore_errors=True)
        try:
            partial.rename(folder)
        except OSError:  # another saver got there in between: its snapshot stands, or none does
            shutil.rmtree(partial, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path, dim: int, embedder: str, fingerprint: str) -> UnitIndex | None:
        """The saved indexes when they hold exactly the stored passages; None when missing or stale."""
        manifest = _read_manifest(folder, embedder)
        if manifest is None or manifest.get("fingerprint") != fingerprint:
            return None
        try:
            vectors: VectorIndex
            if manifest.get("approximate"):
                vectors = IVFIndex.load(folder / "vectors.faiss")
            else:
                vectors = FlatIPIndex.load(folder / "vectors.faiss")
            lexical = Bm25Index.load(folder / "bm25")
        except Exception:  # a damaged snapshot is only a lost shortcut: rebuild from the store
            return None
        index = cls(dim, vectors, lexical)
        if len(vectors) != len(lexical) or index.fingerprint() != fingerprint:
            return None
        return index


def _read_manifest(folder: Path, embedder: str) -> dict[str, object] | None:
    try:
        manifest = json.loads((folder / _MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT or manifest.get("embedder") != embedder:
        return None
    return manifest


def snapshot_fingerprint(folder: Path, embedder: str) -> str | None:
    """Which passages the snapshot in ``folder`` holds, as its manifest says (``UnitIndex.fingerprint``);
    None when there is no readable snapshot of this format for this embedder. Reads the manifest only:
    ``UnitIndex.load`` still checks the indexes themselves."""
    manifest = _read_manifest(folder, embedder)
    fingerprint = manifest.get("fingerprint") if manifest is not None else None
    return fingerprint if isinstance(fingerprint, str) else None
