"""Evaluation jobs as records (table ``evaluation_jobs`` of the one database): they outlive the process
that ran them, and every process of the service (every replica, on PostgreSQL) reads the same ones.

A job runs in the process that queued it (app.service.evaluation_jobs: the queue is in that process's
memory); its record names that process (``owner``, app.service.process_mark) and the last time it said it
still runs (``beat_at``), so that a job whose process died is failed instead of holding its unit forever.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa

from app.errors import EvaluationNotFound, EvaluationQueueFull, EvaluationRunning
from app.evaluation.scorecard import Scorecard
from app.store.database import Database
from app.store.schema import evaluation_jobs

Status = Literal["queued", "running", "done", "failed"]
PENDING: tuple[Status, ...] = ("queued", "running")
# A process with queued or running jobs says so this often (EvaluationJobs' beat thread) ...
BEAT_S = 10.0
# ... and a job whose owner no process here can judge (another replica's) is orphaned once its owner has
# been silent this long: a replica that died (or lost the database) frees its units after two minutes.
STALE_S = 120.0
# pg_advisory_xact_lock's key for creating a job: any constant, the same in every release.
CREATE_LOCK_KEY = 0x7472_6F6C_7945  # "trolyE"

_c = evaluation_jobs.c
_COLUMNS = (
    _c.id,
    _c.unit,
    _c.question_set,
    _c.question_set_name,
    _c.status,
    _c.progress,
    _c.created_at,
    _c.finished_at,
    _c.error,
    _c.result,
    _c.run,
)


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
        None if run is None else int(run),
    )


class EvaluationRecords:
    def __init__(self, database: Database) -> None:
        """``database``: open, its schema at the head (app.store.migrate.open_upgraded)."""
        self._db = database

    def create(self, unit: str, question_set: str, name: str, owner: str, max_pending: int) -> EvaluationJob:
        """A queued job, unless ``unit`` has one queued or running (EvaluationRunning) or
        ``max_pending`` jobs wait over all units (EvaluationQueueFull). One transaction, so that two
        requests at once (two processes, two replicas) cannot both start one for a unit: SQLite's write
        transaction excludes the other writer; on PostgreSQL an advisory lock does."""
        job_id = secrets.token_hex(8)
        with self._db.write() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(CREATE_LOCK_KEY)))
            running = conn.scalar(
                sa.select(_c.id).where(_c.unit == unit, _c.status.in_(PENDING)).order_by(_c.seq).limit(1)
            )
            if running is not None:
                raise EvaluationRunning(
                    f"unit {unit!r} already has an evaluation queued or running ({running}): one at a time"
                )
            pending = int(conn.scalar(sa.select(sa.func.count()).where(_c.status.in_(PENDING))) or 0)
            if pending >= max_pending:
                raise EvaluationQueueFull(f"{pending} evaluations are waiting: try again when one has finished")
            now = _now()
            conn.execute(
                sa.insert(evaluation_jobs).values(
                    id=job_id,
                    unit=unit,
                    question_set=question_set,
                    question_set_name=name,
                    status="queued",
                    progress=0.0,
                    created_at=now,
                    owner=owner,
                    beat_at=now,
                )
            )
        return self.get(job_id)

    def get(self, job_id: str) -> EvaluationJob:
        with self._db.read() as conn:
            row = conn.execute(sa.select(*_COLUMNS).where(_c.id == job_id)).first()
        if row is None:
            raise EvaluationNotFound(f"no evaluation {job_id!r}")
        return _job(row)

    def recent(self, unit: str, limit: int = 20) -> list[EvaluationJob]:
        """Newest first."""
        query = sa.select(*_COLUMNS).where(_c.unit == unit).order_by(_c.seq.desc()).limit(limit)
        with self._db.read() as conn:
            return [_job(r) for r in conn.execute(query).all()]

    def started(self, job_id: str) -> None:
        self._update(job_id, ("queued",), status="running", beat_at=_now())

    def progressed(self, job_id: str, progress: float) -> None:
        self._update(job_id, ("running",), progress=min(progress, 1.0), beat_at=_now())

    def done(self, job_id: str, result: Scorecard, run: int) -> None:
        # Whatever its status: a job another replica took for dead but that finished is done after all.
        self._update(
            job_id,
            None,
            status="done",
            progress=1.0,
            finished_at=_now(),
            result=json.dumps(result.to_json(), ensure_ascii=False),
            run=run,
        )

    def failed(self, job_id: str, error: str) -> None:
        self._update(job_id, PENDING, status="failed", finished_at=_now(), error=error)

    def beat(self, owner: str) -> None:
        """``owner``'s process still runs: the time on each of its queued or running jobs."""
        with self._db.write() as conn:
            conn.execute(
                sa.update(evaluation_jobs).where(_c.owner == owner, _c.status.in_(PENDING)).values(beat_at=_now())
            )

    def fail_orphans(self, alive: Callable[[str], bool | None], error: str, stale_s: float = STALE_S) -> list[str]:
        """Marks failed every queued or running job whose owner process is gone; returns their ids.

        ``alive(owner)``: whether that process runs, or None when this process cannot tell (another
        replica's): then it is gone once none of its jobs has had a beat for ``stale_s`` seconds."""
        with self._db.read() as conn:
            rows = conn.execute(sa.select(_c.id, _c.owner, _c.beat_at).where(_c.status.in_(PENDING))).all()
        since = datetime.now(UTC) - timedelta(seconds=stale_s)
        last_beat: dict[str, datetime | None] = {}
        for row in rows:
            beat = datetime.fromisoformat(row.beat_at) if row.beat_at else None
            known = last_beat.get(row.owner)
            last_beat[row.owner] = beat if known is None else max(known, beat or known)
        verdicts: dict[str, bool] = {}
        for owner, beat in last_beat.items():
            verdict = alive(owner)
            verdicts[owner] = verdict if verdict is not None else beat is not None and beat >= since
        orphans = [row.id for row in rows if not verdicts[row.owner]]
        for job_id in orphans:
            self.failed(job_id, error)
        return orphans

    def _update(self, job_id: str, only_if: tuple[Status, ...] | None, **values: object) -> None:
        """Sets ``values`` on the job, when its status is one of ``only_if`` (None: whatever it is)."""
        query = sa.update(evaluation_jobs).where(_c.id == job_id)
        if only_if is not None:
            query = query.where(_c.status.in_(only_if))
        with self._db.write() as conn:
            conn.execute(query.values(**values))
