"""The overview's figures per unit, an evaluation's scorecard, and the count of live questions that
evaluations step aside for."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any, get_args

import pytest

from app.activity import ActivityLog
from app.answer.model import AnswerModel
from app.api.evaluation_schemas import EvaluationResultOut, MissOutcome
from app.api.live_traffic import CountLiveQuestions
from app.assistant import Assistant
from app.domain import Answer, DocumentInput
from app.evaluation.dataset import Question
from app.evaluation.history import EvalHistory
from app.evaluation.outcomes import MISSED, Cited, Outcome, Record, summarise
from app.evaluation.results import EvaluationResults
from app.evaluation.scorecard import MAX_MISSES, Scorecard, scorecard
from app.service.live_traffic import LiveTraffic
from app.service.overview import overview
from app.settings import Settings
from app.store import SqlDocumentStore

MEETS, BELOW, NEVER = "so-dat", "so-chua-dat", "so-chua-danh-gia"


def _records(correct: int, wrong: int) -> list[Record]:
    """``correct`` right answers and ``wrong`` abstentions on answerable questions, one false answer."""
    right = [Record(Question(f"r{i}", "?", ("90%",)), "đạt 90%", 0.9, ("đạt 90%",), 1.0) for i in range(correct)]
    missed = [Record(Question(f"w{i}", "?", ("90%",)), None, 0.1, (), 1.0) for i in range(wrong)]
    return [*right, *missed, Record(Question("u", "?", ()), "một câu trả lời", 0.5, ("x",), 1.0)]


def _store(history: EvalHistory, unit: str | None, label: str, records: list[Record]) -> None:
    history.add(label, "corpus", unit, {"embedder": "fake"}, summarise(records), records)


def test_every_unit_with_its_live_figures_and_its_own_last_evaluation(
    tmp_path: Path, make_fake_embedder: Callable[..., Any], settings_factory: Callable[..., Settings]
) -> None:
    settings = settings_factory(tmp_path)
    tmp_path.mkdir(exist_ok=True)
    store = SqlDocumentStore.open(settings.db_url)
    assistant = Assistant(store, make_fake_embedder(), AnswerModel.load(), settings)
    for unit, documents in ((MEETS, 2), (BELOW, 1), (NEVER, 0)):
        assistant.create_unit(unit, f"Sở {unit}")
        for n in range(documents):
            assistant.add_documents(unit, [DocumentInput(title=f"Báo cáo {n}", text=f"Báo cáo số {n} của {unit}.")])
    activity = ActivityLog(store.database)  # the database every store of the data directory shares
    for n, answer in enumerate(["có", None, "có"]):
        activity.record(Answer(f"a{n}", "?", MEETS, answer, 0.5), 10.0)
    activity.feedback("a0", True, None)
    activity.feedback("a2", False, None)
    history = EvalHistory(store.database)
    _store(history, MEETS, "cu.jsonl", _records(1, 9))  # superseded by the next run of the unit
    _store(history, MEETS, "eval/quy-1.jsonl", _records(9, 1))  # 90%: exactly the target
    _store(history, BELOW, "Bộ câu hỏi", _records(8, 2))
    _store(history, None, "tat-ca.jsonl", _records(0, 10))  # over several units: no unit's own

    found = overview(assistant, activity, EvaluationResults(history), target=0.9, days=30)

    assert found.target == 0.9 and found.days == 30
    units = {u.id: u for u in found.units}
    assert sorted(units) == sorted([MEETS, BELOW, NEVER]) and len(found.units) == 3
    meets, below, never = units[MEETS], units[BELOW], units[NEVER]
    assert (meets.name, meets.documents, below.documents, never.documents) == (f"Sở {MEETS}", 2, 1, 0)
    assert (meets.questions_asked, meets.live_answer_rate, meets.helpful_rate) == (3, pytest.approx(2 / 3), 0.5)
    assert (never.questions_asked, never.live_answer_rate, never.helpful_rate) == (0, None, None)
    assert meets.last_eval is not None and below.last_eval is not None
    assert (meets.last_eval.questions, meets.last_eval.answer_rate) == ("eval/quy-1.jsonl", pytest.approx(0.9))
    assert meets.last_eval.false_answer_rate == 1.0
    assert (below.last_eval.questions, below.last_eval.answer_rate) == ("Bộ câu hỏi", pytest.approx(0.8))
    assert (meets.meets_target, below.meets_target) == (True, False)
    assert (never.last_eval, never.meets_target) == (None, None)


def test_the_scorecard_takes_its_figures_from_the_summary_and_lists_at_most_200_misses() -> None:
    cited = Cited("Báo cáo", "Trợ lý ảo trả lời 80% câu hỏi.", (0, 30))
    records = [
        Record(Question(f"q{i:03}", f"Câu {i}?", ("90%",)), "80%", 0.5, (cited.text,), 1.0, first_citation=cited)
        for i in range(MAX_MISSES + 5)
    ] + [
        Record(Question("ok", "?", ("90%",)), "90%", 0.9, ("90%",), 1.0),
        Record(Question("second", "?", ("90%",)), "90%", 0.9, ("khác", "90%"), 1.0),  # found at rank 2
    ]
    summary = summarise(records)
    assert summary.recall_at_1 < summary.recall_at_5
    card = scorecard(summary, records)
    assert (card.answer_rate, card.false_answer_rate) == (summary.answer_rate, summary.false_answer_rate)
    assert (card.recall_at_1, card.recall_at_5, card.outcomes) == (
        summary.recall_at_1,
        summary.recall_at_5,
        summary.outcomes,
    )
    assert list(card.outcomes) == [o.value for o in Outcome]
    assert [m.id for m in card.misses] == [f"q{i:03}" for i in range(MAX_MISSES)]
    first = card.misses[0]
    assert (first.outcome, first.expected, first.answer, first.citation) == ("wrong answer", ["90%"], "80%", cited)
    assert Scorecard.from_json(card.to_json()) == card
    shown = EvaluationResultOut.of(card).model_dump()
    assert shown["misses"][0]["citation"] == {"title": "Báo cáo", "text": cited.text, "highlight": (0, 30)}
    assert set(get_args(MissOutcome)) == {o.value for o in MISSED}


def _scope(path: str, traffic: LiveTraffic, method: str = "POST") -> dict[str, Any]:
    app = SimpleNamespace(state=SimpleNamespace(services=SimpleNamespace(traffic=traffic)))
    return {"type": "http", "method": method, "path": path, "app": app}


@pytest.mark.parametrize(
    ("path", "method", "counted"),
    [
        ("/v1/ask", "POST", True),
        ("/v1/chat/completions", "POST", True),
        ("/v1/stats", "GET", False),
        ("/v1/units/u/evaluations", "POST", False),
    ],
)
def test_live_questions_are_counted_while_they_are_answered(path: str, method: str, counted: bool) -> None:
    traffic = LiveTraffic()
    seen: list[bool] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(traffic.busy)

    async def nothing(*_: Any) -> Any:
        return None

    # In a thread of its own: an earlier test's client may have left an event loop in this one.
    worker = threading.Thread(
        target=asyncio.run, args=(CountLiveQuestions(inner)(_scope(path, traffic, method), nothing, nothing),)
    )
    worker.start()
    worker.join()
    assert seen == [counted]
    assert not traffic.busy
