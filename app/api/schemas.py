"""Request and response bodies. The shapes here are a public contract: change with care."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from app.domain import PARTIAL_DATE_PATTERN, SLUG_MAX_CHARS, SLUG_PATTERN
from app.domain import Answer as CoreAnswer
from app.domain import Citation as CoreCitation
from app.domain import Document as CoreDocument
from app.settings import Settings
from app.text.normalize import VISIBLE_PATTERN

# A limit the operator sets: the served OpenAPI document gives the running service's value
# (app.api.contract.publish_limits); the core enforces it.
SETTING_KEY = "x-troly-setting"


def from_setting(keyword: str, setting: str) -> dict[str, Any]:
    """JSON Schema ``keyword`` (maxLength, maximum) whose value is ``Settings.<setting>``."""
    default = Settings.model_fields[setting].default
    return {keyword: default, SETTING_KEY: {keyword: setting}}


# Texts refused when empty (a question, a name, a document): the server normalizes them (app.text)
# first, so white space and invisible characters alone count as empty.
NOT_BLANK: dict[str, Any] = {"minLength": 1, "pattern": VISIBLE_PATTERN}


def _json_integer(value: object) -> object:
    """5.0 is an integer to JSON Schema, and so to the clients generated from it: taken as 5."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# An integer in a request body: 5 or 5.0, never "5" nor true.
JsonInt = Annotated[int, BeforeValidator(_json_integer)]
# One of at least 1 (the bound before the validator, or the schema would not show it as a minimum).
PositiveJsonInt = Annotated[int, Field(ge=1), BeforeValidator(_json_integer)]


class RequestBody(BaseModel):
    """A request body takes JSON's types as its schema gives them (strict: "5" is no integer, 0 no boolean)."""

    model_config = ConfigDict(strict=True)


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


class Health(BaseModel):
    """Liveness: the process answers, whatever its backends do (their state is ``/readyz``'s)."""

    status: Literal["ok"] = "ok"
    version: str
    embedder: str
    units: int | None = Field(description="units served; null while the database does not answer")
    passages: int | None = Field(description="passages searched; null while the database or Milvus does not answer")


class Ready(BaseModel):
    status: Literal["ready"] = "ready"
    checks: dict[str, str] = Field(description="each check (store, indexes, llm when configured): ok")


class UnitIn(RequestBody):
    id: str = Field(
        min_length=1,
        max_length=SLUG_MAX_CHARS,
        pattern=SLUG_PATTERN,
        examples=["cuc-vien-thong"],
        description="lowercase slug: letters a-z and digits, words joined by single hyphens",
    )
    name: str = Field(
        min_length=1,
        max_length=200,
        pattern=VISIBLE_PATTERN,
        examples=["Cục Viễn thông"],
        description="not blank",
    )


class UnitOut(BaseModel):
    id: str
    name: str


class DocumentIn(RequestBody):
    title: str = Field(default="", max_length=500)
    # Not blank is the core's check (422 empty_document), as for an uploaded file's text; the
    # cleaning may still find no text (only {placeholders} or a photo credit): empty_document too.
    text: str = Field(
        json_schema_extra=NOT_BLANK,
        description="not blank; a text that cleaning leaves empty (only {placeholders}) is refused too",
    )
    date: str | None = Field(
        default=None,
        pattern=PARTIAL_DATE_PATTERN,
        examples=["2024-07", "2024-07-15"],
        description="YYYY-MM or a real calendar day YYYY-MM-DD",
    )
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


class KeyIn(RequestBody):
    """A maintainer key names at least one unit (else 422); each unit must exist (else 404)."""

    model_config = ConfigDict(
        json_schema_extra={
            "if": {"properties": {"role": {"const": "maintainer"}}, "required": ["role"]},
            "then": {"properties": {"units": {"minItems": 1}}, "required": ["units"]},
        }
    )
    role: Literal["admin", "maintainer", "reader"]
    units: list[str] = Field(
        default_factory=list,
        # Not checked here: a unit that is no slug is a unit that does not exist (404).
        json_schema_extra={"items": {"type": "string", "pattern": SLUG_PATTERN, "maxLength": SLUG_MAX_CHARS}},
        description="units a maintainer key may change: at least one for a maintainer key",
    )


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


class TurnIn(RequestBody):
    role: Literal["user", "assistant"]
    content: str = Field(max_length=MAX_TURN_CHARS)


class AskIn(RequestBody):
    # Checked by the core (422), whose limits are settings: TROLY_MAX_QUESTION_CHARS, TROLY_MAX_TOP_K.
    question: str = Field(
        json_schema_extra={**NOT_BLANK, **from_setting("maxLength", "max_question_chars")},
        description="not blank; at most TROLY_MAX_QUESTION_CHARS characters as sent",
    )
    unit: str | None = Field(default=None, description="a unit's id (404 if there is none), or null for every unit")
    top_k: JsonInt = Field(
        default=5,
        ge=1,
        json_schema_extra=from_setting("maximum", "max_top_k"),
        description="citations to return: 1 to TROLY_MAX_TOP_K",
    )
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


class FeedbackIn(RequestBody):
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
