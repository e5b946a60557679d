"""Fitting the sentence ranker and the abstention confidence on questions with known answers.

Both are logistic regressions over the features in ``app.answer.evidence``: the ranker
learns which sentence holds the answer; the confidence learns when the answer the
extractor would give is right, from answerable questions and from questions the corpus
cannot answer. The threshold then maximises correct answers minus false ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from app.answer.evidence import EVIDENCE_FEATURES, evidence_features, sigmoid
from app.answer.extract import choose
from app.answer.model import AnswerModel, LinearModel
from app.assistant import Assistant, Evidence
from app.evaluation.dataset import Question
from app.evaluation.outcomes import contains_answer


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


def _fit(x: np.ndarray, y: np.ndarray) -> LinearModel:
    """Logistic regression on standardised features, folded back into weights on the raw features.

    Standardising first lets the regularisation treat a logit-valued feature and a 0/1 one
    alike (cross-validated inside the tuning part: docs/quality.md); folding keeps the
    model a plain weighted sum at question time.
    """
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=1.0, max_iter=5000)
    model.fit((x - mean) / scale, y)
    weights = model.coef_[0] / scale
    bias = float(model.intercept_[0]) - float(weights @ mean)
    return LinearModel(tuple(float(w) for w in weights), bias)


def decide(examples: Sequence[Example], model: AnswerModel, max_chars: int = 400) -> list[Decision]:
    """What the extractor would answer for each example under ``model``, and whether it is right."""
    out = []
    for ex in examples:
        cands, q = ex.evidence.candidates, ex.question
        if not cands:
            out.append(Decision(0.0, False, q.answerable, ()))
            continue
        scores = [model.sentence(c.features) for c in cands]
        best, sentences = choose(cands, scores, model.second_sentence_gap, max_chars)
        hit = ex.evidence.hits[cands[best].hit]
        document = ex.evidence.periods[hit.passage.id]
        feats = evidence_features(
            ex.evidence.profile, ex.evidence.hits, cands, scores, best, ex.evidence.idf, sentences, document
        )
        correct = q.answerable and contains_answer(" ".join(c.text for c in sentences), q.answers)
        out.append(Decision(sigmoid(model.confidence(feats)), correct, q.answerable, feats))
    return out


def answer_rate(decisions: Sequence[Decision], threshold: float) -> float:
    answerable = sum(1 for d in decisions if d.answerable)
    correct = sum(1 for d in decisions if d.correct and d.confidence >= threshold)
    return correct / answerable if answerable else 1.0


def best_threshold(
    decisions: Sequence[Decision],
    false_answer_cost: float = 1.0,
    floors: Sequence[tuple[Sequence[Decision], float]] = (),
) -> float:
    """The confidence threshold that maximises correct answers minus the cost of wrong ones,
    among those that keep each floor's questions at or above its answer rate.

    The gain alone is flat over a wide band of thresholds, so its maximum moves with every
    refit; a floor on the answer rate of a set like the one the assistant will be judged on
    pins the threshold to what the ministry's bar asks. No threshold meets an unreachable
    floor: then the most lenient one.
    """
    thresholds = sorted({round(d.confidence, 3) for d in decisions} | {0.5})
    allowed = [t for t in thresholds if all(answer_rate(ds, t) >= rate for ds, rate in floors)]
    if not allowed:
        return thresholds[0]

    def gain(t: float) -> float:
        return sum(1.0 if d.correct else -false_answer_cost for d in decisions if d.confidence >= t)

    return max(allowed, key=gain)


def fit(
    examples: Sequence[Example],
    trained_on: str,
    second_sentence_gap: float = 2.0,
    false_answer_cost: float = 1.0,
    floors: Sequence[tuple[Sequence[Example], float]] = (),
) -> AnswerModel:
    """``floors``: question sets (among ``examples``) whose answer rate the threshold must keep."""
    rows: list[tuple[float, ...]] = []
    labels: list[bool] = []
    for ex in examples:
        if ex.question.answerable and any(ex.labels):
            rows.extend(c.features for c in ex.evidence.candidates)
            labels.extend(ex.labels)
    if not rows or all(labels):
        raise ValueError("tuning needs answerable questions whose answers the retrieved passages hold")
    sentence = _fit(np.array(rows), np.array(labels))
    draft = AnswerModel(
        sentence=sentence,
        confidence=LinearModel((0.0,) * len(EVIDENCE_FEATURES), 0.0),
        threshold=0.5,
        trained_on=trained_on,
        second_sentence_gap=second_sentence_gap,
    )
    decisions = [d for d in decide(examples, draft) if d.features]
    confidence = _fit(np.array([d.features for d in decisions]), np.array([d.correct for d in decisions]))
    model = replace(draft, confidence=confidence)
    kept = [(decide(subset, model), rate) for subset, rate in floors]
    return replace(model, threshold=best_threshold(decide(examples, model), false_answer_cost, kept))
