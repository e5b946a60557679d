"""The document-store protocol: app.store.sql implements it on SQLite (the embedded default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from app.domain import Document, Passage, Unit
from app.errors import Conflict


class ContentStored(Conflict):
    """The unit already holds a document with this content: another replica stored it between this one's
    look-up and its write (the store's unique (unit, content hash) refused the second copy). Raised by the
    store with the stored document; the knowledge base answers with it, as for any content sent again,
    so it never reaches a request."""

    code = "content_stored"

    def __init__(self, message: str, document: Document) -> None:
        super().__init__(message)
        self.document = document


@dataclass(frozen=True)
class StoredPassage:
    """A passage with its numeric key (the id the vector and lexical indexes use)."""

    key: int
    passage: Passage
    title: str
    date: str | None
    # The passage's embedding: lexical-only retrieval scores its hits with it (the readers'
    # features need a dense score for every hit).
    vector: npt.NDArray[np.float32] | None = None


@dataclass(frozen=True)
class IndexRows:
    """Everything needed to rebuild a unit's indexes without re-embedding."""

    keys: npt.NDArray[np.int64]
    tokens: list[list[str]]
    vectors: npt.NDArray[np.float32]


class DocumentStore(Protocol):
    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...

    def add_unit(self, unit: Unit) -> None:
        """Raises UnitExists."""
        ...

    def get_unit(self, unit_id: str) -> Unit | None: ...

    def list_units(self) -> list[Unit]: ...

    def find_document(self, unit: str, content_hash: str) -> Document | None: ...

    def get_document(self, unit: str, document_id: str) -> Document | None: ...

    def list_documents(self, unit: str) -> list[Document]: ...

    def add_document(
        self,
        document: Document,
        passages: Sequence[Passage],
        tokens: Sequence[Sequence[str]],
        vectors: npt.NDArray[np.float32],
    ) -> list[int]:
        """Stores the document and its passages in one transaction; returns the passage keys. Raises
        ``ContentStored``, with the stored document, when the unit holds this content already."""
        ...

    def replace_document(
        self,
        document: Document,
        passages: Sequence[Passage],
        tokens: Sequence[Sequence[str]],
        vectors: npt.NDArray[np.float32],
    ) -> tuple[list[int], list[int]]:
        """Swaps a stored document's content in one transaction; returns (old keys, new keys)."""
        ...

    def delete_document(self, unit: str, document_id: str) -> list[int]:
        """Removes the document in one transaction; returns the keys of its passages."""
        ...

    def passages(self, keys: Sequence[int]) -> list[StoredPassage]:
        """The passages with these keys, in the order given (unknown keys are skipped)."""
        ...

    def index_rows(self, unit: str) -> IndexRows: ...

    def unit_fingerprint(self, unit: str) -> str:
        """``keys_fingerprint`` of the unit's stored passage keys (checks a saved index at start)."""
        ...

    def token_frequencies(self, units: Sequence[str], tokens: Sequence[str]) -> tuple[int, dict[str, int]]:
        """The passages of ``units`` together, and how many of them hold each of ``tokens`` (BM25's n and
        document frequencies, as ``app.search.lexical.bm25_idf`` takes them), from one state of the store."""
        ...

    def passages_fingerprint(self, units: Sequence[str]) -> str:
        """``keys_fingerprint`` of the stored passage keys of ``units`` together: it changes with every
        write to any of them (keys are never reused), so what was computed over them may be kept until it does."""
        ...

    def close(self) -> None:
        """Closes the store's connections (a store used again opens new ones)."""
        ...
