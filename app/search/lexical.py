"""BM25 over pyvi tokens (bm25s), rebuilt from stored tokens when a unit's documents change."""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Sequence

import bm25s
import numpy as np
import numpy.typing as npt

from app.search.vector import Keys, Scores


class Bm25Index:
    def __init__(self) -> None:
        self._tokens: dict[int, list[str]] = {}
        self._df: Counter[str] = Counter()
        self._model: bm25s.BM25 | None = None
        self._keys: Keys = np.zeros(0, dtype=np.int64)
        self._lock = threading.Lock()

    def add(self, keys: Keys, tokens: Sequence[Sequence[str]]) -> None:
        with self._lock:
            for key, toks in zip(keys, tokens, strict=True):
                if int(key) in self._tokens:
                    continue
                self._tokens[int(key)] = list(toks)
                self._df.update(set(toks))
            self._rebuild()

    def remove(self, keys: Keys) -> None:
        with self._lock:
            for key in keys:
                removed = self._tokens.pop(int(key), None)
                if removed is not None:
                    self._df.subtract(set(removed))
            self._rebuild()

    def _rebuild(self) -> None:
        # bm25s precomputes every term's scores, so statistics change on every write: rebuild.
        if not self._tokens:
            self._model, self._keys = None, np.zeros(0, dtype=np.int64)
            return
        keys = np.fromiter(self._tokens.keys(), dtype=np.int64, count=len(self._tokens))
        model = bm25s.BM25()
        model.index([self._tokens[int(k)] or [""] for k in keys], show_progress=False)
        self._model, self._keys = model, keys

    def search(self, tokens: Sequence[str], k: int) -> tuple[Keys, Scores]:
        model, keys = self._model, self._keys
        if model is None or not tokens:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores: npt.NDArray[np.float32] = np.asarray(model.get_scores(list(tokens)), dtype=np.float32)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        top = top[scores[top] > 0]
        return keys[top], scores[top]

    def document_frequency(self, token: str) -> int:
        return max(self._df.get(token, 0), 0)

    def __len__(self) -> int:
        return len(self._tokens)


def bm25_idf(df: int, n: int) -> float:
    """The BM25 (Lucene) inverse document frequency."""
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))
