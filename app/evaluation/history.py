"""Every evaluation run, kept durably so answer rates can be tracked over time."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.evaluation.dataset import Question
from app.evaluation.outcomes import Record, Summary
from app.store.sqlite_connect import ThreadConnections

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    questions TEXT NOT NULL,
    corpus TEXT,
    unit TEXT,
    target TEXT NOT NULL,
    summary TEXT NOT NULL,
    records TEXT NOT NULL
);
"""


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
    def __init__(self, path: Path) -> None:
        self._db = ThreadConnections(path, _SCHEMA)

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
        cursor = self._db().execute(
            "INSERT INTO runs (created_at, questions, corpus, unit, target, summary, records)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                created,
                questions,
                corpus,
                unit,
                json.dumps(target, ensure_ascii=False),
                json.dumps(asdict(summary)),
                json.dumps(rows, ensure_ascii=False),
            ),
        )
        run_id = int(cursor.lastrowid or 0)
        return Run(run_id, created, questions, corpus, unit, target, asdict(summary), rows)

    def runs(self, limit: int = 1000) -> list[Run]:
        rows = (
            self._db()
            .execute(
                "SELECT id, created_at, questions, corpus, unit, target, summary, records FROM runs"
                " ORDER BY id DESC LIMIT ?",
                (limit,),
            )
            .fetchall()
        )
        return [Run(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), json.loads(r[6]), json.loads(r[7])) for r in rows][
            ::-1
        ]

    def latest_per_unit(self) -> dict[str, RunHead]:
        """Each unit's newest run among those scoped to one unit (a run over several units is no
        unit's), in one query and without the records: the overview asks this for every unit."""
        rows = (
            self._db()
            .execute(
                "SELECT id, created_at, questions, corpus, unit, target, summary FROM runs"
                " WHERE id IN (SELECT MAX(id) FROM runs WHERE unit IS NOT NULL GROUP BY unit)"
            )
            .fetchall()
        )
        return {r[4]: RunHead(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), json.loads(r[6])) for r in rows}

    def latest(self, unit: str | None = None) -> Run | None:
        """The newest run, preferring one scoped to ``unit`` when asked for one."""
        runs = self.runs()
        scoped = [r for r in runs if unit is not None and r.unit == unit]
        pool = scoped or runs
        return pool[-1] if pool else None
