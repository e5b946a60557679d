"""Turning a maintainer's document into what the store keeps: clean text, passages, tokens."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from app.domain import Document, DocumentInput, Passage, content_id, is_partial_date
from app.errors import EmptyDocument, InvalidInput
from app.ingest.cleaning import clean
from app.ingest.segment import passage_spans
from app.text.normalize import normalize
from app.text.sentences import sentence_spans
from app.text.tokens import index_tokens

_TITLE_MAX_CHARS = 120
_TITLE_MIN_CHARS = 40


@dataclass(frozen=True)
class PreparedDocument:
    document: Document
    passages: list[Passage]
    tokens: list[list[str]]
    # What the embedder sees: the passage with its document title for context.
    embed_texts: list[str]

    def with_id(self, document_id: str) -> PreparedDocument:
        """The same document and passages under another document id."""
        return replace(
            self,
            document=replace(self.document, id=document_id),
            passages=[replace(p, document_id=document_id) for p in self.passages],
        )


def _derive_title(text: str) -> str:
    """The first sentence of the first real paragraph (a photo caption is not a title)."""
    paragraphs = [p for p in text.split("\n") if p.strip()]
    first = next((p for p in paragraphs if len(p) >= _TITLE_MIN_CHARS), paragraphs[0])
    spans = sentence_spans(first)
    if spans:
        first = first[spans[0][0] : spans[0][1]]
    if len(first) <= _TITLE_MAX_CHARS:
        return first
    cut = first.rfind(" ", 0, _TITLE_MAX_CHARS)
    return first[: cut if cut > 0 else _TITLE_MAX_CHARS] + "…"


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def prepare(
    unit: str, given: DocumentInput, max_chars: int, min_chars: int, document_id: str | None = None
) -> PreparedDocument:
    """Validates and segments a document; raises InvalidInput subclasses, stores nothing.

    A new document's id derives from its unit and content; a replacement keeps ``document_id``.
    """
    if given.date is not None and not is_partial_date(given.date):
        raise InvalidInput(f"date {given.date!r} is not YYYY-MM-DD or YYYY-MM")
    cleaned = clean(given.text)
    if not cleaned.text.strip():
        raise EmptyDocument("the document has no text")
    text = cleaned.text
    title = normalize(given.title or "") or _derive_title(text)
    digest = content_hash(text)
    document_id = document_id or content_id(unit, digest)
    spans = passage_spans(text, max_chars=max_chars, min_chars=min_chars)
    passages = [
        Passage(
            id=content_id(unit, digest, str(start), str(end)),
            document_id=document_id,
            unit=unit,
            seq=seq,
            start=start,
            end=end,
            text=text[start:end],
        )
        for seq, (start, end) in enumerate(spans)
    ]
    document = Document(
        id=document_id,
        unit=unit,
        title=title,
        text=text,
        date=given.date or cleaned.date,
        source=given.source,
        content_hash=digest,
        passages=len(passages),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    tokens = [index_tokens(f"{title}\n{p.text}") for p in passages]
    embed_texts = [f"{title}\n{p.text}" for p in passages]
    return PreparedDocument(document, passages, tokens, embed_texts)
