"""Asking every question of a set and summarising what came back."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from app.evaluation.dataset import Question
from app.evaluation.outcomes import Record
from app.evaluation.targets import Target


def run(
    questions: Sequence[Question],
    target: Target,
    top_k: int = 5,
    progress: Callable[[int], None] | None = None,
) -> list[Record]:
    records = []
    for question in questions:
        reply = target.ask(question.question, question.unit, top_k)
        records.append(
            Record(
                question,
                reply.answer,
                reply.confidence,
                reply.citations,
                reply.latency_ms,
                draft=reply.draft,
                reader=reply.reader,
                reader_fallback=reply.reader_fallback,
            )
        )
        if progress:
            progress(1)
    return records
