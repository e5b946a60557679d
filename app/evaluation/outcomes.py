"""SQuAD 2.0 outcome counting and the figures derived from it."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from app.evaluation.dataset import Question
from app.text.normalize import fold


class Outcome(Enum):
    CORRECT = "correct answer"
    WRONG = "wrong answer"
    FALSE_ABSTENTION = "false abstention"
    CORRECT_ABSTENTION = "correct abstention"
    FALSE_ANSWER = "false answer"


# An LLM reader's citation markers: "[1]", "[2][1]", "[1, 2]". They sit wherever the model put
# them, inside a fact too ("68.400[1] tỷ đồng"), so they go before the fact is looked for.
_MARKERS = re.compile(r"\s*\[\d+(?:\s*[,;]\s*\d+)*\]")


def contains_answer(text: str | None, answers: Sequence[str]) -> bool:
    """An answer counts when it contains any expected answer, compared after normalisation and
    without citation markers (a generated answer is scored by the gold fact appearing in it)."""
    if not text:
        return False
    haystack = fold(_MARKERS.sub("", text))
    return any(fold(a) in haystack for a in answers if a.strip())


# What an evaluation lists as its misses: the outcomes a maintainer has something to fix for.
MISSED = frozenset({Outcome.WRONG, Outcome.FALSE_ABSTENTION, Outcome.FALSE_ANSWER})


@dataclass(frozen=True)
class Cited:
    """The first passage an answer cited, as a maintainer reads it next to a miss."""

    title: str
    text: str
    highlight: tuple[int, int] | None  # the answering sentence inside ``text``, when it is there


def classify(question: Question, answer: str | None) -> Outcome:
    if question.answerable:
        if answer is None:
            return Outcome.FALSE_ABSTENTION
        return Outcome.CORRECT if contains_answer(answer, question.answers) else Outcome.WRONG
    return Outcome.CORRECT_ABSTENTION if answer is None else Outcome.FALSE_ANSWER


@dataclass(frozen=True)
class Record:
    """One question as asked, with what came back."""

    question: Question
    answer: str | None
    confidence: float
    citations: tuple[str, ...]  # cited passage texts, best first
    latency_ms: float
    draft: str | None = None  # the answer before the abstention threshold, when known
    # The reader that produced the answer (lexical, neural, llm) and, when it is the extractive
    # fallback's, why the configured reader did not answer; None when the target did not say.
    reader: str | None = None
    reader_fallback: str | None = None
    # The first citation whole (title, highlight), when the target gave it: ``citations`` has texts only.
    first_citation: Cited | None = None
    outcome: Outcome = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "outcome", classify(self.question, self.answer))

    @property
    def answer_rank(self) -> int | None:
        """1-based rank of the first cited passage holding an expected answer."""
        for rank, text in enumerate(self.citations, 1):
            if contains_answer(text, self.question.answers):
                return rank
        return None


@dataclass(frozen=True)
class Summary:
    questions: int
    answerable: int
    unanswerable: int
    outcomes: dict[str, int]
    answer_rate: float  # correct answers / answerable questions
    # correct answers whose first citation also holds an expected answer / answerable questions
    cited_answer_rate: float
    false_answer_rate: float  # answered / unanswerable questions
    recall_at_1: float
    recall_at_5: float
    mrr: float
    latency_p50_ms: float
    latency_p95_ms: float
    # Questions per reader that answered them (abstentions included), most first; the extractive
    # fallback's as "<reader> (fallback)", so that an LLM run's fallbacks are not mistaken for it.
    readers: dict[str, int]

    def meets(self, target: float) -> bool:
        return self.answer_rate >= target


@dataclass(frozen=True)
class TradeOffPoint:
    threshold: float
    answer_rate: float
    false_answer_rate: float


def trade_off(records: Sequence[Record], thresholds: Sequence[float] | None = None) -> list[TradeOffPoint]:
    """Answer rate against false-answer rate at each threshold (default: 0, 0.02, ... 1), counted
    from the drafts and confidences of one run as if it had abstained below that threshold."""
    answerable = [r for r in records if r.question.answerable]
    unanswerable = [r for r in records if not r.question.answerable]
    points = []
    for t in thresholds if thresholds is not None else [i / 50 for i in range(51)]:
        correct = sum(
            1 for r in answerable if r.draft and r.confidence >= t and contains_answer(r.draft, r.question.answers)
        )
        false = sum(1 for r in unanswerable if r.draft and r.confidence >= t)
        points.append(TradeOffPoint(t, _share(correct, len(answerable)), _share(false, len(unanswerable))))
    return points


def roc_auc(positive: Sequence[float], negative: Sequence[float]) -> float:
    """The chance that a positive scores above a negative (ties count half); nan without both."""
    if not positive or not negative:
        return float("nan")
    p = np.asarray(positive, dtype=np.float64)[:, None]
    n = np.asarray(negative, dtype=np.float64)[None, :]
    return float((p > n).mean() + 0.5 * (p == n).mean())


def confidence_auc(records: Sequence[Record]) -> float:
    """ROC AUC of the confidence: drafts that hold an expected answer against every other question
    (wrong drafts, unanswerable ones), i.e. how well the confidence orders what to answer; nan
    with one class only."""
    right = [bool(r.question.answerable and contains_answer(r.draft or r.answer, r.question.answers)) for r in records]
    return roc_auc(
        [r.confidence for r, ok in zip(records, right, strict=True) if ok],
        [r.confidence for r, ok in zip(records, right, strict=True) if not ok],
    )


def _share(n: int, d: int) -> float:
    return n / d if d else 0.0


def reader_counts(records: Sequence[Record]) -> dict[str, int]:
    """Questions per reader, most first (then by name); records whose target did not say are left out."""
    counts = Counter(
        f"{r.reader} (fallback)" if r.reader_fallback is not None else r.reader for r in records if r.reader is not None
    )
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def readers_text(readers: Mapping[str, int]) -> str:
    """``llm 240, lexical (fallback) 16``, as ``troly eval`` and the report show a run's readers."""
    return ", ".join(f"{name} {count}" for name, count in readers.items()) or "not reported by the target"


def summarise(records: Sequence[Record]) -> Summary:
    counts = Counter(r.outcome for r in records)
    answerable = [r for r in records if r.question.answerable]
    unanswerable = len(records) - len(answerable)
    ranks = [r.answer_rank for r in answerable]
    latencies = np.array([r.latency_ms for r in records]) if records else np.zeros(1)
    return Summary(
        questions=len(records),
        answerable=len(answerable),
        unanswerable=unanswerable,
        outcomes={o.value: counts.get(o, 0) for o in Outcome},
        answer_rate=_share(counts[Outcome.CORRECT], len(answerable)),
        cited_answer_rate=_share(
            sum(1 for r in answerable if r.outcome is Outcome.CORRECT and r.answer_rank == 1), len(answerable)
        ),
        false_answer_rate=_share(counts[Outcome.FALSE_ANSWER], unanswerable),
        recall_at_1=_share(sum(1 for k in ranks if k == 1), len(answerable)),
        recall_at_5=_share(sum(1 for k in ranks if k is not None and k <= 5), len(answerable)),
        mrr=sum(1.0 / k for k in ranks if k) / len(answerable) if answerable else 0.0,
        latency_p50_ms=float(np.percentile(latencies, 50)),
        latency_p95_ms=float(np.percentile(latencies, 95)),
        readers=reader_counts(records),
    )
