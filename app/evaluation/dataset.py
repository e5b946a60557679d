"""Question sets (JSONL) and the corpora they are asked of."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.errors import InvalidInput
from app.ingest.loaders import read_jsonl


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answers: tuple[str, ...]  # empty: the corpus cannot answer, the assistant must abstain
    unit: str | None = None

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def _question(row: Any) -> Question:
    return Question(
        id=str(row["id"]),
        question=str(row["question"]),
        answers=tuple(str(a) for a in row.get("answers") or ()),
        unit=row.get("unit"),
    )


def load_questions(path: Path) -> list[Question]:
    questions: list[Question] = []
    seen: set[str] = set()
    for number, q in read_jsonl(path, _question, "question"):
        if q.id in seen:
            raise InvalidInput(f"{path.name}:{number}: duplicate id {q.id!r}")
        seen.add(q.id)
        questions.append(q)
    if not questions:
        raise InvalidInput(f"{path}: no questions")
    return questions
