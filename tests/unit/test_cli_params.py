"""The command line's parameter types: QUESTIONS=CORPUS, QUESTIONS=RATE, comma lists."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from app.cli.params import AnswerRateFloorType, CommaSeparated, QuestionSet, QuestionSetType


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
    with pytest.raises(click.BadParameter, match="one of the tuning sets and RATE in"):
        AnswerRateFloorType().convert(bad, None, None)


def test_comma_lists_skip_empty_items_and_refuse_other_values() -> None:
    assert CommaSeparated(int, "integers").convert("10, 30,,60,", None, None) == (10, 30, 60)
    assert CommaSeparated(float, "numbers").convert("0.7,1", None, None) == (0.7, 1.0)
    with pytest.raises(click.BadParameter, match="not a comma-separated list of integers"):
        CommaSeparated(int, "integers").convert("1,x", None, None)
