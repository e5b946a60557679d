"""Two runs compared question by question: the moves, the counts, the interval and the sign test."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.errors import InvalidInput
from app.evaluation.comparison import compare, paired_bootstrap, sign_test
from app.evaluation.dataset import Question
from app.evaluation.outcomes import Outcome, Record


def _record(qid: str, answers: tuple[str, ...], answer: str | None) -> Record:
    return Record(Question(qid, f"câu hỏi {qid}?", answers), answer, 0.5, (), 1.0)


def _answerable(qid: str, answer: str | None) -> Record:
    return _record(qid, ("1.024",), answer)


def _unanswerable(qid: str, answer: str | None) -> Record:
    return _record(qid, (), answer)


def test_the_moves_and_the_counts_of_two_runs() -> None:
    base = [
        _answerable("a", "1.024 hồ sơ"),  # correct -> correct
        _answerable("b", None),  # false abstention -> correct
        _answerable("c", "2.048 hồ sơ"),  # wrong -> correct
        _answerable("d", "1.024 hồ sơ"),  # correct -> false abstention
        _unanswerable("e", "năm 2021"),  # false answer -> correct abstention
        _unanswerable("f", None),  # correct abstention -> correct abstention
    ]
    other = [
        _answerable("a", "có 1.024 hồ sơ"),
        _answerable("b", "1.024"),
        _answerable("c", "1.024"),
        _answerable("d", None),
        _unanswerable("e", None),
        _unanswerable("f", None),
    ]
    c = compare(base, other)
    assert (c.shared, c.only_base, c.only_other) == (6, 0, 0)
    assert (c.correct.base, c.correct.other, c.correct.change) == (2, 3, 1)
    assert (c.correct.gained, c.correct.lost, c.correct.out_of) == (2, 1, 4)
    assert (c.false_answers.base, c.false_answers.other, c.false_answers.change) == (1, 0, -1)
    assert (c.false_answers.gained, c.false_answers.lost, c.false_answers.out_of) == (0, 1, 2)
    assert [ch.question.id for ch in c.changed] == ["b", "c", "d", "e"]
    assert sorted(c.moves(), key=lambda m: m[0].value) == sorted(
        [
            (Outcome.FALSE_ABSTENTION, Outcome.CORRECT, 1),
            (Outcome.WRONG, Outcome.CORRECT, 1),
            (Outcome.CORRECT, Outcome.FALSE_ABSTENTION, 1),
            (Outcome.FALSE_ANSWER, Outcome.CORRECT_ABSTENTION, 1),
        ],
        key=lambda m: m[0].value,
    )
    assert c.other_beats_base


def test_the_most_frequent_move_comes_first() -> None:
    base = [_answerable(str(i), None) for i in range(3)] + [_answerable("w", "sai")]
    other = [_answerable(str(i), "1.024") for i in range(3)] + [_answerable("w", "1.024")]
    assert compare(base, other).moves()[0] == (Outcome.FALSE_ABSTENTION, Outcome.CORRECT, 3)


def test_beating_needs_more_correct_and_fewer_false_answers_at_once() -> None:
    base = [_answerable("a", None), _unanswerable("e", None)]
    more_of_both = [_answerable("a", "1.024"), _unanswerable("e", "có")]
    assert not compare(base, more_of_both).other_beats_base
    assert not compare(base, base).other_beats_base


def test_questions_in_one_run_only_are_counted_apart_and_left_out() -> None:
    base = [_answerable("a", "1.024"), _answerable("b", None), _unanswerable("e", "có")]
    other = [_answerable("b", "1.024"), _answerable("z", "1.024")]
    c = compare(base, other)
    assert (c.shared, c.only_base, c.only_other) == (1, 2, 1)
    assert (c.correct.base, c.correct.other, c.false_answers.out_of) == (0, 1, 0)


def test_runs_with_no_question_in_common_are_refused() -> None:
    with pytest.raises(InvalidInput, match="share no question"):
        compare([_answerable("a", None)], [_answerable("b", None)])


def test_a_question_whose_expected_answers_changed_is_refused() -> None:
    with pytest.raises(InvalidInput, match="question set changed"):
        compare([_answerable("a", "1.024")], [_record("a", ("2.048",), "2.048")])


@pytest.mark.parametrize(
    ("gained", "lost", "expected"),
    [
        (0, 0, 1.0),
        (1, 0, 1.0),  # one question either way is a coin toss
        (5, 0, 2 / 32),
        (6, 1, 2 * (1 + 7) / 128),
        (3, 3, 1.0),
        (0, 10, 2 / 1024),
    ],
)
def test_the_sign_test_is_mcnemars_exact_test(gained: int, lost: int, expected: float) -> None:
    assert sign_test(gained, lost) == pytest.approx(expected)


def test_the_interval_holds_the_observed_change_and_narrows_with_more_questions() -> None:
    rng = np.random.default_rng(0)
    small = np.array([1] * 3 + [-1] * 1 + [0] * 16, dtype=np.int8)
    large = np.tile(small, 20)
    a, b = paired_bootstrap(small, rng), paired_bootstrap(large, rng)
    assert a.low < small.mean() < a.high and b.low < large.mean() < b.high
    assert not a.excludes_zero  # 3 gained, 1 lost of 20: could be chance
    assert b.excludes_zero  # the same share over 400 questions: not chance
    assert (b.high - b.low) < (a.high - a.low) / 3


def test_the_interval_of_no_change_is_zero() -> None:
    interval = paired_bootstrap(np.zeros(50, dtype=np.int8), np.random.default_rng(0))
    assert (interval.low, interval.high) == (0.0, 0.0) and not interval.excludes_zero
    assert paired_bootstrap(np.zeros(0, dtype=np.int8), np.random.default_rng(0)) == interval


def test_the_same_seed_gives_the_same_interval() -> None:
    base = [_answerable(str(i), "1.024" if i % 3 else None) for i in range(30)]
    other = [_answerable(str(i), "1.024" if i % 4 else None) for i in range(30)]
    first, second = compare(base, other, seed=7), compare(base, other, seed=7)
    assert first.correct.rate_interval == second.correct.rate_interval
    assert math.isclose(first.correct.p_value, second.correct.p_value)
