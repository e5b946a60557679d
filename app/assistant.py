"""The core of troly: units, documents and questions. Independent of HTTP and of the CLI."""

from __future__ import annotations

import functools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.answer.evidence import Candidate
from app.answer.extract import AnswerExtractor
from app.answer.model import AnswerModel
from app.answer.periods import Periods, named_periods
from app.answer.question import QuestionProfile, profile
from app.domain import Answer, Citation, Document, DocumentInput, PassageHit, Unit, is_slug
from app.embedding.base import Embedder
from app.errors import Conflict, DocumentNotFound, EmbedderMismatch, InvalidInput, UnitNotFound
from app.ingest.pipeline import PreparedDocument, prepare
from app.search.fusion import reciprocal_rank_fusion
from app.search.lexical import bm25_idf
from app.search.unit_index import Ranked, UnitIndex, merge_ranked
from app.settings import Settings
from app.store.base import DocumentStore
from app.text.normalize import normalize
from app.text.tokens import index_tokens

log = logging.getLogger(__name__)

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Evidence:
    """What the answer extractor sees for a question: for calibration and diagnosis."""

    profile: QuestionProfile
    hits: list[PassageHit]
    candidates: list[Candidate]
    idf: Callable[[str], float]
    periods: dict[str, Periods]  # the periods each hit's document names, by passage id


class _DocumentGone(Exception):
    """Deleted between retrieval and answering: never cached."""


class DocumentPeriods:
    """The periods the document of a hit names, with its title and date (``named_periods``).

    Asked once per answered question, for the answering passage; reading and scanning a whole
    document every time costs more than the rest of the answer (5 ms for a 40 kB report), so
    each is kept. Keys hold the passage id, which derives from the document's content: a
    replaced text never reads a stale entry.
    """

    def __init__(self, store: DocumentStore, size: int = 4096) -> None:
        self._store = store
        self._cached = functools.lru_cache(maxsize=size)(self._read)

    def __call__(self, hit: PassageHit) -> Periods:
        p = hit.passage
        try:
            return self._cached(p.unit, p.document_id, p.id, hit.title, hit.date)
        except _DocumentGone:
            return named_periods(f"{hit.title}\n{hit.date or ''}\n{p.text}")

    def _read(self, unit: str, document_id: str, passage_id: str, title: str, date: str | None) -> Periods:
        document = self._store.get_document(unit, document_id)
        if document is None:
            raise _DocumentGone(document_id)
        return named_periods(f"{title}\n{date or ''}\n{document.text}")


@dataclass(frozen=True)
class IngestResult:
    document: Document
    created: bool  # False when the same content was already stored


