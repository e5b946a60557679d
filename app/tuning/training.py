"""Fitting the sentence ranker and the abstention confidence on questions with known answers.

Both are logistic regressions over the features in ``app.answer.evidence``: the ranker
learns which sentence holds the answer; the confidence learns when the answer the
extractor would give is right, from answerable questions and from questions the corpus
cannot answer. The threshold then maximises correct answers minus false ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from app.answer.evidence import Evidence
from app.answer.extract import judge
from app.answer.features import LEXICAL, FeatureSet
from app.answer.model import AnswerModel, LinearModel
from app.assistant import Assistant
from app.errors import InvalidInput
from app.evaluation.dataset import Question
from app.evaluation.outcomes import contains_answer, roc_auc


@dataclass(frozen=True)
class Example:
    question: Question
    evidence: Evidence
    labels: tuple[bool, ...]  # per candidate sentence: holds an expected answer


@dataclass(frozen=True)
class Decision:
    confidence: float
    correct: bool  # the answer the extractor gives holds an expected answer
    answerable: bool
    features: tuple[float, ...]


def collect(
    assistant: Assistant, questions: Sequence[Question], progress: Callable[[int], None] | None = None
) -> list[Example]:
    examples = []
    for q in questions:
        evidence = assistant.evidence(q.question, q.unit)
        labels = tuple(q.answerable and contains_answer(c.text, q.answers) for c in evidence.candidates)
        examples.append(Example(q, evidence, labels))
        if progress:
            progress(1)
    return examples


def _fit(x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> LinearModel:
    """Logistic regression on standardised features, folded back into weights on the raw features.

    Standardising first lets the regularisation treat a logit-valued feature and a 0/1 one
    alike (cross-validated inside the tuning part: docs/quality.md); folding keeps the
    model a plain weighted sum at question time.
    """
    from sklearn.linear_model import LogisticRegression

    # Weighted moments, so that a weight of 2 is exactly an example seen twice.
    mean = np.average(x, axis=0, weights=w)
    scale = np.sqrt(np.average((x - mean) ** 2, axis=0, weights=w))
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=1.0, max_iter=5000)
    model.fit((x - mean) / scale, y, sample_weight=w)
    weights = model.coef_[0] / scale
    bias = float(model.intercept_[0]) - float(weights @ mean)
    return LinearModel(tuple(float(w) for w in weights), bias)


def decide(
    examples: Sequence[Example], model: AnswerModel, max_chars: int = 400, features: FeatureSet = LEXICAL
) -> list[Decision]:
    """What the extractor would answer for each example under ``model``, and whether it is right."""
    out = []
    for ex in examples:
        cands, q = ex.evidence.candidates, ex.question
        if not cands:
            out.append(Decision(0.0, False, q.answerable, ()))
            continue
        ev = ex.evidence
        found = judge(model, features, ev.profile, ev.hits, cands, ev.idf, ev.document_periods, max_chars)
        correct = q.answerable and contains_answer(" ".join(c.text for c in found.sentences), q.answers)
        out.append(Decision(found.confidence, correct, q.answerable, found.evidence))
    return out


def answer_rate(decisions: Sequence[Decision], threshold: float) -> float:
    answerable = sum(1 for d in decisions if d.answerable)
    correct = sum(1 for d in decisions if d.correct and d.confidence >= threshold)
    return correct / answerable if answerable else 1.0


def best_threshold(
    decisions: Sequence[Decision],
    false_answer_cost: float = 1.0,
    floors: Sequence[tuple[Sequence[Decision], float]] = (),
    also_try: Sequence[Decision] = (),
) -> float:
    """The confidence threshold that maximises correct answers minus the cost of wrong ones,
    among those that keep each floor's questions at or above its answer rate. The thresholds
    tried are ``decisions``' confidences, and ``also_try``'s, which do not count in the gain.

    The gain alone is flat over a wide band of thresholds, so its maximum moves with every
    refit; a floor on the answer rate of a set like the one the assistant will be judged on
    pins the threshold to what the ministry's bar asks. A floor that no threshold reaches is
    held at the most that any reaches, and the gain still chooses among the thresholds that
    reach it: one correct answer fewer on the floor's set must not send the threshold down to
    the most lenient one, answering every unanswerable question on the way for no correct
    answer more.
    """
    # Never 0: a vetoed answer's confidence is 0, and a threshold of 0 would answer it.
    thresholds = sorted({t for d in (*decisions, *also_try) if (t := round(d.confidence, 3)) > 0} | {0.5})
    reachable = [(ds, min(rate, answer_rate(ds, thresholds[0]))) for ds, rate in floors]
    allowed = [t for t in thresholds if all(answer_rate(ds, t) >= rate for ds, rate in reachable)]

    def gain(t: float) -> float:
        return sum(1.0 if d.correct else -false_answer_cost for d in decisions if d.confidence >= t)

    return max(allowed, key=gain)


def pooled(sets: Sequence[Sequence[Example]], balance: bool) -> tuple[list[Example], list[float] | None]:
    """Every set's examples for one fit, and their weights: none (every question weighs the
    same), or with ``balance`` each weighted so that every set weighs the same, a set of 134
    seed questions as much as one of 573 translated ones, where it would otherwise count a fifth
    as much. The mean weight is 1, so the regularisation's strength is unchanged."""
    examples = [ex for exs in sets for ex in exs]
    if not balance:
        return examples, None
    return examples, [len(examples) / (len(sets) * len(exs)) for exs in sets for _ in exs]


