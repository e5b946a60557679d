"""Any sentence-transformers model from a local directory or (with hub access) by name."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from app.embedding.base import Vectors, l2_normalise


class SentenceTransformerEmbedder:
    """E5-style models want "query: "/"passage: " prefixes; others take the text as it is."""

    def __init__(self, model: str, batch_size: int = 16, threads: int | None = None) -> None:
        from sentence_transformers import SentenceTransformer

        if threads:
            import torch

            torch.set_num_threads(threads)
        self._model = SentenceTransformer(model, device="cpu")
        self._batch_size = batch_size
        dim = self._model.get_embedding_dimension()
        if dim is None:
            raise ValueError(f"{model}: the model does not declare its embedding dimension")
        self._dim = int(dim)
        label = _local_label(Path(model)) if Path(model).exists() else model
        self._name = f"sentence-transformers/{label}"
        self._prefixes = ("query: ", "passage: ") if "e5" in label.lower() else ("", "")

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        prefixed = [self._prefixes[1] + t for t in texts]
        out = self._model.encode(prefixed, batch_size=self._batch_size, convert_to_numpy=True)
        return l2_normalise(np.asarray(out, dtype=np.float32))

    def embed_query(self, text: str) -> Vectors:
        out = self._model.encode([self._prefixes[0] + text], convert_to_numpy=True)
        vector: Vectors = l2_normalise(np.asarray(out, dtype=np.float32))[0]
        return vector


def _local_label(folder: Path) -> str:
    """A local model's folder name plus a hash of its configuration: two folders named
    ``model`` holding different models must not pass for the same embedder."""
    digest = hashlib.sha256()
    for name in ("config.json", "modules.json", "sentence_bert_config.json"):
        part = folder / name
        if part.exists():
            digest.update(part.read_bytes())
    return f"{folder.resolve().name}@{digest.hexdigest()[:12]}"