class Assistant:
    def __init__(self, store: DocumentStore, embedder: Embedder, model: AnswerModel, settings: Settings) -> None:
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self._extractor = AnswerExtractor(model, max_chars=settings.answer_max_chars)
        self.threshold = settings.abstain_threshold if settings.abstain_threshold is not None else model.threshold
        self._write_lock = threading.Lock()
        # Civil servants ask the same questions again and again: their vectors are kept (read-only).
        self._query_vector = functools.lru_cache(maxsize=settings.query_cache_size)(self._embed_question)
        self._document_periods = DocumentPeriods(store)
        self._check_embedder()
        if model.embedder and model.embedder != embedder.name:
            # Not an error: answers still come, but the weights expect another cosine scale.
            log.warning(
                "the answer model was fitted with embedder %s, this assistant embeds with %s: "
                "refit it for this embedder with `troly tune` (docs/quality.md)",
                model.embedder,
                embedder.name,
            )
        self._indexes: dict[str, UnitIndex] = {unit.id: self._open_index(unit.id) for unit in store.list_units()}

    # -- indexes: loaded from a snapshot when it holds exactly the stored passages, else rebuilt ---------
    def _snapshot_dir(self, unit_id: str) -> Path:
        return self.settings.data_dir / "indexes" / unit_id

    def _open_index(self, unit_id: str) -> UnitIndex:
        started = time.perf_counter()
        folder = self._snapshot_dir(unit_id)
        expected = self.store.unit_fingerprint(unit_id)
        index = UnitIndex.load(folder, self.embedder.dim, self.embedder.name, expected)
        if index is not None:
            log.info("unit %s: %d passages, indexes read in %.2f s", unit_id, len(index), time.perf_counter() - started)
            return index
        # Missing, stale (a crash after a write) or damaged: rebuild from the stored vectors, never re-embed.
        index = UnitIndex.from_rows(
            self.embedder.dim, self.store.index_rows(unit_id), exact_below=self.settings.exact_search_below
        )
        self._save(unit_id, index)
        log.info(
            "unit %s: %d passages, indexes rebuilt from the store in %.2f s%s",
            unit_id,
            len(index),
            time.perf_counter() - started,
            " (approximate search)" if index.approximate else "",
        )
        return index

    def _embed_question(self, question: str) -> np.ndarray:
        vector = self.embedder.embed_query(question)
        vector.setflags(write=False)
        return vector

    def save_indexes(self) -> None:
        """Snapshots every unit's indexes, so that the next start reads them instead of rebuilding."""
        with self._write_lock:
            for unit_id, index in self._indexes.items():
                self._save(unit_id, index)

    def _save(self, unit_id: str, index: UnitIndex) -> None:
        try:
            index.save(self._snapshot_dir(unit_id), self.embedder.name)
        except OSError as exc:  # a snapshot is a shortcut for the next start, never a reason to fail
            log.warning("unit %s: index snapshot not saved (%s); the next start rebuilds it", unit_id, exc)

    def _check_embedder(self) -> None:
        stored = self.store.get_meta("embedder")
        if stored is None:
            self.store.set_meta("embedder", self.embedder.name)
            self.store.set_meta("dim", str(self.embedder.dim))
        elif stored != self.embedder.name:
            raise EmbedderMismatch(
                f"the index in this data directory was built with {stored!r}, but the configured embedder is "
                f"{self.embedder.name!r}; use another TROLY_DATA_DIR or configure the same embedder"
            )

    # -- units -------------------------------------------------------------------------
    def create_unit(self, unit_id: str, name: str) -> Unit:
        if not is_slug(unit_id):
            raise InvalidInput(f"unit id {unit_id!r} must be a lowercase slug such as 'cuc-vien-thong'")
        if not name.strip():
            raise InvalidInput("unit name must not be empty")
        unit = Unit(id=unit_id, name=normalize(name))
        with self._write_lock:
            self.store.add_unit(unit)
            self._indexes[unit.id] = UnitIndex(self.embedder.dim)
        return unit

    def list_units(self) -> list[Unit]:
        return self.store.list_units()

    def passage_count(self) -> int:
        return sum(len(index) for index in self._indexes.values())

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
        prepared = [
            prepare(unit_id, d, self.settings.passage_max_chars, self.settings.passage_min_chars) for d in documents
        ]
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
                self._index(unit_id).add(
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
            return item.document, self.store.add_document(item.document, item.passages, item.tokens, vectors)

    def _index(self, unit_id: str) -> UnitIndex:
        return self._indexes[unit_id]

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
            self._index(unit_id).replace(
                np.asarray(old, dtype=np.int64), np.asarray(new, dtype=np.int64), item.tokens, vectors
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
            self._index(unit_id).remove(np.asarray(keys, dtype=np.int64))
        return document

    # -- questions ---------------------------------------------------------------------
    def _idf(self, units: Iterable[str]) -> Callable[[str], float]:
        indexes = [self._indexes[u].lexical for u in units if u in self._indexes]
        n = sum(len(i) for i in indexes)

        def idf(token: str) -> float:
            return bm25_idf(sum(i.document_frequency(token) for i in indexes), n)

        return idf

    def candidates(self, question: str, unit: str | None) -> tuple[Ranked, Ranked]:
        """Each retriever's ranked passage keys for a normalised question, over one unit or all."""
        units = [self.unit(unit).id] if unit is not None else list(self._indexes)
        vector = self._query_vector(question)
        tokens = index_tokens(question)
        s = self.settings
        ranked = [self._indexes[u].candidates(vector, tokens, s.retrieve_depth, s.retrieval) for u in units]
        # One fusion over all units' lists, so that units compete on relevance, not on rank within a unit.
        return (
            merge_ranked([d for d, _ in ranked], s.retrieve_depth),
            merge_ranked([lx for _, lx in ranked], s.retrieve_depth),
        )

    def retrieve(self, question: str, unit: str | None, depth: int) -> list[PassageHit]:
        """Passages for a normalised question, best first, fused over dense and BM25."""
        s = self.settings
        dense, lexical = self.candidates(question, unit)
        top = reciprocal_rank_fusion(dense, lexical, k=s.rrf_k, lexical_weight=s.lexical_weight)[:depth]
        stored = {p.key: p for p in self.store.passages([f.key for f in top])}
        return [
            PassageHit(
                passage=stored[f.key].passage,
                title=stored[f.key].title,
                date=stored[f.key].date,
                score=f.score,
                dense=f.dense,
                lexical=f.lexical,
                dense_rank=f.dense_rank,
                lexical_rank=f.lexical_rank,
            )
            for f in top
            if f.key in stored
        ]

    def evidence(self, question: str, unit: str | None = None) -> Evidence:
        question = normalize(question)
        hits = self.retrieve(question, unit, self.settings.answer_passages)
        units = [unit] if unit is not None else list(self._indexes)
        idf = self._idf(units)
        asked = profile(question)
        periods = {h.passage.id: self._document_periods(h) for h in hits}
        return Evidence(asked, hits, self._extractor.candidates(asked, hits, idf), idf, periods)

    def ask(self, question: str, unit: str | None = None, top_k: int = 5) -> Answer:
        question = normalize(question)
        if not question:
            raise InvalidInput("the question is empty")
        if len(question) > self.settings.max_question_chars:
            raise InvalidInput(f"the question is longer than {self.settings.max_question_chars} characters")
        if not 1 <= top_k <= self.settings.max_top_k:
            raise InvalidInput(f"top_k must be between 1 and {self.settings.max_top_k}")
        started = time.perf_counter()
        hits = self.retrieve(question, unit, max(top_k, self.settings.answer_passages))
        retrieved = time.perf_counter()
        units = [unit] if unit is not None else list(self._indexes)
        extraction = self._extractor.extract(
            profile(question),
            hits[: self.settings.answer_passages],
            self._idf(units),
            self._document_periods,
        )
        done = time.perf_counter()

        answer_text: str | None = None
        confidence = 0.0
        order = list(range(len(hits)))
        highlight: dict[int, tuple[int, int]] = {}
        if extraction is not None:
            confidence = extraction.confidence
            # The passage that holds the answer is cited first.
            order.remove(extraction.hit)
            order.insert(0, extraction.hit)
            highlight[extraction.hit] = (extraction.start, extraction.end)
            if confidence >= self.threshold:
                answer_text = extraction.text
        citations = [self._cite(hits[i], highlight.get(i)) for i in order[:top_k]]
        return Answer(
            id=uuid.uuid4().hex,
            question=question,
            unit=unit,
            answer=answer_text,
            confidence=round(confidence, 4),
            citations=citations,
            timings_ms={
                "retrieve": (retrieved - started) * 1000,
                "answer": (done - retrieved) * 1000,
            },
            draft=extraction.text if extraction is not None else None,
        )

    @staticmethod
    def _cite(hit: PassageHit, highlight: tuple[int, int] | None) -> Citation:
        p = hit.passage
        return Citation(
            unit=p.unit,
            document_id=p.document_id,
            title=hit.title,
            date=hit.date,
            passage_id=p.id,
            text=p.text,
            start=p.start,
            end=p.end,
            score=round(hit.score, 6),
            highlight=highlight,
        )
