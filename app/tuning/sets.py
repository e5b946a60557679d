"""Fitting on several question sets at once, as ``troly tune`` does: one model over all of their
examples, the threshold held to the answer-rate floors some of the sets carry; or the same fit
cross-validated by fold of each question's id."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from app.answer.features import LEXICAL, FeatureSet
from app.answer.model import AnswerModel
from app.evaluation.split import fold_of
from app.tuning import training
from app.tuning.training import Example, HeldOut

# A question set's examples by the path of its question file.
Collected = Mapping[Path, Sequence[Example]]


@dataclass(frozen=True)
class Fitting:
    """How the model is fitted, the same for a fit and for each fold of a cross-validation."""

    second_sentence_gap: float = 2.0
    false_answer_cost: float = 1.0
    without: tuple[str, ...] = ()
    features: FeatureSet = LEXICAL  # the reader's: what the examples' candidates carry
    balance: bool = False  # every question set weighs the same in the fit, not every question


def _floors_of(collected: Collected, floors: Mapping[Path, float]) -> dict[Path, float]:
    """``floors`` (answer rates by question file) matched to the collected sets by resolved path."""
    by_file = {path.resolve(): rate for path, rate in floors.items()}
    return {q: by_file[q.resolve()] for q in collected if q.resolve() in by_file}


def fit_sets(
    collected: Collected,
    floors: Mapping[Path, float],
    label: str,
    embedder: str,
    fitting: Fitting,
    threshold_sets: Collected | None = None,
) -> AnswerModel:
    """One model over every set's examples; ``embedder``: the one the features were measured with;
    ``threshold_sets``: sets not fitted on, whose questions choose the threshold (floors may name
    them too)."""
    examples, weights = training.pooled(list(collected.values()), fitting.balance)
    every = {**collected, **(threshold_sets or {})}
    kept = _floors_of(every, floors)
    model = training.fit(
        examples,
        label,
        second_sentence_gap=fitting.second_sentence_gap,
        false_answer_cost=fitting.false_answer_cost,
        floors=[(every[q], rate) for q, rate in kept.items()],
        without=fitting.without,
        features=fitting.features,
        weights=weights,
        threshold_on=[ex for exs in (threshold_sets or {}).values() for ex in exs],
    )
    # The weights carry this embedder's cosine scale: the model says which one (a warning at start otherwise).
    return replace(model, embedder=embedder)


def cross_validate_sets(
    collected: Collected, floors: Mapping[Path, float], folds: int, fitting: Fitting
) -> dict[str, HeldOut]:
    """Each set's out-of-fold decisions, by the set's path as text."""
    return training.cross_validate(
        {str(q): exs for q, exs in collected.items()},
        lambda ex: fold_of(ex.question, folds),
        folds,
        floors={str(q): rate for q, rate in _floors_of(collected, floors).items()},
        second_sentence_gap=fitting.second_sentence_gap,
        false_answer_cost=fitting.false_answer_cost,
        without=fitting.without,
        features=fitting.features,
        balance=fitting.balance,
    )
