"""Two runs over the same questions, compared question by question.

Two readers' totals can differ by one question on a set of a hundred, and a bar such as
"answers more and falsely answers fewer" is then decided by which way a few questions fell.
Pairing the runs says which questions changed, and resampling the questions says how large a
difference of that kind still could be chance: the interval an evaluator needs before trusting
that one run beats the other.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from app.errors import InvalidInput
from app.evaluation.dataset import Question
from app.evaluation.outcomes import Outcome, Record

RESAMPLES = 10_000
LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


@dataclass(frozen=True)
class Difference:
    """One count of an outcome (correct answers, false answers): the other run's less the base's."""

    outcome: Outcome
    out_of: int  # the questions it is counted over: the answerable ones, or the unanswerable ones
    base: int
    other: int
    gained: int  # questions with this outcome in the other run and not in the base
    lost: int  # the other way round
    rate_interval: Interval  # of the change in its rate (other − base), paired bootstrap
    p_value: float  # exact two-sided sign test over the gained and lost questions

    @property
    def change(self) -> int:
        return self.other - self.base


@dataclass(frozen=True)
class Changed:
    question: Question
    base: Outcome
    other: Outcome


@dataclass(frozen=True)
class Comparison:
    shared: int  # questions in both runs, the ones compared
    only_base: int
    only_other: int
    correct: Difference
    false_answers: Difference
    changed: tuple[Changed, ...]  # every shared question whose outcome differs, in the base run's order

    def moves(self) -> list[tuple[Outcome, Outcome, int]]:
        """(base outcome, other outcome, questions), the most frequent move first."""
        counts = Counter((c.base, c.other) for c in self.changed)
        return [
            (a, b, n) for (a, b), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][0].value, kv[0][1].value))
        ]

    @property
    def other_beats_base(self) -> bool:
        """More correct answers and fewer false answers at once (what issue 13's bar asks)."""
        return self.correct.change > 0 and self.false_answers.change < 0


def compare(base: Sequence[Record], other: Sequence[Record], resamples: int = RESAMPLES, seed: int = 0) -> Comparison:
    """Pair ``base`` and ``other`` by question id. Questions in one run only are counted apart and
    left out; a question asked in both with other expected answers means the set changed between
    the runs, and comparing them would count different things: refused."""
    by_id = {r.question.id: r for r in other}
    pairs = [(r, by_id[r.question.id]) for r in base if r.question.id in by_id]
    if not pairs:
        raise InvalidInput("the two runs share no question: compare runs over the same question set")
    differing = [a.question.id for a, b in pairs if a.question.answers != b.question.answers]
    if differing:
        raise InvalidInput(
            f"{len(differing)} question(s) have other expected answers in the two runs (first: {differing[0]!r}):"
            " the question set changed between them"
        )
    rng = np.random.default_rng(seed)
    answerable = [(a, b) for a, b in pairs if a.question.answerable]
    unanswerable = [(a, b) for a, b in pairs if not a.question.answerable]
    return Comparison(
        shared=len(pairs),
        only_base=len(base) - len(pairs),
        only_other=len(other) - len(pairs),
        correct=_difference(Outcome.CORRECT, answerable, rng, resamples),
        false_answers=_difference(Outcome.FALSE_ANSWER, unanswerable, rng, resamples),
        changed=tuple(Changed(a.question, a.outcome, b.outcome) for a, b in pairs if a.outcome is not b.outcome),
    )


def _difference(
    outcome: Outcome, pairs: Sequence[tuple[Record, Record]], rng: np.random.Generator, resamples: int
) -> Difference:
    base = np.array([a.outcome is outcome for a, _ in pairs], dtype=np.int8)
    other = np.array([b.outcome is outcome for _, b in pairs], dtype=np.int8)
    delta = other - base
    gained, lost = int((delta > 0).sum()), int((delta < 0).sum())
    return Difference(
        outcome=outcome,
        out_of=len(pairs),
        base=int(base.sum()),
        other=int(other.sum()),
        gained=gained,
        lost=lost,
        rate_interval=paired_bootstrap(delta, rng, resamples),
        p_value=sign_test(gained, lost),
    )


def paired_bootstrap(delta: np.ndarray, rng: np.random.Generator, resamples: int = RESAMPLES) -> Interval:
    """Percentile interval of the mean of ``delta`` (per question: other − base, in −1, 0, 1) over
    ``resamples`` draws of the questions with replacement; (0, 0) with no question."""
    if delta.size == 0:
        return Interval(0.0, 0.0)
    means = delta[rng.integers(0, delta.size, size=(resamples, delta.size))].mean(axis=1)
    tail = (1 - LEVEL) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return Interval(float(low), float(high))


def sign_test(gained: int, lost: int) -> float:
    """Exact two-sided p-value of ``gained`` against ``lost`` under "either way is equally likely"
    (McNemar's exact test): the questions that did not change carry no evidence either way."""
    n = gained + lost
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(gained, lost) + 1)) / (1 << n)
    return min(1.0, 2 * tail)
