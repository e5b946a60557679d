"""Evaluations run by the service, over a fake-embedder assistant (real SQLite, FAISS and BM25): the
result is the shared counting's, one job at a time per unit, a bounded queue, a clean stop, and the
jobs a dead process left behind."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.answer.model import AnswerModel
from app.assistant import Assistant
from app.domain import DocumentInput
from app.errors import EvaluationQueueFull, EvaluationRunning, NotReady, QuestionSetMissing
from app.evaluation.dataset import Question
from app.evaluation.history import EvalHistory
from app.evaluation.outcomes import MISSED, summarise
from app.evaluation.question_sets import QuestionSets
from app.evaluation.runner import run
from app.evaluation.scorecard import scorecard
from app.evaluation.targets import InProcess
from app.service import evaluation_jobs
from app.service.evaluation_jobs import ORPHANED, STOPPED, EvaluationJobs
from app.service.evaluation_records import EvaluationJob, EvaluationRecords
from app.service.live_traffic import LiveTraffic
from app.service.process_mark import ProcessMark
from app.settings import Settings
from app.store import SqlDocumentStore, schema
from app.store.database import Database

UNIT, OTHER, THIRD = "cuc-vien-thong", "cuc-luu-tru", "so-tttt"
DOC = DocumentInput(
    title="Hội nghị giao ban tháng 6/2024",
    text=(
        "Bộ trưởng yêu cầu trợ lý ảo phải trả lời được 90% câu hỏi của cán bộ, công chức.\n\n"
        "Tất cả 34 đơn vị thuộc Bộ phải xây dựng trợ lý ảo cho đơn vị mình.\n\n"
        "Từ ngày 15/9/2024 sẽ tắt sóng 2G theo quy định."
    ),
)
QUESTIONS = [
    Question("q1", "Trợ lý ảo phải trả lời được bao nhiêu phần trăm câu hỏi?", ("90%",)),
    Question("q2", "Bao nhiêu đơn vị thuộc Bộ phải xây dựng trợ lý ảo?", ("34 đơn vị",)),
    Question("q3", "Khi nào tắt sóng 2G?", ("999 tỷ đồng",)),  # the documents cannot make it right
    Question("q4", "Giá vé máy bay từ Hà Nội đi Paris là bao nhiêu?", ()),
]
FINISHED = ("done", "failed")


@dataclass
class World:
    settings: Settings
    database: Database
    assistant: Assistant
    sets: QuestionSets
    history: EvalHistory
    traffic: LiveTraffic
    opened: list[EvaluationJobs]

    def jobs(self, pause_s: float = 0.0, max_pending: int = 8) -> EvaluationJobs:
        jobs = EvaluationJobs(
            self.assistant,
            self.sets,
            EvaluationRecords(self.database),
            self.history,
            self.traffic,
            ProcessMark(self.settings.data_dir),
            pause_s,
            max_pending,
        )
        self.opened.append(jobs)
        return jobs


@pytest.fixture()
def world(
    tmp_path: Path, make_fake_embedder: Callable[..., object], settings_factory: Callable[..., Settings]
) -> Iterator[World]:
    # Threshold 0: every question is answered, so that the misses hold wrong and false answers too.
    settings = settings_factory(tmp_path, abstain_threshold=0.0, max_question_chars=200)
    tmp_path.mkdir(exist_ok=True)
    store = SqlDocumentStore.open(settings.db_url)
    assistant = Assistant(store, make_fake_embedder(), AnswerModel.load(), settings)  # type: ignore[arg-type]
    for unit in (UNIT, OTHER, THIRD):
        assistant.create_unit(unit, unit)
        assistant.add_documents(unit, [DOC])
    database = store.database  # the jobs, sets and history live beside the documents
    sets = QuestionSets(database, max_question_chars=1000)
    w = World(settings, database, assistant, sets, EvalHistory(database), LiveTraffic(), [])
    yield w
    for jobs in w.opened:
        jobs.close()


def finished(jobs: EvaluationJobs, job_id: str) -> EvaluationJob:
    """The job once it is done or failed (the deadline only guards against a hang)."""
    deadline = time.monotonic() + 120
    while (job := jobs.get(job_id)).status not in FINISHED:
        assert time.monotonic() < deadline, job
        time.sleep(0.01)
    return job


def test_a_job_counts_as_the_shared_counting_and_is_stored_in_the_history(world: World) -> None:
    chosen = world.sets.add(UNIT, "Quý I/2025", QUESTIONS)
    jobs = world.jobs()
    queued = jobs.start(UNIT, chosen.id)
    assert (queued.status, queued.unit, queued.question_set, queued.question_set_name) == (
        "queued",
        UNIT,
        chosen.id,
        "Quý I/2025",
    )
    assert queued.result is None and queued.finished_at is None and queued.error is None
    job = finished(jobs, queued.id)
    assert job.status == "done", job.error
    assert job.progress == 1.0 and job.finished_at is not None and job.error is None
    # The same questions asked of the same assistant, counted by app.evaluation directly.
    records = run([Question(q.id, q.question, q.answers, UNIT) for q in QUESTIONS], InProcess(world.assistant))
    expected = scorecard(summarise(records), records)
    assert job.result == expected
    outcomes = expected.outcomes
    assert sum(outcomes.values()) == len(QUESTIONS) and outcomes["false answer"] == 1 and outcomes["wrong answer"] >= 1
    assert [m.id for m in expected.misses] == [r.question.id for r in records if r.outcome in MISSED]
    assert all(m.citation is not None and m.citation.title == DOC.title for m in expected.misses)
    # In the evaluation history, scoped to the unit, as `troly eval` runs are.
    [stored] = world.history.runs()
    assert (job.run, stored.unit, stored.questions) == (stored.id, UNIT, "Quý I/2025")
    assert stored.target["evaluation"] == job.id and stored.target["question_set"] == chosen.id
    assert stored.summary["outcomes"] == outcomes and stored.summary["answer_rate"] == expected.answer_rate
    assert jobs.recent(UNIT) == [job] and jobs.recent(OTHER) == []


def test_one_evaluation_at_a_time_per_unit_and_a_bounded_queue(world: World) -> None:
    sets = {unit: world.sets.add(unit, "bộ", QUESTIONS).id for unit in (UNIT, OTHER, THIRD)}
    jobs = world.jobs(pause_s=60.0, max_pending=2)  # each job waits a minute before its first question
    first = jobs.start(UNIT, sets[UNIT])
    with pytest.raises(EvaluationRunning):
        jobs.start(UNIT, sets[UNIT])
    second = jobs.start(OTHER, sets[OTHER])  # another unit may have its own
    with pytest.raises(EvaluationQueueFull):
        jobs.start(THIRD, sets[THIRD])
    with pytest.raises(QuestionSetMissing):
        jobs.start(THIRD, sets[UNIT])  # a set is its own unit's
    jobs.close()  # does not wait out the pause
    for job_id in (first.id, second.id):
        stopped = jobs.get(job_id)
        assert (stopped.status, stopped.error) == ("failed", STOPPED)
        assert stopped.finished_at is not None and stopped.result is None
    assert world.history.runs() == []
    with pytest.raises(NotReady):
        jobs.start(THIRD, sets[THIRD])
    # Failed jobs no longer hold their unit.
    again = world.jobs()
    assert finished(again, again.start(UNIT, sets[UNIT]).id).status == "done"


def test_jobs_a_dead_process_left_queued_or_running_are_failed_at_start(world: World) -> None:
    records = EvaluationRecords(world.database)
    dead = records.create(UNIT, "set-1", "bộ", owner="0123456789abcdef", max_pending=8)
    records.started(dead.id)
    living = ProcessMark(world.settings.data_dir)  # another worker process, still running
    kept = records.create(OTHER, "set-2", "bộ", owner=living.token, max_pending=8)
    world.jobs()
    assert (records.get(dead.id).status, records.get(dead.id).error) == ("failed", ORPHANED)
    assert records.get(kept.id).status == "queued"
    living.close()  # now that process is gone too
    world.jobs()
    assert (records.get(kept.id).status, records.get(kept.id).error) == ("failed", ORPHANED)


def test_a_process_beats_for_its_jobs_while_they_run(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Other replicas judge a job they cannot see the process of by its beats: they go on while it runs."""
    monkeypatch.setattr(evaluation_jobs, "BEAT_S", 0.01)
    chosen = world.sets.add(UNIT, "Quý I/2025", QUESTIONS)
    jobs = world.jobs(pause_s=60.0)  # the job stays running, pausing before its first question

    def beat_at(job_id: str) -> str:
        with world.database.read() as conn:
            value = conn.scalar(
                sa.select(schema.evaluation_jobs.c.beat_at).where(schema.evaluation_jobs.c.id == job_id)
            )
        assert isinstance(value, str)
        return value

    job = jobs.start(UNIT, chosen.id)
    deadline = time.monotonic() + 60  # only a guard against a hang
    while jobs.get(job.id).status != "running":  # started (which sets the time too), then paused
        assert time.monotonic() < deadline, "not started"
        time.sleep(0.01)
    first = beat_at(job.id)
    while beat_at(job.id) == first:
        assert time.monotonic() < deadline, "no beat"
        time.sleep(0.01)
    assert jobs.get(job.id).status == "running"
    jobs.close()
    assert jobs.get(job.id).status == "failed"


