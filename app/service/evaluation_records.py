"""Evaluation jobs as records (``evaluations.sqlite3`` in the data directory): they outlive the
process that ran them, and every worker process of the service reads the same ones."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from app.errors import EvaluationNotFound, EvaluationQueueFull, EvaluationRunning
from app.evaluation.scorecard import Scorecard
from app.store.sqlite_connect import ThreadConnections

Status = Literal["queued", "running", "done", "failed"]
PENDING: tuple[Status, ...] = ("queued", "running")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS evaluations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    unit TEXT NOT NULL,
    question_set TEXT NOT NULL,
    question_set_name TEXT NOT NULL,
    status TEXT NOT NULL,
    progress REAL NOT NULL,
    created_at TEXT NOT NULL,
    finished_at TEXT,
    error TEXT,
    result TEXT,
    run INTEGER,
    owner TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS evaluations_unit ON evaluations (unit, seq);
CREATE INDEX IF NOT EXISTS evaluations_status ON evaluations (status);
"""
_COLUMNS = "id, unit, question_set, question_set_name, status, progress, created_at, finished_at, error, result, run"


@dataclass(frozen=True)
class EvaluationJob:
    id: str
    unit: str
    question_set: str
    question_set_name: str  # kept: the set may be deleted, its evaluations stay readable
    status: Status
    progress: float  # questions asked / questions, 0 to 1
    created_at: str
    finished_at: str | None
    error: str | None  # why it failed
    result: Scorecard | None  # once done
    run: int | None  # its run in the evaluation history, once done


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _job(row: Any) -> EvaluationJob:
    job_id, unit, set_id, set_name, status, progress, created_at, finished_at, error, result, run = row
    return EvaluationJob(
        job_id,
        unit,
        set_id,
        set_name,
        status,
        float(progress),
        created_at,
        finished_at,
        error,
        Scorecard.from_json(json.loads(result)) if result is not None else None,
        run,
    )


class EvaluationRecords:
    def __init__(self, path: Path) -> None:
        self._db = ThreadConnections(path, _SCHEMA)

    def create(self, unit: str, question_set: str, name: str, owner: str, max_pending: int) -> EvaluationJob:
        """A queued job, unless ``unit`` has one queued or running (EvaluationRunning) or
        ``max_pending`` jobs wait over all units (EvaluationQueueFull). One transaction, so that
        two requests at once (two worker processes) cannot both start one for a unit."""
        db = self._db()
        job_id = secrets.token_hex(8)
        db.execute("BEGIN IMMEDIATE")
        try:
            marks = ", ".join("?" * len(PENDING))
            running = db.execute(
                f"SELECT id FROM evaluations WHERE unit = ? AND status IN ({marks}) LIMIT 1", (unit, *PENDING)
            ).fetchone()
            if running is not None:
                raise EvaluationRunning(
                    f"unit {unit!r} already has an evaluation queued or running ({running[0]}): one at a time"
                )
            (pending,) = db.execute(f"SELECT COUNT(*) FROM evaluations WHERE status IN ({marks})", PENDING).fetchone()
            if pending >= max_pending:
                raise EvaluationQueueFull(f"{pending} evaluations are waiting: try again when one has finished")
            db.execute(
                "INSERT INTO evaluations (id, unit, question_set, question_set_name, status, progress, created_at,"
                " owner) VALUES (?, ?, ?, ?, 'queued', 0, ?, ?)",
                (job_id, unit, question_set, name, _now(), owner),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return self.get(job_id)

    def get(self, job_id: str) -> EvaluationJob:
        row = self._db().execute(f"SELECT {_COLUMNS} FROM evaluations WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise EvaluationNotFound(f"no evaluation {job_id!r}")
        return _job(row)

    def recent(self, unit: str, limit: int = 20) -> list[EvaluationJob]:
        """Newest first."""
        rows = self._db().execute(
            f"SELECT {_COLUMNS} FROM evaluations WHERE unit = ? ORDER BY seq DESC LIMIT ?", (unit, limit)
        )
        return [_job(r) for r in rows.fetchall()]

    def started(self, job_id: str) -> None:
        self._db().execute("UPDATE evaluations SET status = 'running' WHERE id = ? AND status = 'queued'", (job_id,))

    def progressed(self, job_id: str, progress: float) -> None:
        self._db().execute(
            "UPDATE evaluations SET progress = ? WHERE id = ? AND status = 'running'", (min(progress, 1.0), job_id)
        )

    def done(self, job_id: str, result: Scorecard, run: int) -> None:
        self._db().execute(
            "UPDATE evaluations SET status = 'done', progress = 1, finished_at = ?, result = ?, run = ? WHERE id = ?",
            (_now(), json.dumps(result.to_json(), ensure_ascii=False), run, job_id),
        )

    def failed(self, job_id: str, error: str) -> None:
        self._db().execute(
            "UPDATE evaluations SET status = 'failed', finished_at = ?, error = ? WHERE id = ? AND status IN (?, ?)",
            (_now(), error, job_id, *PENDING),
        )

    def fail_orphans(self, alive: Callable[[str], bool], error: str) -> list[str]:
        """Marks failed every queued or running job whose owner process is gone; returns their ids."""
        db = self._db()
        marks = ", ".join("?" * len(PENDING))
        rows = db.execute(f"SELECT id, owner FROM evaluations WHERE status IN ({marks})", PENDING).fetchall()
        owners = {owner: alive(owner) for owner in {r[1] for r in rows}}
        orphans = [job_id for job_id, owner in rows if not owners[owner]]
        for job_id in orphans:
            self.failed(job_id, error)
        return orphans
