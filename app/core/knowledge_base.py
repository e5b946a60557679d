"""A knowledge base: units, their documents and passages, their search backend, and retrieval.

Every write goes to the store in one transaction, then to the search backend, under one lock;
reads (retrieval) never wait for the store's writer. The search backend (``app.search.backend``)
is the embedded indexes or a Milvus collection that replicas share: this class does not know which.
Units always come from the store, so that a unit another replica created is seen at once.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from app.core.indexes import check_embedder
from app.domain import Document, DocumentInput, PassageHit, Unit, content_id, is_slug
from app.embedding.base import Embedder
from app.errors import Conflict, DocumentNotFound, InvalidInput, UnitNotFound
from app.ingest.pipeline import PreparedDocument, prepare
from app.search.backend import Idf, SearchBackend
from app.search.factory import open_search
from app.search.fusion import reciprocal_rank_fusion
from app.search.unit_index import Ranked
from app.settings import Settings
from app.stopwatch import NO_WATCH, Stopwatch
from app.store.base import ContentStored, DocumentStore
from app.text.normalize import normalize
from app.text.tokens import index_tokens

Progress = Callable[[int], None]

__all__ = ["Idf", "IngestResult", "KnowledgeBase", "Progress"]


@dataclass(frozen=True)
class IngestResult:
    document: Document
    created: bool  # False when the same content was already stored


class KnowledgeBase:
    def __init__(
        self, store: DocumentStore, embedder: Embedder, settings: Settings, search: SearchBackend | None = None
    ) -> None:
        """``search``: a backend the caller opened, else the one the settings name
        (``app.search.factory.open_search``, the one place that reads ``TROLY_SEARCH_BACKEND``)."""
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self._write_lock = threading.Lock()
        # Civil servants ask the same questions again and again: their vectors are kept (read-only).
        self._query_vector = functools.lru_cache(maxsize=settings.query_cache_size)(self._embed_question)
        check_embedder(store, embedder)
        self.search = search if search is not None else open_search(settings, store, embedder)

    def save_indexes(self) -> None:
        """Lets the next start be quick (the embedded backend's snapshots)."""
        with self._write_lock:
            self.search.save()

    def stale_indexes(self) -> list[str]:
        """Units whose passages in the search backend are not exactly the stored ones (readiness): none
        normally, since every write updates both under the write lock."""
        with self._write_lock:
            return self.search.stale_units(self.store)

    def repair_search(self) -> list[str]:
        """The units whose passages in the search backend were not the stored ones, now made so
        (``SearchBackend.repair``); in cluster mode every replica runs it now and then."""
        with self._write_lock:
            return self.search.repair(self.store)

    def close(self) -> None:
        """Lets go of the search backend's connection (the store is its opener's to close)."""
        self.search.close()

    # -- units -------------------------------------------------------------------------
    def create_unit(self, unit_id: str, name: str) -> Unit:
        if not is_slug(unit_id):
            raise InvalidInput(f"unit id {unit_id!r} must be a lowercase slug such as 'cuc-vien-thong'")
        name = normalize(name)
        if not name:
            raise InvalidInput("unit name must not be empty")
        unit = Unit(id=unit_id, name=name)
        with self._write_lock:
            self.store.add_unit(unit)
            self.search.create_unit(unit.id)
        return unit

    def list_units(self) -> list[Unit]:
        return self.store.list_units()

    def passage_count(self, units: Iterable[str] | None = None) -> int:
        """Passages searched, of ``units`` or of every unit."""
        return self.search.passage_count(units)

    def unit(self, unit_id: str) -> Unit:
        found = self.store.get_unit(unit_id)
        if found is None:
            raise UnitNotFound(f"unit {unit_id!r} does not exist")
        return found

    # -- documents ---------------------------------------------------------------------
    def add_document(self, unit_id: str, document: DocumentInput) -> IngestResult:
        return self.add_documents(unit_id, [document])[0]

    def add_documents(
        self, unit_id: str, documents: Sequence[DocumentInput], progress: Progress | None = None
    ) -> list[IngestResult]:
        """Each document goes in whole or not at all; same content again returns the stored one."""
        self.unit(unit_id)
        s = self.settings
        prepared = [prepare(unit_id, d, s.passage_max_chars, s.passage_min_chars) for d in documents]
        results: dict[int, IngestResult] = {}
        fresh: list[tuple[int, PreparedDocument]] = []
        for position, item in enumerate(prepared):
            existing = self.store.find_document(unit_id, item.document.content_hash)
            if existing is not None:
                results[position] = IngestResult(existing, created=False)
                if progress:
                    progress(len(item.passages))
            else:
                fresh.append((position, item))
        pending: list[tuple[list[int], list[list[str]], np.ndarray]] = []
        try:
            for (position, item), vectors in zip(
                fresh, self._embed_documents([i for _, i in fresh], progress), strict=True
            ):
                stored, keys = self._store(unit_id, item, vectors)
                results[position] = IngestResult(stored, created=bool(keys))
                if keys:
                    pending.append((keys, item.tokens, vectors))
        finally:
            # One index update per batch: BM25 statistics are rebuilt once, not per document.
            if pending:
                self.search.add(
                    unit_id,
                    np.concatenate([np.asarray(k, dtype=np.int64) for k, _, _ in pending]),
                    [t for _, tokens, _ in pending for t in tokens],
                    np.vstack([v for _, _, v in pending]),
                )
        return [results[i] for i in range(len(prepared))]

    def _embed_documents(self, items: Sequence[PreparedDocument], progress: Progress | None) -> Iterator[np.ndarray]:
        """Each document's vectors, in order, as soon as they are all embedded.

        Batches run across document boundaries: documents of a few passages each would
        otherwise reach the model in small batches, which costs more per passage
        (docs/performance.md, ingestion).
        """
        batch = self.settings.embed_batch_size
        texts = [t for item in items for t in item.embed_texts]
        done: list[np.ndarray] = []
        embedded = 0
        start = 0  # first text of the next document to hand out
        for item in items:
            end = start + len(item.embed_texts)
            while embedded < end:
                chunk = texts[embedded : embedded + batch]
                done.append(self.embedder.embed_passages(chunk))
                embedded += len(chunk)
                if progress:
                    progress(len(chunk))
            vectors = np.vstack(done) if done else np.zeros((0, self.embedder.dim), dtype=np.float32)
            yield vectors[: end - start]
            rest = vectors[end - start :]
            done = [rest] if len(rest) else []
            start = end

    def _store(self, unit_id: str, item: PreparedDocument, vectors: np.ndarray) -> tuple[Document, list[int]]:
        """Writes one document (one transaction); no keys when the same content got there first."""
        with self._write_lock:
            existing = self.store.find_document(unit_id, item.document.content_hash)
            if existing is not None:
                return existing, []
            item = self._free_id(unit_id, item)
            try:
                return item.document, self.store.add_document(item.document, item.passages, item.tokens, vectors)
            except ContentStored as exc:  # another replica stored the same content since the look-up
                return exc.document, []

    def _free_id(self, unit_id: str, item: PreparedDocument) -> PreparedDocument:
        """A replaced document keeps the id its first content gave it: that content, added again,
        takes the next free id instead of failing on the taken one."""
        free, attempt = item, 0
        while self.store.get_document(unit_id, free.document.id) is not None:
            attempt += 1
            free = item.with_id(content_id(unit_id, item.document.content_hash, str(attempt)))
        return free

    def replace_document(self, unit_id: str, document_id: str, document: DocumentInput) -> Document:
        """New content under the same id: the old passages leave the answers as the new ones enter."""
        current = self.get_document(unit_id, document_id)
        item = prepare(unit_id, document, self.settings.passage_max_chars, self.settings.passage_min_chars, document_id)
        if item.document.content_hash == current.content_hash and item.document.title == current.title:
            return current
        clash = self.store.find_document(unit_id, item.document.content_hash)
        if clash is not None and clash.id != document_id:
            raise Conflict(f"document {clash.id!r} of unit {unit_id!r} already has this content")
        vectors = next(self._embed_documents([item], None))
        with self._write_lock:
            old, new = self.store.replace_document(item.document, item.passages, item.tokens, vectors)
            self.search.replace(
                unit_id, np.asarray(old, dtype=np.int64), np.asarray(new, dtype=np.int64), item.tokens, vectors
            )
        return item.document

    def list_documents(self, unit_id: str) -> list[Document]:
        self.unit(unit_id)
        return self.store.list_documents(unit_id)

    def get_document(self, unit_id: str, document_id: str) -> Document:
        self.unit(unit_id)
        found = self.store.get_document(unit_id, document_id)
        if found is None:
            raise DocumentNotFound(f"document {document_id!r} is not in unit {unit_id!r}")
        return found

    def delete_document(self, unit_id: str, document_id: str) -> Document:
        document = self.get_document(unit_id, document_id)
        with self._write_lock:
            keys = self.store.delete_document(unit_id, document_id)
            self.search.remove(unit_id, np.asarray(keys, dtype=np.int64))
        return document

    # -- retrieval ---------------------------------------------------------------------
    def scope(self, unit: str | None) -> list[str]:
        """The units a question goes to: the one named (which must exist), else every unit."""
        return [self.unit(unit).id] if unit is not None else [u.id for u in self.store.list_units()]

    def idf(self, units: Iterable[str]) -> Idf:
        """BM25's idf over the passages of ``units`` together."""
        return self.search.idf(units)

    def _embed_question(self, question: str) -> np.ndarray:
        vector = self.embedder.embed_query(question)
        vector.setflags(write=False)
        return vector

    def candidates(self, question: str, unit: str | None, watch: Stopwatch = NO_WATCH) -> tuple[Ranked, Ranked]:
        """Each retriever's ranked passage keys for a normalised question, over one unit or all."""
        units = self.scope(unit)
        with watch.lap("embed"):
            vector = self._query_vector(question)
        with watch.lap("tokens"):
            tokens = index_tokens(question)
        # One list per retriever over all the units, so that units compete on relevance, not on rank within a unit.
        s = self.settings
        return self.search.candidates(units, vector, tokens, s.retrieve_depth, s.retrieval, watch)

    def retrieve(self, question: str, unit: str | None, depth: int, watch: Stopwatch = NO_WATCH) -> list[PassageHit]:
        """Passages for a normalised question, best first, fused over dense and BM25."""
        s = self.settings
        dense, lexical = self.candidates(question, unit, watch)
        with watch.lap("fusion"):
            top = reciprocal_rank_fusion(dense, lexical, k=s.rrf_k, lexical_weight=s.lexical_weight)[:depth]
        with watch.lap("store"):
            stored = {p.key: p for p in self.store.passages([f.key for f in top])}
        cosine: dict[int, float] = {}
        if s.retrieval == "lexical":
            # No dense ranking ran, but the readers weigh every hit's cosine: score the hits themselves.
            vector = self._query_vector(question)
            cosine = {k: float(p.vector @ vector) for k, p in stored.items() if p.vector is not None}
        return [
            PassageHit(
                passage=stored[f.key].passage,
                title=stored[f.key].title,
                date=stored[f.key].date,
                score=f.score,
                dense=cosine.get(f.key) if s.retrieval == "lexical" else f.dense,
                lexical=f.lexical,
                dense_rank=f.dense_rank,
                lexical_rank=f.lexical_rank,
            )
            for f in top
            if f.key in stored
        ]
