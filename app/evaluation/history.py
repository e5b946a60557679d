"""Every evaluation run, kept durably so answer rates can be tracked over time.

In the one database (table ``evaluation_runs``): ``troly eval`` and the service's evaluations write to
it, and with PostgreSQL every replica lists the same runs.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from app.evaluation.dataset import Question
from app.evaluation.outcomes import Record, Summary
from app.store.database import Database
from app.store.schema import evaluation_runs


@dataclass(frozen=True)
class RunHead:
    """A stored run without its records: what an overview of many runs needs."""

    id: int
    created_at: str
    questions: str  # the question set: its path, or a stored set's name
    corpus: str | None
    unit: str | None
    target: dict[str, Any]  # embedder, index size, settings
    summary: dict[str, Any]


@dataclass(frozen=True)
class Run(RunHead):
    records: list[dict[str, Any]]

    @property
    def threshold(self) -> float | None:
        """The abstention threshold the run answered with, when the target reported it."""
        value = self.target.get("settings", {}).get("abstain_threshold")
        return float(value) if value is not None else None

    def outcome_records(self) -> list[Record]:
        return [record_from_row(row) for row in self.records]


def record_from_row(row: dict[str, Any]) -> Record:
    return Record(
        Question(row["id"], row["question"], tuple(row["answers"])),
        row["answer"],
        float(row["confidence"]),
        (row["cited"],) if row.get("cited") else (),
        float(row.get("latency_ms", 0.0)),
        row.get("draft"),
        # Runs stored before readers were recorded have neither: None, as from a target that did not say.
        row.get("reader"),
        row.get("reader_fallback"),
    )


def record_row(r: Record) -> dict[str, Any]:
    return {
        "id": r.question.id,
        "question": r.question.question,
        "answers": list(r.question.answers),
        "answer": r.answer,
        "draft": r.draft,
        "confidence": r.confidence,
        "outcome": r.outcome.value,
        "rank": r.answer_rank,
        "cited": r.citations[0] if r.citations else None,
        "latency_ms": round(r.latency_ms, 2),
        "reader": r.reader,
        "reader_fallback": r.reader_fallback,
    }


class EvalHistory:
    def __init__(self, database: Database) -> None:
        """``database``: open, its schema at the head (app.store.migrate.open_upgraded)."""
        self._db = database

    def add(
        self,
        questions: str,
        corpus: str | None,
        unit: str | None,
        target: dict[str, Any],
        summary: Summary,
        records: list[Record],
    ) -> Run:
        created = datetime.now(UTC).isoformat(timespec="seconds")
        rows = [record_row(r) for r in records]
        insert = sa.insert(evaluation_runs).values(
            created_at=created,
            questions=questions,
            corpus=corpus,
            unit=unit,
            target=json.dumps(target, ensure_ascii=False),
            summary=json.dumps(asdict(summary)),
            records=json.dumps(rows, ensure_ascii=False),
        )
        with self._db.write() as conn:
            run_id = int(conn.execute(insert.returning(evaluation_runs.c.id)).scalar_one())
        return Run(run_id, created, questions, corpus, unit, target, asdict(summary), rows)

    def runs(self, limit: int = 1000) -> list[Run]:
        """The newest ``limit`` runs, oldest first."""
        r = evaluation_runs.c
        query = sa.select(*_HEAD, r.records).order_by(r.id.desc()).limit(limit)
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        return [Run(*_head_fields(row), json.loads(row.records)) for row in rows][::-1]

    def latest_per_unit(self) -> dict[str, RunHead]:
        """Each unit's newest run among those scoped to one unit (a run over several units is no
        unit's), in one query and without the records: the overview asks this for every unit."""
        r = evaluation_runs.c
        newest = sa.select(sa.func.max(r.id)).where(r.unit.is_not(None)).group_by(r.unit)
        with self._db.read() as conn:
            rows = conn.execute(sa.select(*_HEAD).where(r.id.in_(newest))).all()
        return {row.unit: RunHead(*_head_fields(row)) for row in rows}

    def latest(self, unit: str | None = None) -> Run | None:
        """The newest run, preferring one scoped to ``unit`` when asked for one."""
        runs = self.runs()
        scoped = [r for r in runs if unit is not None and r.unit == unit]
        pool = scoped or runs
        return pool[-1] if pool else None


# A run's head, in RunHead's order.
_HEAD = (
    evaluation_runs.c.id,
    evaluation_runs.c.created_at,
    evaluation_runs.c.questions,
    evaluation_runs.c.corpus,
    evaluation_runs.c.unit,
    evaluation_runs.c.target,
    evaluation_runs.c.summary,
)


def _head_fields(row: Any) -> tuple[int, str, str, str | None, str | None, dict[str, Any], dict[str, Any]]:
    return (
        int(row.id),
        row.created_at,
        row.questions,
        row.corpus,
        row.unit,
        json.loads(row.target),
        json.loads(row.summary),
    )
