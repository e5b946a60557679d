"""The core's data types. Plain dataclasses: pydantic lives only at the HTTP edge."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

# The rules below are also the HTTP API's published contract (its OpenAPI document gives these
# patterns), so each is one regular expression that JSON Schema, Python and Rust read alike.
SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
SLUG_MAX_CHARS = 64
_YEAR = r"(?:[0-9]{3}[1-9]|[0-9]{2}[1-9][0-9]|[0-9][1-9][0-9]{2}|[1-9][0-9]{3})"  # 0001-9999
_LEAP_YEAR = r"(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"  # 0400, not 0000
_DAY = (
    r"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    r"|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
# YYYY-MM or a real calendar day YYYY-MM-DD (29 February in leap years only).
PARTIAL_DATE_PATTERN = rf"^(?:{_YEAR}-(?:0[1-9]|1[0-2])|{_YEAR}-{_DAY}|{_LEAP_YEAR}-02-29)$"
_SLUG = re.compile(SLUG_PATTERN)
_DATE = re.compile(PARTIAL_DATE_PATTERN)


def is_slug(value: str) -> bool:
    return len(value) <= SLUG_MAX_CHARS and bool(_SLUG.fullmatch(value))


def is_partial_date(value: str) -> bool:
    """``YYYY-MM`` or ``YYYY-MM-DD`` (a real calendar day): reports often carry only a month."""
    if not _DATE.fullmatch(value):
        return False
    try:
        date.fromisoformat(value if len(value) == 10 else f"{value}-01")
    except ValueError:
        return False
    return True


def keys_fingerprint(count: int, largest: int, total: int) -> str:
    """Which passages an index holds, cheaply: keys are never reused, so any add or removal changes it."""
    return f"{count}:{largest}:{total}"


def content_id(*parts: str, length: int = 16) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[:length]


@dataclass(frozen=True)
class Unit:
    id: str
    name: str


@dataclass(frozen=True)
class DocumentInput:
    """A document as a maintainer hands it in, before normalisation."""

    title: str
    text: str
    date: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class Document:
    id: str
    unit: str
    title: str
    text: str
    date: str | None
    source: str | None
    content_hash: str
    passages: int
    created_at: str


@dataclass(frozen=True)
class Passage:
    """A span ``text[start:end]`` of its document's stored text."""

    id: str
    document_id: str
    unit: str
    seq: int
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class PassageHit:
    """A retrieved passage with the scores that put it there."""

    passage: Passage
    title: str
    date: str | None
    score: float
    dense: float | None = None
    lexical: float | None = None
    dense_rank: int | None = None
    lexical_rank: int | None = None


@dataclass(frozen=True)
class Citation:
    unit: str
    document_id: str
    title: str
    date: str | None
    passage_id: str
    text: str
    start: int
    end: int
    score: float
    # Offsets of the answering sentence inside the passage text, when it comes from this passage.
    highlight: tuple[int, int] | None = None


@dataclass(frozen=True)
class Answer:
    id: str
    question: str
    unit: str | None
    answer: str | None
    confidence: float
    citations: list[Citation] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    # The answer the evidence gave before the abstention threshold: for calibration only.
    draft: str | None = None
    # The reader that produced this answer (lexical, neural, llm), and why the configured one did
    # not, when this answer is its fallback's.
    reader: str = "lexical"
    reader_fallback: str | None = None
    # The standalone question a follow-up was rewritten into, which retrieval searched for.
    rewritten_question: str | None = None

    @property
    def abstained(self) -> bool:
        return self.answer is None


@dataclass(frozen=True)
class Turn:
    """One earlier message of a conversation (a follow-up question's context)."""

    role: Literal["user", "assistant"]
    content: str


# What answering a question yields, in order, when it is streamed: the retrieved passages first,
# then the answer's text in pieces (none when it abstains), then the whole answer.
@dataclass(frozen=True)
class CitationsReady:
    citations: list[Citation]


@dataclass(frozen=True)
class AnswerDelta:
    text: str


@dataclass(frozen=True)
class AnswerDone:
    answer: Answer


AnswerEvent = CitationsReady | AnswerDelta | AnswerDone