def test_a_question_the_assistant_refuses_fails_the_job_with_the_reason(world: World) -> None:
    too_long = Question("long", "Câu hỏi này dài hơn giới hạn hai trăm ký tự của dịch vụ? " * 5, ("có",))
    chosen = world.sets.add(UNIT, "dài", [QUESTIONS[0], too_long])  # the sets allow 1000 characters
    jobs = world.jobs()
    job = finished(jobs, jobs.start(UNIT, chosen.id).id)
    assert job.status == "failed" and job.result is None
    assert job.error is not None and "longer than 200 characters" in job.error
    assert world.history.runs() == []


def test_a_queued_job_runs_on_after_its_set_is_deleted(world: World) -> None:
    chosen = world.sets.add(UNIT, "sẽ xoá", QUESTIONS)
    jobs = world.jobs(pause_s=0.2)
    started = jobs.start(UNIT, chosen.id)
    world.sets.delete(UNIT, chosen.id)
    job = finished(jobs, started.id)
    assert (job.status, job.question_set, job.question_set_name) == ("done", chosen.id, "sẽ xoá")


def test_a_lull_is_no_live_question_in_flight_nor_answered_lately() -> None:
    traffic = LiveTraffic()
    assert traffic.wait_lull(lull_s=60, timeout_s=0) and not traffic.busy  # nothing was ever asked
    with traffic.answering():
        with traffic.answering():
            assert traffic.busy and not traffic.wait_lull(lull_s=0, timeout_s=0)
        assert traffic.busy and not traffic.wait_lull(lull_s=0, timeout_s=0.01)
    assert not traffic.busy
    assert not traffic.wait_lull(lull_s=60, timeout_s=0.01)  # answered a moment ago: no lull yet
    assert traffic.wait_lull(lull_s=0.05, timeout_s=60)  # a lull comes once nothing is asked for a while
