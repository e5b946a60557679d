"""The face of the core for its callers: a knowledge base and an answerer over it, as one object.

Entry points (the service, the command line, evaluation, the benchmark) hold an ``Assistant``;
what it does lives in ``app.core``: ``KnowledgeBase`` (units, documents, indexes, retrieval)
and ``Answerer`` (retrieve, read, cite). The reader is the lexical one unless given
(``app/wiring.py`` picks it from the settings).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

from app.answer.evidence import Evidence
from app.answer.extract import LexicalReader
from app.answer.model import AnswerModel
from app.answer.reader import Generator, Reader
from app.core.answerer import Answerer
from app.core.knowledge_base import IngestResult, KnowledgeBase, Progress
from app.domain import Answer, AnswerEvent, Document, DocumentInput, PassageHit, Turn, Unit
from app.embedding.base import Embedder
from app.search.backend import SearchBackend
from app.search.unit_index import Ranked
from app.settings import Settings
from app.stopwatch import NO_WATCH, Stopwatch
from app.store.base import DocumentStore
from app.store.data_dir_lock import DataDirLock

__all__ = ["Assistant", "IngestResult"]

log = logging.getLogger(__name__)


class Assistant:
    def __init__(
        self,
        store: DocumentStore,
        embedder: Embedder,
        model: AnswerModel,
        settings: Settings,
        reader: Reader | None = None,
        generator: Generator | None = None,
        lock: DataDirLock | None = None,
        search: SearchBackend | None = None,
    ) -> None:
        """``model``: the answer model, the lexical reader's unless ``reader`` is given;
        ``generator``: the LLM reader, which answers first when given (``reader`` is its fallback);
        ``lock``: the data directory's, taken by ``app.wiring.open_assistant``; ``close()`` lets go of it;
        ``search``: a search backend the caller opened, else the one the settings name."""
        self._lock = lock
        self.knowledge = KnowledgeBase(store, embedder, settings, search)
        self.answerer = Answerer(
            self.knowledge, reader or LexicalReader(model, max_chars=settings.answer_max_chars), settings, generator
        )
        if model.embedder and model.embedder != embedder.name:
            # Not an error: answers still come, but the weights expect another cosine scale.
            log.warning(
                "the answer model was fitted with embedder %s, this assistant embeds with %s: "
                "refit it for this embedder with `troly tune` (docs/quality.md)",
                model.embedder,
                embedder.name,
            )

    def close(self) -> None:
        """Lets go of the data directory's lock, if this assistant holds it: another process may open
        the knowledge base now, so this one is not to be used for writing afterwards. Save the indexes
        first if the next start should read them (``save_indexes``). Closing again does nothing.
        The search backend's connection (Milvus) is let go of too; a later search would open another."""
        self.knowledge.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> Assistant:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def store(self) -> DocumentStore:
        return self.knowledge.store

    @property
    def embedder(self) -> Embedder:
        return self.knowledge.embedder

    @property
    def settings(self) -> Settings:
        return self.knowledge.settings

    @property
    def threshold(self) -> float:
        return self.answerer.threshold

    # -- the knowledge base ------------------------------------------------------------
    def save_indexes(self) -> None:
        self.knowledge.save_indexes()

    def create_unit(self, unit_id: str, name: str) -> Unit:
        return self.knowledge.create_unit(unit_id, name)

    def list_units(self) -> list[Unit]:
        return self.knowledge.list_units()

    def unit(self, unit_id: str) -> Unit:
        return self.knowledge.unit(unit_id)

    def passage_count(self) -> int:
        return self.knowledge.passage_count()

    def add_document(self, unit_id: str, document: DocumentInput) -> IngestResult:
        return self.knowledge.add_document(unit_id, document)

    def add_documents(
        self, unit_id: str, documents: Sequence[DocumentInput], progress: Progress | None = None
    ) -> list[IngestResult]:
        return self.knowledge.add_documents(unit_id, documents, progress)

    def replace_document(self, unit_id: str, document_id: str, document: DocumentInput) -> Document:
        return self.knowledge.replace_document(unit_id, document_id, document)

    def list_documents(self, unit_id: str) -> list[Document]:
        return self.knowledge.list_documents(unit_id)

    def get_document(self, unit_id: str, document_id: str) -> Document:
        return self.knowledge.get_document(unit_id, document_id)

    def delete_document(self, unit_id: str, document_id: str) -> Document:
        return self.knowledge.delete_document(unit_id, document_id)

    def candidates(self, question: str, unit: str | None) -> tuple[Ranked, Ranked]:
        return self.knowledge.candidates(question, unit)

    def retrieve(self, question: str, unit: str | None, depth: int, watch: Stopwatch = NO_WATCH) -> list[PassageHit]:
        return self.knowledge.retrieve(question, unit, depth, watch)

    # -- the answerer ------------------------------------------------------------------
    def evidence(self, question: str, unit: str | None = None) -> Evidence:
        return self.answerer.evidence(question, unit)

    def ask(self, question: str, unit: str | None = None, top_k: int = 5, history: Sequence[Turn] = ()) -> Answer:
        return self.answerer.ask(question, unit, top_k, history)

    def ask_stream(
        self, question: str, unit: str | None = None, top_k: int = 5, history: Sequence[Turn] = ()
    ) -> Iterator[AnswerEvent]:
        return self.answerer.ask_stream(question, unit, top_k, history)

    @property
    def reader_name(self) -> str:
        return self.answerer.reader_name
