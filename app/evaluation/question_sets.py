"""Question sets a unit keeps in the service, to evaluate its assistant with (docs/evaluation.md).

The format is ``troly eval``'s (``eval/``): each question an ``id``, the ``question`` and the
``answers`` that count as correct, ``[]`` when the documents cannot answer it and the assistant
must abstain. A set is checked whole before anything is stored: a bad set stores nothing.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from app.errors import InvalidInput, QuestionSetNotFound
from app.evaluation.dataset import Question
from app.store.database import Database
from app.store.schema import question_sets
from app.text.normalize import normalize

# Bounds of one set. 5,000 questions take under an hour at the service's pace and fit well within
# the upload limit; a question's length is the service's own limit (TROLY_MAX_QUESTION_CHARS).
MAX_QUESTIONS = 5000
MAX_NAME_CHARS = 200
MAX_ID_CHARS = 200
MAX_ANSWERS = 50
MAX_ANSWER_CHARS = 1000


@dataclass(frozen=True)
class QuestionSetInfo:
    id: str
    unit: str
    name: str
    questions: int
    created_at: str


@dataclass(frozen=True)
class QuestionSet:
    info: QuestionSetInfo
    questions: tuple[Question, ...]  # each scoped to the set's unit: that is the knowledge base asked


def _blank(text: str) -> bool:
    return not normalize(text)


def check_questions(name: str, questions: Sequence[Question], max_question_chars: int) -> None:
    """Raises InvalidInput naming the first problem: the set is refused whole."""
    if _blank(name) or len(name) > MAX_NAME_CHARS:
        raise InvalidInput(f"a question set needs a name of 1 to {MAX_NAME_CHARS} characters, not blank")
    if not questions:
        raise InvalidInput("the question set has no questions")
    if len(questions) > MAX_QUESTIONS:
        raise InvalidInput(f"the question set has {len(questions):,} questions: at most {MAX_QUESTIONS:,}")
    seen: set[str] = set()
    for n, q in enumerate(questions, 1):
        where = f"question {n} (id {q.id!r})"
        if _blank(q.id) or len(q.id) > MAX_ID_CHARS:
            raise InvalidInput(f"question {n}: its id must be 1 to {MAX_ID_CHARS} characters, not blank")
        if q.id in seen:
            raise InvalidInput(f"{where}: duplicate id")
        seen.add(q.id)
        if _blank(q.question):
            raise InvalidInput(f"{where}: the question is empty")
        if len(q.question) > max_question_chars:
            raise InvalidInput(f"{where}: the question is longer than {max_question_chars} characters")
        if len(q.answers) > MAX_ANSWERS:
            raise InvalidInput(f"{where}: more than {MAX_ANSWERS} answers")
        # A blank answer would be silently ignored by the counting: the question could never be right.
        if any(_blank(a) or len(a) > MAX_ANSWER_CHARS for a in q.answers):
            raise InvalidInput(f"{where}: each answer is a text of 1 to {MAX_ANSWER_CHARS} characters, not blank")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class QuestionSets:
    """Per unit, in the one database (table ``question_sets``): every replica reads the same sets."""

    def __init__(self, database: Database, max_question_chars: int) -> None:
        """``database``: open, its schema at the head (app.store.migrate.open_upgraded)."""
        self._db = database
        self._max_question_chars = max_question_chars

    def add(self, unit: str, name: str, questions: Sequence[Question]) -> QuestionSetInfo:
        check_questions(name, questions, self._max_question_chars)
        info = QuestionSetInfo(secrets.token_hex(6), unit, name.strip(), len(questions), _now())
        rows = [{"id": q.id, "question": q.question, "answers": list(q.answers)} for q in questions]
        with self._db.write() as conn:
            conn.execute(
                sa.insert(question_sets).values(
                    id=info.id,
                    unit=unit,
                    name=info.name,
                    created_at=info.created_at,
                    question_count=info.questions,
                    questions=json.dumps(rows, ensure_ascii=False),
                )
            )
        return info

    def list(self, unit: str) -> list[QuestionSetInfo]:
        """Newest first."""
        c = question_sets.c
        query = (
            sa.select(c.id, c.unit, c.name, c.question_count, c.created_at).where(c.unit == unit).order_by(c.seq.desc())
        )
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        return [QuestionSetInfo(r.id, r.unit, r.name, int(r.question_count), r.created_at) for r in rows]

    def get(self, unit: str, set_id: str) -> QuestionSet:
        c = question_sets.c
        query = sa.select(c.id, c.unit, c.name, c.created_at, c.questions).where(c.unit == unit, c.id == set_id)
        with self._db.read() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise QuestionSetNotFound(f"unit {unit!r} has no question set {set_id!r}")
        questions = tuple(
            Question(q["id"], q["question"], tuple(q["answers"]), unit) for q in json.loads(row.questions)
        )
        return QuestionSet(QuestionSetInfo(row.id, row.unit, row.name, len(questions), row.created_at), questions)

    def delete(self, unit: str, set_id: str) -> QuestionSetInfo:
        info = self.get(unit, set_id).info
        c = question_sets.c
        with self._db.write() as conn:
            deleted = conn.execute(sa.delete(question_sets).where(c.unit == unit, c.id == set_id)).rowcount
        if not deleted:  # another replica deleted it meanwhile
            raise QuestionSetNotFound(f"unit {unit!r} has no question set {set_id!r}")
        return info
