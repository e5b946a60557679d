"""Tuning examples for the neural reader's answer model: the lexical shortlist, re-read.

The neural reader ranks only the lexical ranker's best sentences, each with the
cross-encoder's logit as one more feature (``app.answer.neural.reader``); its answer model
is fitted on exactly those candidates, so that tuning sees what the reader will see.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace

from app.answer.model import AnswerModel
from app.answer.neural.reader import read_shortlist
from app.answer.neural.scorer import PairScorer
from app.evaluation.dataset import Question
from app.evaluation.outcomes import contains_answer
from app.tuning.training import Example


def with_reader(
    examples: Sequence[Example],
    lexical: AnswerModel,
    scorer_for: Callable[[Question], PairScorer],
    size: int,
    margin: float = math.inf,
    progress: Callable[[int], None] | None = None,
) -> list[Example]:
    """``scorer_for``: the cross-encoder that reads a question; one trained without it when the
    answer model is cross-fitted (``troly tune --cross-fit``)."""
    out: list[Example] = []
    for ex in examples:
        candidates = ex.evidence.candidates
        if candidates:
            short = read_shortlist(
                ex.evidence.profile, ex.evidence.hits, candidates, lexical, scorer_for(ex.question), size, margin
            )
            q = ex.question
            labels = tuple(q.answerable and contains_answer(c.text, q.answers) for c in short)
            ex = Example(q, replace(ex.evidence, candidates=short), labels)
        out.append(ex)
        if progress:
            progress(1)
    return out
