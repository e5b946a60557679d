"""The command line's parameter types: QUESTIONS=CORPUS, QUESTIONS=RATE, K/N=DELTA, comma lists."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from app.cli.params import AnswerRateFloorType, CommaSeparated, CrossFit, CrossFitType, QuestionSet, QuestionSetType
from app.evaluation.dataset import Question
from app.evaluation.split import select_part


def test_a_question_set_needs_both_paths(tmp_path: Path) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text("", encoding="utf-8")
    assert QuestionSetType().convert(f"{questions}={tmp_path}", None, None) == QuestionSet(questions, tmp_path)
    for bad in (str(questions), f"{questions}={tmp_path / 'missing'}", f"{tmp_path / 'missing'}={tmp_path}"):
        with pytest.raises(click.BadParameter, match="is not QUESTIONS=CORPUS"):
            QuestionSetType().convert(bad, None, None)


@pytest.mark.parametrize("bad", ["q.jsonl", "q.jsonl=1.5", "q.jsonl=most", "q.jsonl=-0.1"])
def test_a_floor_is_a_rate_in_0_1(bad: str) -> None:
    assert AnswerRateFloorType().convert("q.jsonl=0.92", None, None).rate == 0.92
    with pytest.raises(click.BadParameter, match=r"one of the tuning sets \(or of the --threshold-on sets\) and RATE"):
        AnswerRateFloorType().convert(bad, None, None)


def test_comma_lists_skip_empty_items_and_refuse_other_values() -> None:
    assert CommaSeparated(int, "integers").convert("10, 30,,60,", None, None) == (10, 30, 60)
    assert CommaSeparated(float, "numbers").convert("0.7,1", None, None) == (0.7, 1.0)
    with pytest.raises(click.BadParameter, match="not a comma-separated list of integers"):
        CommaSeparated(int, "integers").convert("1,x", None, None)


def test_a_cross_fit_is_a_part_and_an_existing_delta(tmp_path: Path) -> None:
    delta = tmp_path / "reader-delta.npz"
    delta.write_bytes(b"")
    assert CrossFitType().convert(f"1/4={delta}", None, None) == CrossFit("1/4", delta)
    for bad in (str(delta), f"1/4={tmp_path / 'missing.npz'}", f"5/4={delta}", f"half={delta}"):
        with pytest.raises(click.BadParameter, match="is not K/N=DELTA"):
            CrossFitType().convert(bad, None, None)


def test_a_cross_fit_reads_the_questions_of_its_part_only() -> None:
    questions = [Question(f"q{i}", "Câu hỏi?", ("x",)) for i in range(40)]
    first, third = CrossFit("1/4", Path("a.npz")), CrossFit("3/4", Path("b.npz"))
    assert [q for q in questions if first.reads(q)] == select_part(questions, "1/4")
    assert [q for q in questions if third.reads(q)] == select_part(questions, "3/4")
    # Parts 1/4 and 3/4 split part 1/2, the tuning part, between them.
    assert sorted(q.id for q in questions if first.reads(q) or third.reads(q)) == sorted(
        q.id for q in select_part(questions, "1/2")
    )
