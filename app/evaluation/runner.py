"""Asking every question of a set and summarising what came back.

``evaluate`` is the one evaluation there is: ``troly eval`` and the service's evaluation jobs
(``app.service.evaluation_jobs``) both call it, so that a run counts the same wherever it starts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.evaluation.dataset import Question
from app.evaluation.history import EvalHistory, Run
from app.evaluation.outcomes import Record, Summary, summarise
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
                first_citation=reply.first_citation,
            )
        )
        if progress:
            progress(1)
    return records


@dataclass(frozen=True)
class Evaluated:
    """One evaluation: what was asked and answered, its figures, and the run the history stored."""

    records: list[Record]
    summary: Summary
    run: Run


def evaluate(
    questions: Sequence[Question],
    target: Target,
    history: EvalHistory,
    *,
    label: str,
    corpus: str | None,
    details: Mapping[str, Any] | None = None,
    top_k: int = 5,
    progress: Callable[[int], None] | None = None,
) -> Evaluated:
    """Asks ``questions`` of ``target``, counts SQuAD 2.0 outcomes and stores the run in ``history``.

    ``label``: the question set as the history names it (a path, a stored set's name); ``corpus``:
    what was asked (a corpus path, a URL, a unit's live knowledge base); ``details``: added to the
    target's description (the part, the evaluation job). The run is scoped to a unit when every
    question names the same one.
    """
    description = {**target.describe(), **(details or {})}
    records = run(questions, target, top_k=top_k, progress=progress)
    summary = summarise(records)
    units = {q.unit for q in questions}
    unit = units.pop() if len(units) == 1 else None
    saved = history.add(label, corpus, unit, description, summary, records)
    return Evaluated(records, summary, saved)
