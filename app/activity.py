"""Live tracking: every question asked of the service, and the feedback civil servants give.

Kept in the one database (tables ``asks`` and ``feedback``): with PostgreSQL every replica's questions
count in the same statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from app.domain import Answer
from app.errors import AnswerNotFound, InvalidInput
from app.store.database import Database
from app.store.schema import asks, feedback

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
    def __init__(self, database: Database) -> None:
        """``database``: open, its schema at the head (app.store.migrate.open_upgraded)."""
        self._db = database

    def record(self, answer: Answer, latency_ms: float) -> None:
        """No keys or caller identity are stored: only what was asked and how it went.

        A question put to every unit counts for the unit whose passage it was answered from.
        """
        unit = answer.unit or (answer.citations[0].unit if answer.citations else None)
        with self._db.write() as conn:
            conn.execute(
                sa.insert(asks).values(
                    id=answer.id,
                    at=_now(),
                    unit=unit,
                    question=answer.question,
                    answered=int(not answer.abstained),
                    confidence=answer.confidence,
                    latency_ms=round(latency_ms, 2),
                )
            )

    def feedback(self, answer_id: str, helpful: bool, comment: str | None) -> None:
        """The answer's feedback; given again, it replaces the first."""
        if comment is not None and len(comment) > MAX_COMMENT_CHARS:
            raise InvalidInput(f"comment is longer than {MAX_COMMENT_CHARS} characters")
        with self._db.write() as conn:
            if conn.scalar(sa.select(asks.c.id).where(asks.c.id == answer_id)) is None:
                raise AnswerNotFound(f"no answer with id {answer_id!r}")
            _upsert_feedback(conn, {"answer_id": answer_id, "at": _now(), "helpful": int(helpful), "comment": comment})

    def stats(self, unit: str | None = None, days: int = 30) -> Stats:
        since = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="seconds")
        a, f = asks.c, feedback.c
        query = (
            sa.select(
                _DAY,
                sa.func.count(),
                sa.func.sum(a.answered),
                sa.func.sum(sa.func.coalesce(f.helpful, 0)),
                sa.func.count(f.answer_id),
            )
            .select_from(asks.outerjoin(feedback, f.answer_id == a.id))
            .where(a.at >= since)
            .group_by(_DAY)
            .order_by(_DAY)
        )
        if unit is not None:
            query = query.where(a.unit == unit)
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        daily = [DayStats(r[0], int(r[1]), int(r[2] or 0), int(r[3] or 0), int(r[4] or 0)) for r in rows]
        questions = sum(d.questions for d in daily)
        answered = sum(d.answered for d in daily)
        given = sum(d.feedback for d in daily)
        helpful = sum(d.helpful for d in daily)
        return Stats(
            questions=questions,
            answered=answered,
            abstained=questions - answered,
            answer_rate=answered / questions if questions else None,
            helpful_rate=helpful / given if given else None,
            feedback=given,
            daily=daily,
        )


# The day of an ISO time ("2024-07-01"). Its bounds are written into the SQL, not bound as parameters:
# PostgreSQL matches the selected day with the GROUP BY one only when both are the same expression.
_DAY = sa.func.substr(asks.c.at, sa.literal_column("1"), sa.literal_column("10"))


def _upsert_feedback(conn: Connection, values: dict[str, Any]) -> None:
    """Inserts the row or replaces the answer's earlier feedback, in one statement on either backend."""
    replaced = {k: v for k, v in values.items() if k != "answer_id"}
    if conn.dialect.name == "postgresql":
        pg = postgresql.insert(feedback).values(values)
        conn.execute(pg.on_conflict_do_update(index_elements=[feedback.c.answer_id], set_=replaced))
    else:
        lite = sqlite.insert(feedback).values(values)
        conn.execute(lite.on_conflict_do_update(index_elements=[feedback.c.answer_id], set_=replaced))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
