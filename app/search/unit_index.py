"""A unit's two indexes, loaded from the store once and kept in step with every write."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from app.search.fusion import Fused, reciprocal_rank_fusion
from app.search.lexical import Bm25Index
from app.search.rwlock import ReadWriteLock
from app.search.vector import FlatIPIndex, Keys, Scores
from app.store.base import IndexRows

Ranked = tuple[Keys, Scores]
EMPTY: Ranked = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))


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

    def __init__(self, dim: int) -> None:
        self.vectors = FlatIPIndex(dim)
        self.lexical = Bm25Index()
        self._lock = ReadWriteLock()

    @classmethod
    def from_rows(cls, dim: int, rows: IndexRows) -> UnitIndex:
        index = cls(dim)
        index.add(rows.keys, rows.tokens, rows.vectors)
        return index

    def add(self, keys: Keys, tokens: Sequence[Sequence[str]], vectors: npt.NDArray[np.float32]) -> None:
        with self._lock.writing():
            self.vectors.add(keys, vectors)
            self.lexical.add(keys, tokens)

    def remove(self, keys: Keys) -> None:
        with self._lock.writing():
            self.vectors.remove(keys)
            self.lexical.remove(keys)

    def replace(
        self, old: Keys, keys: Keys, tokens: Sequence[Sequence[str]], vectors: npt.NDArray[np.float32]
    ) -> None:
        with self._lock.writing():
            self.vectors.remove(old)
            self.lexical.remove(old)
            self.vectors.add(keys, vectors)
            self.lexical.add(keys, tokens)

    def candidates(
        self, vector: npt.NDArray[np.float32], tokens: Sequence[str], depth: int, mode: str = "hybrid"
    ) -> tuple[Ranked, Ranked]:
        """Each retriever's own ranked list, read from one consistent state of both indexes."""
        with self._lock.reading():
            dense = self.vectors.search(vector, depth) if mode != "lexical" else EMPTY
            lexical = self.lexical.search(tokens, depth) if mode != "dense" else EMPTY
        return dense, lexical

    def search(
        self, vector: npt.NDArray[np.float32], tokens: Sequence[str], depth: int, rrf_k: int, mode: str = "hybrid"
    ) -> list[Fused]:
        return reciprocal_rank_fusion(*self.candidates(vector, tokens, depth, mode), k=rrf_k)

    def __len__(self) -> int:
        return len(self.vectors)
