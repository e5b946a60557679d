"""The stores beside the documents, on SQLite and on a real PostgreSQL: API keys and their audit, the
activity log, the evaluation history, question sets and evaluation jobs keep the same contract on both
backends; and two ``Database`` handles on one PostgreSQL, as two replicas have, see each other's writes."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from postgres_server import PostgresServer

from app.access import AccessControl, Principal
from app.activity import MAX_COMMENT_CHARS, ActivityLog
from app.domain import Answer, Citation
from app.errors import (
    AnswerNotFound,
    EvaluationNotFound,
    EvaluationQueueFull,
    EvaluationRunning,
    InvalidInput,
    NotFound,
    QuestionSetNotFound,
    Unauthorized,
)
from app.evaluation.dataset import Question
from app.evaluation.history import EvalHistory, Run
from app.evaluation.outcomes import Record, summarise
from app.evaluation.question_sets import QuestionSets
from app.evaluation.scorecard import scorecard
from app.service.evaluation_records import EvaluationRecords
from app.service.process_mark import ProcessMark
from app.store.database import Database, sqlite_url
from app.store.migrate import open_upgraded
from app.store.schema import evaluation_jobs

UNIT, OTHER = "cuc-vien-thong", "cuc-buu-dien"
Opener = Callable[[], Database]


@pytest.fixture(params=["sqlite", "postgresql"])
def open_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens handles on one new database of the backend: each call is another process's (replica's)."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path / "data" / "troly.sqlite3")
    else:
        url = request.getfixturevalue("postgres").new_database()
    opened: list[Database] = []

    def open_() -> Database:
        opened.append(open_upgraded(url))
        return opened[-1]

    yield open_
    for database in opened:
        database.close()


@pytest.fixture()
def database(open_database: Opener) -> Database:
    return open_database()


@pytest.fixture()
def replicas(postgres: PostgresServer) -> Iterator[tuple[Database, Database]]:
    """Two handles on one PostgreSQL, each with its own engine and pool: two replicas."""
    url = postgres.new_database()
    first, second = open_upgraded(url), open_upgraded(url)
    yield first, second
    first.close()
    second.close()


def _answer(answer_id: str, answer: str | None, unit: str | None = UNIT) -> Answer:
    return Answer(answer_id, "Khi nào tắt sóng 2G?", unit, answer, 0.75 if answer else 0.05)


def _records(right: int, missed: int) -> list[Record]:
    hit = [Record(Question(f"r{i}", "?", ("90%",)), "đạt 90%", 0.9, ("đạt 90%",), 1.0) for i in range(right)]
    miss = [Record(Question(f"m{i}", "?", ("90%",)), None, 0.1, (), 1.0) for i in range(missed)]
    return hit + miss


QUESTIONS = [
    Question("q1", "Trợ lý ảo phải trả lời được bao nhiêu phần trăm câu hỏi?", ("90%", "90 phần trăm")),
    Question("q2", "Giá vé máy bay từ Hà Nội đi Paris là bao nhiêu?", ()),
]


# -- keys and audit -----------------------------------------------------------------------------------
def test_keys_are_created_listed_authenticated_and_revoked(database: Database) -> None:
    access = AccessControl(database, admin_key="env-secret")
    admin, admin_key = access.create_key("admin")
    maintainer, maintainer_key = access.create_key("maintainer", [UNIT, OTHER, UNIT])
    reader, reader_key = access.create_key("reader")
    assert maintainer.units == (UNIT, OTHER)  # duplicates dropped, order kept
    assert [k.id for k in access.list_keys()] == [admin.id, maintainer.id, reader.id]  # oldest first
    assert access.authenticate(maintainer_key) == Principal(maintainer.id, "maintainer", (UNIT, OTHER))
    assert access.authenticate(admin_key) == Principal(admin.id, "admin")
    assert access.authenticate("env-secret") == Principal("env-admin", "admin")
    assert access.authenticate(None) is None

    revoked = access.revoke(reader.id)
    assert revoked.revoked_at is not None and revoked.id == reader.id
    assert access.revoke(reader.id).revoked_at == revoked.revoked_at  # revoking again changes nothing
    with pytest.raises(Unauthorized):
        access.authenticate(reader_key)
    with pytest.raises(Unauthorized):
        access.authenticate("troly_not-a-key")
    with pytest.raises(NotFound):
        access.revoke("khong-co")
    assert [k.revoked_at is not None for k in access.list_keys()] == [False, False, True]


@pytest.mark.parametrize(
    ("role", "units", "says"),
    [("owner", [], "role must be one of"), ("maintainer", [], "at least one unit"), ("reader", ["Bad Unit"], "slugs")],
)
def test_a_bad_key_request_is_refused_and_stores_nothing(
    database: Database, role: str, units: list[str], says: str
) -> None:
    access = AccessControl(database)
    with pytest.raises(InvalidInput, match=says):
        access.create_key(role, units)
    assert access.list_keys() == []


def test_the_audit_log_is_newest_first_per_unit_with_its_details(database: Database) -> None:
    access = AccessControl(database)
    who = Principal("k1", "maintainer", (UNIT,))
    access.audit(who, "document.add", UNIT, "d1", {"title": "Tắt sóng 2G", "passages": 2})
    access.audit(who, "document.delete", UNIT, "d1")
    access.audit(Principal("cli", "admin"), "key.create", None, "k2", {"role": "reader"})
    log = access.audit_log()
    assert [e.action for e in log] == ["key.create", "document.delete", "document.add"]
    assert [e.seq for e in log] == sorted((e.seq for e in log), reverse=True)
    assert log[2].detail == {"title": "Tắt sóng 2G", "passages": 2} and log[1].detail == {}
    assert [e.target for e in access.audit_log(unit=UNIT)] == ["d1", "d1"]
    assert [e.action for e in access.audit_log(limit=1)] == ["key.create"]
    assert access.audit_log(unit=OTHER) == []


# -- activity -----------------------------------------------------------------------------------------
def test_questions_and_feedback_add_up_per_day_and_unit(database: Database) -> None:
    activity = ActivityLog(database)
    activity.record(_answer("a1", "Từ 15/9/2024"), 12.345)
    activity.record(_answer("a2", None), 8.0)
    # Put to every unit: it counts for the unit of the passage it was answered from.
    cited = replace(
        _answer("a3", "800 doanh nghiệp", unit=None),
        citations=[Citation(OTHER, "d", "Bưu chính", None, "p", "800 doanh nghiệp", 0, 16, 0.9)],
    )
    activity.record(cited, 5.0)
    activity.feedback("a1", helpful=False, comment=None)
    activity.feedback("a1", helpful=True, comment="Đúng rồi")  # given again: replaces the first
    activity.feedback("a2", helpful=False, comment=None)

    everything = activity.stats()
    assert (everything.questions, everything.answered, everything.abstained, everything.feedback) == (3, 2, 1, 2)
    assert everything.answer_rate == pytest.approx(2 / 3) and everything.helpful_rate == 0.5
    assert [d.day for d in everything.daily] == [datetime.now(UTC).date().isoformat()]
    unit = activity.stats(UNIT)
    assert (unit.questions, unit.answered, unit.helpful_rate) == (2, 1, 0.5)
    other = activity.stats(OTHER)
    assert (other.questions, other.answered, other.feedback, other.helpful_rate) == (1, 1, 0, None)
    assert activity.stats("khong-co").answer_rate is None


def test_feedback_on_an_unknown_answer_or_too_long_is_refused_and_stores_nothing(database: Database) -> None:
    activity = ActivityLog(database)
    activity.record(_answer("a1", "Có"), 1.0)
    with pytest.raises(AnswerNotFound):
        activity.feedback("khong-co", helpful=True, comment=None)
    with pytest.raises(InvalidInput):
        activity.feedback("a1", helpful=True, comment="x" * (MAX_COMMENT_CHARS + 1))
    assert activity.stats().feedback == 0


def test_questions_older_than_the_window_are_left_out(database: Database) -> None:
    activity = ActivityLog(database)
    activity.record(_answer("old", "Có"), 1.0)
    activity.record(_answer("new", "Có"), 1.0)
    long_ago = (datetime.now(UTC) - timedelta(days=40)).isoformat(timespec="milliseconds")
    with database.write() as conn:
        conn.execute(sa.text("UPDATE asks SET at = :at WHERE id = 'old'"), {"at": long_ago})
    assert activity.stats(days=30).questions == 1
    assert activity.stats(days=60).questions == 2 and len(activity.stats(days=60).daily) == 2


# -- evaluation history -------------------------------------------------------------------------------
def test_runs_are_kept_in_order_with_each_units_newest(database: Database) -> None:
    history = EvalHistory(database)

    def add(label: str, unit: str | None, target: dict[str, object], right: int) -> Run:
        records = _records(right, 10 - right)
        return history.add(label, "corpus", unit, target, summarise(records), records)

    first = add("cu.jsonl", UNIT, {"embedder": "fake"}, 1)
    second = add("Quý I", UNIT, {"settings": {"abstain_threshold": 0.4}}, 9)
    other = add("Bưu điện", OTHER, {}, 5)
    everywhere = add("tat-ca.jsonl", None, {}, 2)  # over several units: no unit's own
    assert first.id < second.id < other.id < everywhere.id

    runs = history.runs()
    assert [r.id for r in runs] == [first.id, second.id, other.id, everywhere.id]  # oldest first
    assert runs[1] == second and runs[1].threshold == 0.4
    assert [r.outcome for r in runs[1].outcome_records()] == [r.outcome for r in _records(9, 1)]
    assert [r.id for r in history.runs(limit=2)] == [other.id, everywhere.id]  # the newest two
    newest = history.latest_per_unit()
    assert {u: h.id for u, h in newest.items()} == {UNIT: second.id, OTHER: other.id}
    assert newest[UNIT].summary["answer_rate"] == pytest.approx(0.9)
    assert history.latest(UNIT) == second and history.latest() == everywhere
    assert history.latest("khong-co") == everywhere


# -- question sets ------------------------------------------------------------------------------------
def test_a_question_set_is_stored_listed_read_and_deleted_within_its_unit(database: Database) -> None:
    sets = QuestionSets(database, max_question_chars=300)
    first = sets.add(UNIT, " Quý I/2025 ", QUESTIONS)
    second = sets.add(UNIT, "Quý II/2025", QUESTIONS[:1])
    elsewhere = sets.add(OTHER, "Bưu điện", QUESTIONS)
    assert sets.list(UNIT) == [second, first] and sets.list(OTHER) == [elsewhere]
    assert (first.name, first.questions) == ("Quý I/2025", 2)
    stored = sets.get(UNIT, first.id)
    assert stored.info == first and stored.questions == tuple(replace(q, unit=UNIT) for q in QUESTIONS)
    with pytest.raises(QuestionSetNotFound):
        sets.get(OTHER, first.id)
    assert sets.delete(UNIT, first.id) == first
    with pytest.raises(QuestionSetNotFound):
        sets.delete(UNIT, first.id)
    assert sets.list(UNIT) == [second]
    with pytest.raises(InvalidInput, match="duplicate id"):
        sets.add(UNIT, "Trùng", [QUESTIONS[0], QUESTIONS[0]])
    assert sets.list(UNIT) == [second]


# -- evaluation jobs ----------------------------------------------------------------------------------
def test_a_job_goes_from_queued_to_done_one_per_unit_within_the_bound(database: Database) -> None:
    records = EvaluationRecords(database)
    job = records.create(UNIT, "set-1", "Quý I", owner="owner-1", max_pending=2)
    assert (job.status, job.progress, job.result, job.run, job.finished_at) == ("queued", 0.0, None, None, None)
    with pytest.raises(EvaluationRunning, match=job.id):
        records.create(UNIT, "set-1", "Quý I", owner="owner-1", max_pending=2)
    records.create(OTHER, "set-2", "Bưu điện", owner="owner-1", max_pending=2)
    with pytest.raises(EvaluationQueueFull):
        records.create("so-tttt", "set-3", "Sở", owner="owner-1", max_pending=2)

    records.progressed(job.id, 0.5)  # not running yet: no progress
    assert records.get(job.id).progress == 0.0
    records.started(job.id)
    records.progressed(job.id, 0.5)
    assert (records.get(job.id).status, records.get(job.id).progress) == ("running", 0.5)
    card = scorecard(summarise(_records(3, 1)), _records(3, 1))
    records.done(job.id, card, run=7)
    done = records.get(job.id)
    assert (done.status, done.progress, done.result, done.run) == ("done", 1.0, card, 7)
    assert done.finished_at is not None
    records.failed(job.id, "late")  # a finished job stays as it finished
    assert records.get(job.id).status == "done"
    again = records.create(UNIT, "set-1", "Quý I", owner="owner-1", max_pending=2)  # the unit is free again
    assert [j.id for j in records.recent(UNIT)] == [again.id, job.id]
    assert [j.id for j in records.recent(UNIT, limit=1)] == [again.id]
    with pytest.raises(EvaluationNotFound):
        records.get("khong-co")


def _silent_since(database: Database, job_id: str, minutes: int) -> None:
    """The job's last beat ``minutes`` ago: its process has said nothing since."""
    at = (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat(timespec="milliseconds")
    with database.write() as conn:
        conn.execute(sa.update(evaluation_jobs).where(evaluation_jobs.c.id == job_id).values(beat_at=at))


def test_orphans_are_judged_by_their_process_here_and_by_their_beats_elsewhere(
    database: Database, tmp_path: Path
) -> None:
    records = EvaluationRecords(database)
    here, elsewhere = ProcessMark(tmp_path / "replica-a"), ProcessMark(tmp_path / "replica-b")
    gone = ProcessMark(tmp_path / "replica-a")
    mine = records.create(UNIT, "s", "s", owner=here.token, max_pending=8)
    dead_here = records.create(OTHER, "s", "s", owner=gone.token, max_pending=8)
    gone.close()
    theirs = records.create("so-tttt", "s", "s", owner=elsewhere.token, max_pending=8)
    silent = records.create("so-ttgt", "s", "s", owner="f00d@another-host:/srv/troly", max_pending=8)
    _silent_since(database, silent.id, minutes=10)

    assert here.alive(elsewhere.token) is None  # another data directory's lock is not looked at
    assert sorted(records.fail_orphans(here.alive, "gone")) == sorted([dead_here.id, silent.id])
    assert records.get(silent.id).error == "gone" and records.get(dead_here.id).status == "failed"
    assert records.get(mine.id).status == records.get(theirs.id).status == "queued"

    records.beat(elsewhere.token)  # the other replica still runs: its beat is fresh
    _silent_since(database, theirs.id, minutes=1)
    assert records.fail_orphans(here.alive, "gone") == []
    _silent_since(database, theirs.id, minutes=10)  # and then it stopped beating
    assert records.fail_orphans(here.alive, "gone") == [theirs.id]
    here.close()
    elsewhere.close()


# -- two replicas on one PostgreSQL ---------------------------------------------------------------------
def test_a_key_created_through_one_replica_authenticates_through_the_other(
    replicas: tuple[Database, Database],
) -> None:
    first, second = AccessControl(replicas[0]), AccessControl(replicas[1])
    info, key = first.create_key("maintainer", [UNIT])
    assert second.authenticate(key) == Principal(info.id, "maintainer", (UNIT,))
    second.audit(Principal(info.id, "maintainer", (UNIT,)), "document.add", UNIT, "d1")
    assert [e.target for e in first.audit_log(unit=UNIT)] == ["d1"]
    second.revoke(info.id)
    with pytest.raises(Unauthorized):
        first.authenticate(key)


def test_an_evaluation_recorded_through_one_replica_is_listed_by_the_other(
    replicas: tuple[Database, Database],
) -> None:
    first, second = replicas
    run = EvalHistory(first).add("Quý I", "corpus", UNIT, {}, summarise(_records(9, 1)), _records(9, 1))
    assert [r.id for r in EvalHistory(second).runs()] == [run.id]
    assert EvalHistory(second).latest_per_unit()[UNIT].id == run.id

    chosen = QuestionSets(first, 300).add(UNIT, "Quý I", QUESTIONS)
    assert QuestionSets(second, 300).get(UNIT, chosen.id).info == chosen
    job = EvaluationRecords(first).create(UNIT, chosen.id, chosen.name, owner="a", max_pending=8)
    with pytest.raises(EvaluationRunning):  # one at a time per unit, over every replica
        EvaluationRecords(second).create(UNIT, chosen.id, chosen.name, owner="b", max_pending=8)
    card = scorecard(summarise(_records(9, 1)), _records(9, 1))
    EvaluationRecords(first).started(job.id)
    EvaluationRecords(first).done(job.id, card, run.id)
    seen = EvaluationRecords(second).get(job.id)
    assert (seen.status, seen.run, seen.result) == ("done", run.id, card)

    ActivityLog(first).record(_answer("a1", "Có"), 1.0)
    ActivityLog(second).record(_answer("a2", None), 1.0)
    ActivityLog(second).feedback("a1", helpful=True, comment=None)
    assert (ActivityLog(first).stats().questions, ActivityLog(first).stats().helpful_rate) == (2, 1.0)


def test_replicas_starting_jobs_for_one_unit_at_once_start_one(replicas: tuple[Database, Database]) -> None:
    """Eight requests at once, half through each replica, for the same unit: exactly one job is
    created (the check and the insert are one transaction under an advisory lock)."""
    stores = [EvaluationRecords(replicas[i % 2]) for i in range(8)]
    start = threading.Barrier(len(stores))
    outcomes: list[object] = [None] * len(stores)

    def create(i: int) -> None:
        start.wait()
        try:
            outcomes[i] = stores[i].create(UNIT, "s", "s", owner=f"owner-{i}", max_pending=8).id
        except EvaluationRunning as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=create, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    created = [o for o in outcomes if isinstance(o, str)]
    assert len(created) == 1 and sum(isinstance(o, EvaluationRunning) for o in outcomes) == 7
    assert [j.id for j in EvaluationRecords(replicas[1]).recent(UNIT)] == created
