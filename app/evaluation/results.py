"""The last evaluation's figures, as the service shows them (``/v1/stats``, the dashboard).

The service reads evaluation results through this, never through the history's runs and
records: it needs a handful of figures, not how runs are stored.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.evaluation.history import EvalHistory, RunHead


@dataclass(frozen=True)
class LastEvaluation:
    run: int
    at: str
    questions: str  # the question set's path
    embedder: str | None
    answer_rate: float
    false_answer_rate: float
    recall_at_1: float
    recall_at_5: float
    mrr: float


class EvaluationResults:
    def __init__(self, history: EvalHistory) -> None:
        self._history = history

    def latest(self, unit: str | None = None) -> LastEvaluation | None:
        """The newest run, preferring one scoped to ``unit`` when asked for one."""
        run = self._history.latest(unit)
        return None if run is None else _last(run)

    def latest_per_unit(self) -> dict[str, LastEvaluation]:
        """Each unit's own newest run (never another unit's, nor one over several units)."""
        return {unit: _last(run) for unit, run in self._history.latest_per_unit().items()}


def _last(run: RunHead) -> LastEvaluation:
    s = run.summary
    return LastEvaluation(
        run=run.id,
        at=run.created_at,
        questions=run.questions,
        embedder=run.target.get("embedder"),
        answer_rate=s["answer_rate"],
        false_answer_rate=s["false_answer_rate"],
        recall_at_1=s["recall_at_1"],
        recall_at_5=s["recall_at_5"],
        mrr=s["mrr"],
    )
