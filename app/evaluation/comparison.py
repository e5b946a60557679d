"""Two runs over the same questions, compared question by question.

Two readers' totals can differ by one question on a set of a hundred, and a bar such as
"more correct answers and fewer false answers" is then decided by which way a few questions fell.
Pairing the runs says which questions changed. Only those carry evidence of which run is better,
so whether a change could be chance is an exact sign test over them; a bootstrap interval over all
the questions says how large the change could be.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from app.errors import InvalidInput
from app.evaluation.dataset import Question
from app.evaluation.outcomes import Outcome, Record

RESAMPLES = 10_000
LEVEL = 0.95
SIGNIFICANCE = 0.05  # a change "beyond chance": its sign test's p below this


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


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

    @property
    def beyond_chance(self) -> bool:
        return self.p_value < SIGNIFICANCE


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

    @property
    def beats_beyond_chance(self) -> bool:
        """Beats it, and neither change could be chance. Both tests must pass, so no correction
        for testing twice is needed."""
        return self.other_beats_base and self.correct.beyond_chance and self.false_answers.beyond_chance


def compare(base: Sequence[Record], other: Sequence[Record], resamples: int = RESAMPLES, seed: int = 0) -> Comparison:
    """Pair ``base`` and ``other`` by question id. Questions in one run only are counted apart and
    left out; a question asked in both with other expected answers means the set changed between
    the runs, and comparing them would count different things: refused."""
    for run in (base, other):
        _refuse_duplicates(run)
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


def _refuse_duplicates(run: Sequence[Record]) -> None:
    counts = Counter(r.question.id for r in run)
    twice = [qid for qid, n in counts.items() if n > 1]
    if twice:
        raise InvalidInput(f"a run asks question {twice[0]!r} {counts[twice[0]]} times: ids must be unique")


def _difference(
    outcome: Outcome, pairs: Sequence[tuple[Record, Record]], rng: np.random.Generator, resamples: int
) -> Difference:
    base = sum(1 for a, _ in pairs if a.outcome is outcome)
    gained = sum(1 for a, b in pairs if a.outcome is not outcome and b.outcome is outcome)
    lost = sum(1 for a, b in pairs if a.outcome is outcome and b.outcome is not outcome)
    return Difference(
        outcome=outcome,
        out_of=len(pairs),
        base=base,
        other=base + gained - lost,
        gained=gained,
        lost=lost,
        rate_interval=paired_bootstrap(gained, lost, len(pairs), rng, resamples),
        p_value=sign_test(gained, lost),
    )


def paired_bootstrap(
    gained: int, lost: int, questions: int, rng: np.random.Generator, resamples: int = RESAMPLES
) -> Interval:
    """Percentile interval of the change in a rate, (gained − lost) / questions, over ``resamples``
    draws of the questions with replacement; (0, 0) with no question. Each question's change is
    +1, −1 or 0, so a draw is one multinomial count of the three: the same distribution as drawing
    question indices, in memory that does not grow with the set."""
    if questions == 0:
        return Interval(0.0, 0.0)
    # numpy takes the last probability as whatever the others leave
    counts = rng.multinomial(questions, [gained / questions, lost / questions, 0.0], size=resamples)
    changes = (counts[:, 0] - counts[:, 1]) / questions
    tail = (1 - LEVEL) / 2 * 100
    low, high = np.percentile(changes, [tail, 100 - tail])
    return Interval(float(low), float(high))


def sign_test(gained: int, lost: int) -> float:
    """Exact two-sided p-value of ``gained`` against ``lost`` under "either way is equally likely"
    (McNemar's exact test): the questions that did not change carry no evidence either way."""
    n = gained + lost
    term = tail = 1  # C(n, 0); each next binomial coefficient from the last, in exact integers
    for k in range(1, min(gained, lost) + 1):
        term = term * (n - k + 1) // k
        tail += term
    return min(1.0, 2 * tail / (1 << n))
