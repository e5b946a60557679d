"""The ministry's overview: every unit's assistant, its live figures and its last evaluation
against the answer-rate target (Settings.answer_rate_target, the 90% bar)."""

from __future__ import annotations

from dataclasses import dataclass

from app.activity import ActivityLog
from app.assistant import Assistant
from app.evaluation.results import EvaluationResults, LastEvaluation


@dataclass(frozen=True)
class UnitOverview:
    id: str
    name: str
    documents: int
    questions_asked: int  # live questions over the period
    live_answer_rate: float | None  # answered / asked; None before the first question
    helpful_rate: float | None  # helpful / feedback given; None before the first feedback
    last_eval: LastEvaluation | None  # the unit's own newest run, by `troly eval` or by the service
    meets_target: bool | None  # judged on the last evaluation (live traffic has no right answers); None without one


@dataclass(frozen=True)
class Overview:
    target: float
    days: int
    units: list[UnitOverview]


def overview(
    assistant: Assistant, activity: ActivityLog, evaluations: EvaluationResults, target: float, days: int
) -> Overview:
    last = evaluations.latest_per_unit()
    units = []
    for unit in assistant.list_units():
        live = activity.stats(unit.id, days)
        evaluated = last.get(unit.id)
        units.append(
            UnitOverview(
                id=unit.id,
                name=unit.name,
                documents=len(assistant.list_documents(unit.id)),
                questions_asked=live.questions,
                live_answer_rate=live.answer_rate,
                helpful_rate=live.helpful_rate,
                last_eval=evaluated,
                meets_target=None if evaluated is None else evaluated.answer_rate >= target,
            )
        )
    return Overview(target=target, days=days, units=units)
