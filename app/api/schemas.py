"""Request and response bodies. The shapes here are a public contract: change with care."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from app.domain import Answer as CoreAnswer
from app.domain import Citation as CoreCitation
from app.domain import Document as CoreDocument


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str
    embedder: str
    units: int
    passages: int


class UnitIn(BaseModel):
    id: str = Field(examples=["cuc-vien-thong"], description="lowercase slug")
    name: str = Field(min_length=1, max_length=200, examples=["Cục Viễn thông"])


class UnitOut(BaseModel):
    id: str
    name: str


class DocumentIn(BaseModel):
    title: str = Field(default="", max_length=500)
    text: str
    date: str | None = Field(default=None, examples=["2024-07", "2024-07-15"])
    source: str | None = Field(default=None, max_length=2000)


class DocumentCreated(BaseModel):
    document_id: str
    passages: int
    created: bool = True


class DocumentSummary(BaseModel):
    id: str
    title: str
    date: str | None
    source: str | None
    passages: int
    created_at: str

    @classmethod
    def of(cls, d: CoreDocument) -> DocumentSummary:
        return cls(id=d.id, title=d.title, date=d.date, source=d.source, passages=d.passages, created_at=d.created_at)


class DocumentFull(DocumentSummary):
    text: str = Field(description="the stored (normalised, cleaned) text; citation offsets point into it")
    content_hash: str

    @classmethod
    def of(cls, d: CoreDocument) -> DocumentFull:
        return cls(
            id=d.id,
            title=d.title,
            date=d.date,
            source=d.source,
            passages=d.passages,
            created_at=d.created_at,
            text=d.text,
            content_hash=d.content_hash,
        )


class KeyIn(BaseModel):
    role: Literal["admin", "maintainer", "reader"]
    units: list[str] = Field(default_factory=list, description="units a maintainer key may change")


class KeyOut(BaseModel):
    id: str
    role: str
    units: list[str]
    created_at: str
    revoked_at: str | None = None


class KeyCreated(BaseModel):
    id: str
    key: str = Field(description="shown once: only its hash is stored")
    role: str
    units: list[str]


class AuditOut(BaseModel):
    seq: int
    at: str
    key_id: str
    action: str
    unit: str | None
    target: str | None
    detail: dict[str, object]


# A follow-up's context: enough turns for a conversation, bounded so that a request stays small.
MAX_HISTORY_TURNS = 20
MAX_TURN_CHARS = 8000


class TurnIn(BaseModel):
    role: Literal["user", "assistant"]
    content: str = Field(max_length=MAX_TURN_CHARS)


class AskIn(BaseModel):
    question: str
    unit: str | None = None
    top_k: int = 5
    stream: bool = Field(
        default=False,
        description="answer text/event-stream: event citations, then delta {text} chunks, then done (this "
        "response object) or error (an error body)",
    )
    history: list[TurnIn] = Field(
        default_factory=list,
        max_length=MAX_HISTORY_TURNS,
        description="the conversation so far, oldest first: the LLM reader rewrites a follow-up into a "
        "standalone question; the other readers ignore it",
    )


class CitationOut(BaseModel):
    unit: str
    document_id: str
    title: str
    date: str | None
    passage_id: str
    text: str
    start: int = Field(description="offset of the passage in its document's stored text")
    end: int
    score: float
    highlight: tuple[int, int] | None = Field(
        default=None, description="offsets of the answering sentence inside this citation's text"
    )

    @classmethod
    def of(cls, c: CoreCitation) -> CitationOut:
        return cls(
            unit=c.unit,
            document_id=c.document_id,
            title=c.title,
            date=c.date,
            passage_id=c.passage_id,
            text=c.text,
            start=c.start,
            end=c.end,
            score=c.score,
            highlight=c.highlight,
        )


class FeedbackIn(BaseModel):
    helpful: bool
    comment: str | None = Field(default=None, max_length=2000)


class FeedbackOut(BaseModel):
    answer_id: str
    helpful: bool


class DayStatsOut(BaseModel):
    day: str
    questions: int
    answered: int
    helpful: int
    feedback: int


class StatsOut(BaseModel):
    unit: str | None
    days: int
    questions: int
    answered: int
    abstained: int
    answer_rate: float | None = Field(description="answered / asked in live traffic")
    helpful_rate: float | None = Field(description="helpful / feedback given")
    feedback: int
    target: float
    last_eval: dict[str, object] | None
    daily: list[DayStatsOut]


class AskOut(BaseModel):
    id: str
    answer: str | None
    abstained: bool
    confidence: float = Field(ge=0.0, le=1.0)
    citations: list[CitationOut]
    reader: str = Field(description="the reader that produced this answer: lexical, neural or llm")
    reader_fallback: str | None = Field(
        default=None, description="why the configured reader did not answer (this answer is its fallback's)"
    )
    rewritten_question: str | None = Field(
        default=None,
        description="with the LLM reader and a history: the follow-up rewritten to stand alone, which was searched",
    )

    @classmethod
    def of(cls, a: CoreAnswer) -> AskOut:
        """The answer as ``POST /v1/ask`` returns it (and ``troly ask --json`` prints it)."""
        return cls(
            id=a.id,
            answer=a.answer,
            abstained=a.abstained,
            confidence=a.confidence,
            citations=[CitationOut.of(c) for c in a.citations],
            reader=a.reader,
            reader_fallback=a.reader_fallback,
            rewritten_question=a.rewritten_question,
        )