def fit(
    examples: Sequence[Example],
    trained_on: str,
    second_sentence_gap: float = 2.0,
    false_answer_cost: float = 1.0,
    floors: Sequence[tuple[Sequence[Example], float]] = (),
    without: Sequence[str] = (),
    features: FeatureSet = LEXICAL,
    weights: Sequence[float] | None = None,
    threshold_on: Sequence[Example] = (),
) -> AnswerModel:
    """``floors``: question sets whose answer rate the threshold must keep;
    ``without``: confidence features left out (their weight is 0), to measure what each one brings;
    ``features``: the reader's feature set, which the examples' candidates carry; ``weights``:
    each example's weight in both regressions (``pooled``), 1 each by default; ``threshold_on``:
    questions not fitted on whose decisions choose the threshold instead of ``examples``' (a
    reader's logits on the questions it was trained on are surer than on new ones)."""
    weight = list(weights) if weights is not None else [1.0] * len(examples)
    unknown = set(without) - set(features.evidence)
    if unknown:
        raise InvalidInput(f"unknown confidence features: {', '.join(sorted(unknown))}")
    rows: list[tuple[float, ...]] = []
    labels: list[bool] = []
    row_weights: list[float] = []
    for ex, w in zip(examples, weight, strict=True):
        if ex.question.answerable and any(ex.labels):
            rows.extend(c.features for c in ex.evidence.candidates)
            labels.extend(ex.labels)
            row_weights.extend([w] * len(ex.labels))
    if not rows or all(labels):
        raise InvalidInput("tuning needs answerable questions whose answers the retrieved passages hold")
    sentence = _fit(np.array(rows), np.array(labels), np.array(row_weights))
    draft = AnswerModel(
        sentence=sentence,
        confidence=LinearModel((0.0,) * len(features.evidence), 0.0),
        threshold=0.5,
        trained_on=trained_on,
        second_sentence_gap=second_sentence_gap,
    )
    judged = [(d, w) for d, w in zip(decide(examples, draft, features=features), weight, strict=True) if d.features]
    x = np.array([d.features for d, _ in judged])
    # A constant column gets no weight from the standardised regression.
    x[:, [features.evidence.index(f) for f in without]] = 0.0
    confidence = _fit(x, np.array([d.correct for d, _ in judged]), np.array([w for _, w in judged]))
    model = replace(draft, confidence=confidence)
    kept = [(decide(subset, model, features=features), rate) for subset, rate in floors]
    chosen_on = decide(threshold_on or examples, model, features=features)
    # Chosen on other questions, a floor on a fitted set may be met only between their
    # confidences: the floor sets' own are tried too (among ``examples``, they add nothing).
    floored = [d for ds, _ in kept for d in ds] if threshold_on else []
    return replace(model, threshold=best_threshold(chosen_on, false_answer_cost, kept, also_try=floored))


@dataclass(frozen=True)
class HeldOut:
    """One question set's decisions, each under a model fitted without the question's fold."""

    decisions: list[Decision]
    thresholds: list[float]  # the threshold of the model each decision was made under

    @property
    def auc(self) -> float:
        """ROC AUC of the confidence, correct answers against everything else (nan with one class)."""
        return roc_auc(
            [d.confidence for d in self.decisions if d.correct], [d.confidence for d in self.decisions if not d.correct]
        )

    @property
    def log_loss(self) -> float:
        from sklearn.metrics import log_loss

        p = np.clip([d.confidence for d in self.decisions], 1e-6, 1 - 1e-6)
        return float(log_loss([d.correct for d in self.decisions], p, labels=[False, True]))

    def _answered(self) -> list[tuple[Decision, bool]]:
        return [(d, d.confidence >= t) for d, t in zip(self.decisions, self.thresholds, strict=True)]

    @property
    def answer_rate(self) -> float:
        answerable = [(d, a) for d, a in self._answered() if d.answerable]
        return sum(1 for d, a in answerable if a and d.correct) / len(answerable) if answerable else 0.0

    @property
    def false_answer_rate(self) -> float:
        unanswerable = [a for d, a in self._answered() if not d.answerable]
        return sum(unanswerable) / len(unanswerable) if unanswerable else 0.0


def cross_validate(
    sets: Mapping[str, Sequence[Example]],
    fold: Callable[[Example], int],
    folds: int,
    floors: Mapping[str, float] | None = None,
    second_sentence_gap: float = 2.0,
    false_answer_cost: float = 1.0,
    without: Sequence[str] = (),
    features: FeatureSet = LEXICAL,
    balance: bool = False,
) -> dict[str, HeldOut]:
    """For each fold, fits on the others (all sets together, as ``troly tune`` does) and decides
    that fold's questions; returns every set's out-of-fold decisions. ``floors``: answer rates
    of sets the threshold must keep, on the training folds; ``balance``: every set weighs the
    same in each fold's fit (``pooled``)."""
    decided: dict[str, list[tuple[Decision, float]]] = {name: [] for name in sets}
    for k in range(folds):
        train = {name: [ex for ex in exs if fold(ex) != k] for name, exs in sets.items()}
        kept = [(train[name], rate) for name, rate in (floors or {}).items()]
        examples, weights = pooled(list(train.values()), balance)
        model = fit(
            examples,
            f"fold {k + 1}/{folds}",
            second_sentence_gap=second_sentence_gap,
            false_answer_cost=false_answer_cost,
            floors=kept,
            without=without,
            features=features,
            weights=weights,
        )
        for name, exs in sets.items():
            held = [ex for ex in exs if fold(ex) == k]
            decided[name].extend((d, model.threshold) for d in decide(held, model, features=features))
    return {name: HeldOut([d for d, _ in pairs], [t for _, t in pairs]) for name, pairs in decided.items()}
