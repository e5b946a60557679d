"""Dense vector indexes behind one protocol; FAISS exact inner product is the default."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

import faiss
import numpy as np
import numpy.typing as npt

Keys = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float32]


class VectorIndex(Protocol):
    def add(self, keys: Keys, vectors: npt.NDArray[np.float32]) -> None: ...

    def remove(self, keys: Keys) -> None: ...

    def search(self, vector: npt.NDArray[np.float32], k: int) -> tuple[Keys, Scores]:
        """Best first; at most ``k`` results."""
        ...

    def __len__(self) -> int: ...

    def save(self, path: Path) -> None: ...


class FlatIPIndex:
    """Exact search by inner product on normalised vectors (cosine), with removable ids."""

    def __init__(self, dim: int) -> None:
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        # FAISS indexes are not safe to mutate while another thread searches them.
        self._lock = threading.Lock()

    def add(self, keys: Keys, vectors: npt.NDArray[np.float32]) -> None:
        if len(keys) == 0:
            return
        with self._lock:
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), keys.astype(np.int64))

    def remove(self, keys: Keys) -> None:
        if len(keys) == 0:
            return
        with self._lock:
            self._index.remove_ids(faiss.IDSelectorBatch(np.asarray(keys, dtype=np.int64)))

    def search(self, vector: npt.NDArray[np.float32], k: int) -> tuple[Keys, Scores]:
        with self._lock:
            n = self._index.ntotal
            if n == 0:
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
            scores, keys = self._index.search(vector.reshape(1, -1).astype(np.float32), min(k, n))
        found = keys[0] >= 0
        return keys[0][found], scores[0][found]

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def save(self, path: Path) -> None:
        with self._lock:
            faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path) -> FlatIPIndex:
        index = faiss.read_index(str(path))
        if not isinstance(index, faiss.IndexIDMap2):
            raise ValueError(f"{path} does not hold an exact index with ids")
        flat = cls(index.d)
        flat._index = index
        return flat
