"""The periods a hit's document names, read once per document and kept."""

from __future__ import annotations

import functools

from app.answer.periods import Periods, named_periods
from app.domain import PassageHit
from app.store.base import DocumentStore


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
