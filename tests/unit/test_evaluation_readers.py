"""Which reader answered, through an evaluation: the targets' replies (in-process with a scripted
LLM over a real knowledge base, over HTTP from a newer and an older service's body), the records
the runner makes of them, and the history that stores them (runs stored before readers load)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.answer.model import AnswerModel
from app.answer.reader import Generated
from app.assistant import Assistant
from app.domain import DocumentInput, PassageHit, Turn
from app.errors import LLMUnavailable
from app.evaluation.dataset import Question
from app.evaluation.history import EvalHistory
from app.evaluation.outcomes import Outcome, summarise, trade_off
from app.evaluation.report import ReportPage, render
from app.evaluation.runner import run
from app.evaluation.targets import InProcess, OverHttp, Reply
from app.settings import Settings
from app.store import SqlDocumentStore
from app.store.database import sqlite_url
from app.store.migrate import open_upgraded

UNIT = "cuc-vien-thong"
QUESTION = Question("q1", "Trợ lý ảo phải trả lời được bao nhiêu phần trăm câu hỏi?", ("90% câu hỏi",), UNIT)
TIMEOUT = "the LLM did not answer within 30 s"


class Scripted:
    """An LLM that writes ``text`` citing the first passage, or fails as a timed-out one does."""

    name = "llm"

    def __init__(self, text: str | None) -> None:
        self.text = text

    def rewrite(self, question: str, history: Sequence[Turn]) -> str:
        return question

    def generate(self, question: str, passages: Sequence[PassageHit]) -> ScriptedGeneration:
        return ScriptedGeneration(self.text)


class ScriptedGeneration:
    def __init__(self, text: str | None) -> None:
        self.text = text

    def __iter__(self) -> Iterator[str]:
        if self.text is None:
            raise LLMUnavailable(TIMEOUT)
        yield self.text

    @property
    def result(self) -> Generated:
        return Generated(self.text, [0])


@pytest.fixture()
def with_llm(tmp_path: Path, fake_embedder: object) -> Callable[[str | None], Assistant]:
    def open_(text: str | None) -> Assistant:
        # Threshold 0: the fallback is about who answers, not whether the extractive reader dares to.
        settings = Settings(_env_file=None, data_dir=tmp_path / "data", abstain_threshold=0.0)  # type: ignore[call-arg]
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        assistant = Assistant(
            SqlDocumentStore.open(settings.db_url),
            fake_embedder,  # type: ignore[arg-type]
            AnswerModel.load(),
            settings,
            generator=Scripted(text),
        )
        if UNIT not in [u.id for u in assistant.list_units()]:
            assistant.create_unit(UNIT, "Cục Viễn thông")
            assistant.add_documents(
                UNIT,
                [
                    DocumentInput(
                        title="Giao ban",
                        text="Bộ trưởng yêu cầu trợ lý ảo phải trả lời được 90% câu hỏi của cán bộ.",
                    ),
                    DocumentInput(title="Tắt sóng 2G", text="Từ ngày 15/9/2024 sẽ tắt sóng 2G theo quy định."),
                ],
            )
        return assistant

    return open_


def test_an_llm_answer_with_a_marker_inside_the_fact_is_scored_correct_and_named(
    with_llm: Callable[[str | None], Assistant],
) -> None:
    target = InProcess(with_llm("Trợ lý ảo phải trả lời được 90%[1] câu hỏi."))
    (record,) = run([QUESTION], target)
    assert (record.reader, record.reader_fallback) == ("llm", None)
    assert record.outcome is Outcome.CORRECT
    assert target.describe()["settings"]["reader"] == "llm"
    # An LLM has no draft apart from its answer: the trade-off counts what it wrote.
    assert trade_off([record], [0.5])[0].answer_rate == 1.0


def test_the_extractive_fallback_is_recorded_with_why_and_counted_apart(
    with_llm: Callable[[str | None], Assistant],
) -> None:
    (record,) = run([QUESTION], InProcess(with_llm(None)))
    assert (record.reader, record.reader_fallback) == ("lexical", TIMEOUT)
    assert record.answer is not None and "90%" in record.answer
    assert summarise([record]).readers == {"lexical (fallback)": 1}


def _over_http(body: dict[str, Any]) -> OverHttp:
    target = OverHttp("http://troly.test")
    target._client = httpx.Client(
        base_url="http://troly.test", transport=httpx.MockTransport(lambda _: httpx.Response(200, json=body))
    )
    return target


BODY = {"answer": "đạt 90% câu hỏi [1]", "confidence": 1.0, "citations": [{"text": "90% câu hỏi"}]}


def test_over_http_the_reader_comes_from_the_body_and_an_older_service_says_none() -> None:
    newer = _over_http({**BODY, "reader": "lexical", "reader_fallback": "cannot reach the LLM"})
    reply = newer.ask(QUESTION.question, UNIT, 5)
    assert (reply.reader, reply.reader_fallback) == ("lexical", "cannot reach the LLM")
    older = _over_http(BODY)  # a service from before the LLM reader: neither field
    reply = older.ask(QUESTION.question, UNIT, 5)
    assert (reply.answer, reply.reader, reply.reader_fallback) == ("đạt 90% câu hỏi [1]", None, None)


def test_a_run_keeps_its_readers_in_the_history_and_the_report(tmp_path: Path) -> None:
    history = EvalHistory(open_upgraded(sqlite_url(tmp_path / "troly.sqlite3")))
    records = run([QUESTION, QUESTION], _Replies())
    saved = history.add("questions.jsonl", "corpus", UNIT, {"target": "in-process"}, summarise(records), records)
    (stored,) = history.runs()
    assert stored.summary["readers"] == saved.summary["readers"] == {"lexical (fallback)": 1, "llm": 1}
    loaded = stored.outcome_records()
    assert [(r.reader, r.reader_fallback) for r in loaded] == [("llm", None), ("lexical", TIMEOUT)]
    assert "<p>Readers (questions each answered): lexical (fallback) 1, llm 1.</p>" in render(
        ReportPage.of([stored], 0.9)
    )


class _Replies:
    """A target whose first reply is the LLM's and whose second is its fallback's."""

    def __init__(self) -> None:
        self.asked = 0

    def ask(self, question: str, unit: str | None, top_k: int) -> Reply:
        self.asked += 1
        if self.asked == 1:
            return Reply("90% câu hỏi [1]", 1.0, ("90% câu hỏi",), 5.0, reader="llm")
        return Reply("90% câu hỏi", 0.7, ("90% câu hỏi",), 5.0, reader="lexical", reader_fallback=TIMEOUT)

    def describe(self) -> dict[str, Any]:
        return {}


# A run as history stored it before readers were recorded: no reader in its records or summary.
OLD_SUMMARY = {
    "questions": 1,
    "answerable": 1,
    "unanswerable": 0,
    "outcomes": {"correct answer": 1, "wrong answer": 0, "false abstention": 0, "correct abstention": 0},
    "answer_rate": 1.0,
    "cited_answer_rate": 1.0,
    "false_answer_rate": 0.0,
    "recall_at_1": 1.0,
    "recall_at_5": 1.0,
    "mrr": 1.0,
    "latency_p50_ms": 12.0,
    "latency_p95_ms": 12.0,
}
OLD_RECORD = {
    "id": "q1",
    "question": QUESTION.question,
    "answers": ["90% câu hỏi"],
    "answer": "trả lời được 90% câu hỏi",
    "draft": "trả lời được 90% câu hỏi",
    "confidence": 0.8,
    "outcome": "correct answer",
    "rank": 1,
    "cited": "trả lời được 90% câu hỏi của cán bộ",
    "latency_ms": 12.0,
}


def test_runs_stored_before_readers_were_recorded_still_load(tmp_path: Path) -> None:
    path = tmp_path / "troly.sqlite3"
    open_upgraded(sqlite_url(path)).close()  # creates the table
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO evaluation_runs (created_at, questions, corpus, unit, target, summary, records)"
            " VALUES ('2024-07-01T00:00:00+00:00', 'questions.jsonl', 'corpus', NULL, ?, ?, ?)",
            (
                json.dumps({"target": "in-process", "settings": {"reader": "LexicalReader"}}),
                json.dumps(OLD_SUMMARY),
                json.dumps([OLD_RECORD], ensure_ascii=False),
            ),
        )
    (old,) = EvalHistory(open_upgraded(sqlite_url(path))).runs()
    (record,) = old.outcome_records()
    assert (record.reader, record.reader_fallback) == (None, None)
    assert record.outcome is Outcome.CORRECT
    page = render(ReportPage.of([old], 0.9))
    assert page.startswith("<!doctype html>") and "Readers" not in page
