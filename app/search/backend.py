"""The search port: what the knowledge base asks of a search backend, whichever one it is.

Two backends implement it: ``EmbeddedSearch`` (FAISS + bm25s per unit, in this process, with
snapshots in the data directory) and ``MilvusSearch`` (one Milvus collection that every replica
shares). ``app.search.factory.open_search`` picks one from the settings; nothing above this
layer knows which one it holds.

Both return each retriever's own ranked list (``Ranked``: keys best first, and their scores):
troly's reciprocal rank fusion (``app.search.fusion``) fuses them, with its lexical weight, the
same way for both backends. The dense scores are cosines: the readers use them as features.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from app.search.unit_index import Ranked
from app.search.vector import Keys
from app.stopwatch import NO_WATCH, Stopwatch
from app.store.base import DocumentStore

Idf = Callable[[str], float]
Mode = Literal["hybrid", "dense", "lexical"]


class SearchBackend(Protocol):
    """Passages' vectors and index tokens by unit, searched densely and by BM25.

    Writes come after the store's transaction has committed (the store is the truth: a backend can
    always be refilled from it without re-embedding); callers serialise writes in their process.
    """

    def create_unit(self, unit: str) -> None:
        """A new unit, empty (searching it finds nothing until passages are added)."""
        ...

    def add(self, unit: str, keys: Keys, tokens: Sequence[Sequence[str]], vectors: npt.NDArray[np.float32]) -> None:
        """Passages by their store keys: each key's index tokens and normalised vector."""
        ...

    def replace(
        self,
        unit: str,
        old_keys: Keys,
        new_keys: Keys,
        tokens: Sequence[Sequence[str]],
        vectors: npt.NDArray[np.float32],
    ) -> None:
        """A document's new passages in, its old ones out."""
        ...

    def remove(self, unit: str, keys: Keys) -> None: ...

    def candidates(
        self,
        units: Sequence[str],
        vector: npt.NDArray[np.float32],
        tokens: Sequence[str],
        depth: int,
        mode: Mode = "hybrid",
        watch: Stopwatch = NO_WATCH,
    ) -> tuple[Ranked, Ranked]:
        """(dense, lexical): each at most ``depth`` passages of ``units`` together, best first; dense
        scores are cosines. ``mode`` "dense" or "lexical" leaves the other list empty."""
        ...

    def idf(self, units: Iterable[str]) -> Idf:
        """``app.search.lexical.bm25_idf`` of a token over the passages of ``units`` together."""
        ...

    def passage_count(self, units: Iterable[str] | None = None) -> int:
        """Passages searched, of ``units`` or of every unit."""
        ...

    def stale_units(self, store: DocumentStore) -> list[str]:
        """The store's units whose passages here are not exactly the stored ones (readiness)."""
        ...

    def units(self) -> list[str]:
        """The units this backend holds passages or an index of (diagnosis)."""
        ...

    def repair(self, store: DocumentStore) -> list[str]:
        """Brings the units ``stale_units`` finds back to exactly the store's passages, from the stored
        vectors (never re-embedded), and returns them: what a failed write left out (a server down
        then, or a process killed between the store's commit and the write here)."""
        ...

    def save(self) -> None:
        """Makes the next start quick (snapshots); nothing to do for a server that persists itself."""
        ...

    def close(self) -> None: ...
