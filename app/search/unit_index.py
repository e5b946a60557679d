"""A unit's two indexes, loaded from the store once and kept in step with every write."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from app.search.fusion import Fused, reciprocal_rank_fusion
from app.search.lexical import Bm25Index
from app.search.rwlock import ReadWriteLock
from app.search.vector import FlatIPIndex, Keys
from app.store.base import IndexRows


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

    def search(
        self, vector: npt.NDArray[np.float32], tokens: Sequence[str], depth: int, rrf_k: int, mode: str = "hybrid"
    ) -> list[Fused]:
        empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
        with self._lock.reading():
            dense = self.vectors.search(vector, depth) if mode != "lexical" else empty
            lexical = self.lexical.search(tokens, depth) if mode != "dense" else empty
        return reciprocal_rank_fusion(dense, lexical, k=rrf_k)

    def __len__(self) -> int:
        return len(self.vectors)
