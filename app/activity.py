"""Live tracking: every question asked of the service, and the feedback civil servants give."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.domain import Answer
from app.errors import AnswerNotFound, InvalidInput
from app.store.sqlite_connect import ThreadConnections

_SCHEMA = """
CREATE TABLE IF NOT EXISTS asks (
    id TEXT PRIMARY KEY,
    at TEXT NOT NULL,
    unit TEXT,
    question TEXT NOT NULL,
    answered INTEGER NOT NULL,
    confidence REAL NOT NULL,
    latency_ms REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS asks_at ON asks (at);
CREATE TABLE IF NOT EXISTS feedback (
    answer_id TEXT PRIMARY KEY REFERENCES asks(id),
    at TEXT NOT NULL,
    helpful INTEGER NOT NULL,
    comment TEXT
);
"""
MAX_COMMENT_CHARS = 2000


@dataclass(frozen=True)
class DayStats:
    day: str
    questions: int
    answered: int
    helpful: int
    feedback: int


@dataclass(frozen=True)
class Stats:
    questions: int
    answered: int
    abstained: int
    answer_rate: float | None  # answered / asked, None before the first question
    helpful_rate: float | None  # helpful / feedback given, None before the first feedback
    feedback: int
    daily: list[DayStats]


class ActivityLog:
    def __init__(self, path: Path) -> None:
        self._db = ThreadConnections(path, _SCHEMA)

    def record(self, answer: Answer, latency_ms: float) -> None:
        """No keys or caller identity are stored: only what was asked and how it went.

        A question put to every unit counts for the unit whose passage it was answered from.
        """
        unit = answer.unit or (answer.citations[0].unit if answer.citations else None)
        self._db().execute(
            "INSERT INTO asks (id, at, unit, question, answered, confidence, latency_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                answer.id,
                _now(),
                unit,
                answer.question,
                int(not answer.abstained),
                answer.confidence,
                round(latency_ms, 2),
            ),
        )

    def feedback(self, answer_id: str, helpful: bool, comment: str | None) -> None:
        if comment is not None and len(comment) > MAX_COMMENT_CHARS:
            raise InvalidInput(f"comment is longer than {MAX_COMMENT_CHARS} characters")
        db = self._db()
        if db.execute("SELECT 1 FROM asks WHERE id = ?", (answer_id,)).fetchone() is None:
            raise AnswerNotFound(f"no answer with id {answer_id!r}")
        db.execute(
            "INSERT OR REPLACE INTO feedback (answer_id, at, helpful, comment) VALUES (?, ?, ?, ?)",
            (answer_id, _now(), int(helpful), comment),
        )

    def stats(self, unit: str | None = None, days: int = 30) -> Stats:
        since = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="seconds")
        where, args = "a.at >= ?", [since]
        if unit is not None:
            where += " AND a.unit = ?"
            args.append(unit)
        rows = (
            self._db()
            .execute(
                "SELECT substr(a.at, 1, 10), COUNT(*), SUM(a.answered), SUM(COALESCE(f.helpful, 0)), COUNT(f.answer_id)"
                f" FROM asks a LEFT JOIN feedback f ON f.answer_id = a.id WHERE {where}"
                " GROUP BY substr(a.at, 1, 10) ORDER BY 1",
                args,
            )
            .fetchall()
        )
        daily = [DayStats(r[0], int(r[1]), int(r[2] or 0), int(r[3] or 0), int(r[4] or 0)) for r in rows]
        questions = sum(d.questions for d in daily)
        answered = sum(d.answered for d in daily)
        feedback = sum(d.feedback for d in daily)
        helpful = sum(d.helpful for d in daily)
        return Stats(
            questions=questions,
            answered=answered,
            abstained=questions - answered,
            answer_rate=answered / questions if questions else None,
            helpful_rate=helpful / feedback if feedback else None,
            feedback=feedback,
            daily=daily,
        )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
