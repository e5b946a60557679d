"""An evaluation's result as the service shows it: the figures of ``summarise`` (the same counting
as ``troly eval``) and the misses a maintainer can act on, each with the passage it was answered from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from app.evaluation.outcomes import MISSED, Cited, Record, Summary

# Enough to read and fix; a set that misses more has a problem the figures already show.
MAX_MISSES = 200


@dataclass(frozen=True)
class Miss:
    id: str
    question: str
    expected: list[str]  # empty: the assistant should have abstained
    answer: str | None  # None: it abstained
    outcome: str  # an Outcome's value: wrong answer, false abstention or false answer
    citation: Cited | None  # the first passage cited, whatever the outcome


@dataclass(frozen=True)
class Scorecard:
    answer_rate: float
    false_answer_rate: float
    recall_at_1: float
    recall_at_5: float
    outcomes: dict[str, int]  # every Outcome's value, in Outcome's order
    misses: list[Miss]  # in the set's order, at most MAX_MISSES

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Scorecard:
        misses = [
            Miss(**{**m, "citation": _cited(m["citation"]) if m["citation"] is not None else None})
            for m in data["misses"]
        ]
        return cls(**{**data, "misses": misses})


def _cited(data: dict[str, Any]) -> Cited:
    highlight = data["highlight"]
    return Cited(data["title"], data["text"], (highlight[0], highlight[1]) if highlight is not None else None)


def scorecard(summary: Summary, records: Sequence[Record]) -> Scorecard:
    """``summary`` is ``summarise(records)``: the figures are taken from it, never recounted."""
    misses = [
        Miss(
            id=r.question.id,
            question=r.question.question,
            expected=list(r.question.answers),
            answer=r.answer,
            outcome=r.outcome.value,
            citation=r.first_citation,
        )
        for r in records
        if r.outcome in MISSED
    ]
    return Scorecard(
        answer_rate=summary.answer_rate,
        false_answer_rate=summary.false_answer_rate,
        recall_at_1=summary.recall_at_1,
        recall_at_5=summary.recall_at_5,
        outcomes=dict(summary.outcomes),
        misses=misses[:MAX_MISSES],
    )
