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
    base = [_answerable("a", None), _unanswerable("e", "có")]
    both = [_answerable("a", "1.024"), _unanswerable("e", None)]
    assert compare(base, both).other_beats_base
    more_correct_only = [_answerable("a", "1.024"), _unanswerable("e", "có")]
    fewer_false_only = [_answerable("a", None), _unanswerable("e", None)]
    assert not compare(base, more_correct_only).other_beats_base
    assert not compare(base, fewer_false_only).other_beats_base
    assert not compare(base, base).other_beats_base


def _turned(correct: int, false_answers: int, unchanged: int = 20) -> tuple[list[Record], list[Record]]:
    """Two runs: ``correct`` questions turned from abstained to correct, ``false_answers`` turned
    from answered to abstained, and ``unchanged`` of each kind left as they were."""
    base = [_answerable(f"c{i}", None) for i in range(correct)] + [
        _unanswerable(f"f{i}", "có") for i in range(false_answers)
    ]
    other = [_answerable(f"c{i}", "1.024") for i in range(correct)] + [
        _unanswerable(f"f{i}", None) for i in range(false_answers)
    ]
    same = [_answerable(f"s{i}", "1.024") for i in range(unchanged)] + [
        _unanswerable(f"u{i}", None) for i in range(unchanged)
    ]
    return base + same, other + same


def test_beating_beyond_chance_needs_both_sign_tests() -> None:
    assert compare(*_turned(6, 6)).beats_beyond_chance  # p = 2/64 each
    assert not compare(*_turned(6, 5)).beats_beyond_chance  # 5 of 5: p = 2/32, could be chance
    assert not compare(*_turned(5, 6)).beats_beyond_chance
    # four of four either way: an interval from resampling leaves out 0, the exact test does not
    few = compare(*_turned(4, 4))
    assert few.correct.rate_interval.low > 0 and not few.beats_beyond_chance


def test_questions_in_one_run_only_are_counted_apart_and_left_out() -> None:
    base = [_answerable("a", "1.024"), _answerable("b", None), _unanswerable("e", "có")]
    other = [_answerable("b", "1.024"), _answerable("z", "1.024")]
    c = compare(base, other)
    assert (c.shared, c.only_base, c.only_other) == (1, 2, 1)
    assert (c.correct.base, c.correct.other, c.false_answers.out_of) == (0, 1, 0)


def test_runs_with_no_question_in_common_are_refused() -> None:
    with pytest.raises(InvalidInput, match="share no question"):
        compare([_answerable("a", None)], [_answerable("b", None)])


def test_a_run_asking_a_question_twice_is_refused() -> None:
    with pytest.raises(InvalidInput, match="'a' 2 times"):
        compare([_answerable("a", None), _answerable("a", None)], [_answerable("a", None)])


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


def test_the_sign_test_stays_exact_beyond_floats_range() -> None:
    # 2**1300 is past a float: the sum is over exact integers, against an independent log-space sum
    gained, lost = 700, 600
    n = gained + lost
    log_terms = [
        math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) - n * math.log(2) for k in range(lost + 1)
    ]
    top = max(log_terms)
    expected = 2 * math.exp(top + math.log(sum(math.exp(t - top) for t in log_terms)))
    assert sign_test(gained, lost) == pytest.approx(expected, rel=1e-9)
    assert sign_test(lost, gained) == sign_test(gained, lost)
    assert sign_test(650, 650) == 1.0


def test_the_interval_holds_the_observed_change_and_narrows_with_more_questions() -> None:
    rng = np.random.default_rng(0)
    a = paired_bootstrap(3, 1, 20, rng)  # 3 gained, 1 lost of 20: +0.1
    b = paired_bootstrap(60, 20, 400, rng)  # the same shares over 400 questions
    assert a.low < 0.1 < a.high and b.low < 0.1 < b.high
    assert a.low < 0 < b.low
    assert (b.high - b.low) < (a.high - a.low) / 3


def test_the_interval_is_the_one_resampling_question_by_question_gives() -> None:
    # the multinomial shortcut against drawing question indices, on one set of 30 questions
    delta = np.array([1] * 7 + [-1] * 3 + [0] * 20)
    draws = np.random.default_rng(1).integers(0, delta.size, size=(20_000, delta.size))
    low, high = np.percentile(delta[draws].mean(axis=1), [2.5, 97.5])
    interval = paired_bootstrap(7, 3, 30, np.random.default_rng(2), resamples=20_000)
    assert interval.low == pytest.approx(low, abs=0.034) and interval.high == pytest.approx(high, abs=0.034)


def test_the_interval_of_no_change_is_zero() -> None:
    interval = paired_bootstrap(0, 0, 50, np.random.default_rng(0))
    assert (interval.low, interval.high) == (0.0, 0.0)
    assert paired_bootstrap(0, 0, 0, np.random.default_rng(0)) == interval


def test_the_same_seed_gives_the_same_interval() -> None:
    base = [_answerable(str(i), "1.024" if i % 3 else None) for i in range(30)]
    other = [_answerable(str(i), "1.024" if i % 4 else None) for i in range(30)]
    first, second = compare(base, other, seed=7), compare(base, other, seed=7)
    assert first.correct.rate_interval == second.correct.rate_interval
    assert math.isclose(first.correct.p_value, second.correct.p_value)
