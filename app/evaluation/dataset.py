"""Question sets (JSONL) and the corpora they are asked of."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from app.errors import InvalidInput


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answers: tuple[str, ...]  # empty: the corpus cannot answer, the assistant must abstain
    unit: str | None = None

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def load_questions(path: Path) -> list[Question]:
    questions: list[Question] = []
    seen: set[str] = set()
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                q = Question(
                    id=str(row["id"]),
                    question=str(row["question"]),
                    answers=tuple(str(a) for a in row.get("answers") or ()),
                    unit=row.get("unit"),
                )
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise InvalidInput(f"{path.name}:{number}: not a question line ({exc})") from exc
            if q.id in seen:
                raise InvalidInput(f"{path.name}:{number}: duplicate id {q.id!r}")
            seen.add(q.id)
            questions.append(q)
    if not questions:
        raise InvalidInput(f"{path}: no questions")
    return questions
