"""Question sets stored per unit: what is refused (whole, nothing stored) and what is kept."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from app.errors import InvalidInput, QuestionSetNotFound
from app.evaluation.dataset import Question
from app.evaluation.question_sets import (
    MAX_ANSWER_CHARS,
    MAX_ANSWERS,
    MAX_ID_CHARS,
    MAX_NAME_CHARS,
    MAX_QUESTIONS,
    QuestionSets,
)
from app.store.database import sqlite_url
from app.store.migrate import open_upgraded

UNIT, OTHER = "cuc-vien-thong", "cuc-luu-tru"
MAX_QUESTION_CHARS = 300
GOOD = [
    Question("q1", "Trợ lý ảo phải trả lời được bao nhiêu phần trăm câu hỏi?", ("90%", "90 phần trăm")),
    Question("q2", "Giá vé máy bay từ Hà Nội đi Paris là bao nhiêu?", ()),
]


@pytest.fixture()
def sets(tmp_path: Path) -> QuestionSets:
    return QuestionSets(open_upgraded(sqlite_url(tmp_path / "troly.sqlite3")), MAX_QUESTION_CHARS)


def test_a_set_is_stored_listed_read_and_deleted_within_its_unit(sets: QuestionSets) -> None:
    first = sets.add(UNIT, "  Quý I/2025 ", GOOD)
    second = sets.add(UNIT, "Quý II/2025", GOOD[:1])
    elsewhere = sets.add(OTHER, "Lưu trữ", GOOD)
    assert (first.name, first.questions, first.unit) == ("Quý I/2025", 2, UNIT)
    assert len({first.id, second.id, elsewhere.id}) == 3
    assert all(len(s.id) <= 16 and s.id.isalnum() for s in (first, second, elsewhere))
    assert sets.list(UNIT) == [second, first]  # newest first
    assert sets.list(OTHER) == [elsewhere]
    stored = sets.get(UNIT, first.id)
    assert stored.info == first
    # Asked of the set's unit, whatever the questions said.
    assert stored.questions == tuple(replace(q, unit=UNIT) for q in GOOD)
    with pytest.raises(QuestionSetNotFound):
        sets.get(OTHER, first.id)  # another unit's set is not found through this one
    assert sets.delete(UNIT, first.id) == first
    assert sets.list(UNIT) == [second]
    with pytest.raises(QuestionSetNotFound):
        sets.delete(UNIT, first.id)
    with pytest.raises(QuestionSetNotFound):
        sets.get(UNIT, "nothing")


def _many(n: int) -> list[Question]:
    return [Question(f"q{i}", f"Câu hỏi số {i}?", ("có",)) for i in range(n)]


BAD: dict[str, tuple[str, list[Question], str]] = {
    "no questions": ("bộ", [], "no questions"),
    "duplicate ids": ("bộ", [GOOD[0], replace(GOOD[1], id="q1")], "duplicate id"),
    "blank question": ("bộ", [replace(GOOD[0], question=" \u200b\n")], "empty"),
    "question over the limit": ("bộ", [replace(GOOD[0], question="a" * (MAX_QUESTION_CHARS + 1))], "longer"),
    "blank answer": ("bộ", [replace(GOOD[0], answers=("90%", " "))], "each answer"),
    "answer over the limit": ("bộ", [replace(GOOD[0], answers=("a" * (MAX_ANSWER_CHARS + 1),))], "each answer"),
    "too many answers": ("bộ", [replace(GOOD[0], answers=("a",) * (MAX_ANSWERS + 1))], "answers"),
    "blank id": ("bộ", [replace(GOOD[0], id=" ")], "id"),
    "id over the limit": ("bộ", [replace(GOOD[0], id="x" * (MAX_ID_CHARS + 1))], "id"),
    "blank name": (" ", GOOD, "name"),
    "name over the limit": ("n" * (MAX_NAME_CHARS + 1), GOOD, "name"),
    "too many questions": ("bộ", _many(MAX_QUESTIONS + 1), f"{MAX_QUESTIONS:,}"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_set_is_refused_whole_and_nothing_is_stored(sets: QuestionSets, case: str) -> None:
    kept = sets.add(UNIT, "đã có", GOOD)
    name, questions, says = BAD[case]
    with pytest.raises(InvalidInput, match=says):
        sets.add(UNIT, name, questions)
    assert sets.list(UNIT) == [kept]


def test_the_largest_set_allowed_is_stored(sets: QuestionSets) -> None:
    info = sets.add(UNIT, "lớn", _many(MAX_QUESTIONS))
    assert info.questions == MAX_QUESTIONS == len(sets.get(UNIT, info.id).questions)
