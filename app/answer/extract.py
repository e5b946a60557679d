"""From retrieved passages to a short extractive answer with a confidence in [0, 1].

The answer is the best sentence; when the ranker hesitates between it and the runner-up
(scores closer than the model's ``second_sentence_gap``) and both fit the length limit,
the answer is both sentences, in reading order when they share a passage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.answer.evidence import Candidate, Idf, evidence_features, sentence_candidates, sigmoid
from app.answer.features import LEXICAL, FeatureSet
from app.answer.mismatch import answers_another_question, document_misses_period
from app.answer.model import AnswerModel
from app.answer.question import QuestionProfile
from app.answer.reader import DocumentPeriodsOf, Reading
from app.domain import PassageHit


@dataclass(frozen=True)
class Extraction(Reading):
    """A lexical reading: ``text`` is one sentence, or two joined by a space; with what it was scored on."""

    evidence: tuple[float, ...]
    sentences: tuple[Candidate, ...]


def clip(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    cut = text.rfind(" ", 0, max_chars - 1)
    return text[: cut if cut > 0 else max_chars - 1] + "…"


def choose(
    candidates: Sequence[Candidate], scores: Sequence[float], gap: float, max_chars: int
) -> tuple[int, tuple[Candidate, ...]]:
    """The best candidate's index, and the sentences that make the answer: the runner-up joins
    it when close enough, never the best sentence again (passages overlap, documents repeat)."""
    order = sorted(range(len(candidates)), key=lambda i: -scores[i])
    best = candidates[order[0]]
    runner_up = next((i for i in order[1:] if candidates[i].text != best.text), None)
    if runner_up is not None:
        second = candidates[runner_up]
        close = scores[order[0]] - scores[runner_up] <= gap
        if close and len(best.text) + 1 + len(second.text) <= max_chars:
            pair = (best, second)
            if second.hit == best.hit and second.start < best.start:
                pair = (second, best)
            return order[0], pair
    return order[0], (best,)


def judge(
    model: AnswerModel,
    features: FeatureSet,
    question: QuestionProfile,
    hits: Sequence[PassageHit],
    candidates: Sequence[Candidate],
    idf: Idf,
    document_periods: DocumentPeriodsOf,
    max_chars: int,
) -> Extraction:
    """The answer ``model`` gives over non-empty ``candidates`` (each carrying ``features.sentence``):
    the ranked best sentence, perhaps with the runner-up, and the confidence in it. Every reader
    and the tuning that fits their models decide through here.

    An answer that speaks of another period, variant or official than the question asks about
    (``answers_another_question``), or comes from a document that never names the month or
    quarter asked about (``document_misses_period``), gets confidence 0: whatever the model's
    score, it answers another question. A runner-up that speaks of another period, variant or
    official is left out of the answer instead (its document is not read: the chosen sentence's
    document decides)."""
    scores = [model.sentence(c.features) for c in candidates]
    best, sentences = choose(candidates, scores, model.second_sentence_gap, max_chars)
    chosen = candidates[best]
    if len(sentences) > 1:
        sentences = tuple(c for c in sentences if c is chosen or not answers_another_question(question, c.text))
    document = document_periods(hits[chosen.hit])
    evidence = evidence_features(question, hits, candidates, scores, best, idf, sentences, document)
    evidence += features.extra_evidence(candidates, best)
    text = clip(" ".join(c.text for c in sentences), max_chars)
    vetoed = answers_another_question(question, chosen.text) or document_misses_period(question, chosen.text, document)
    confidence = 0.0 if vetoed else sigmoid(model.confidence(evidence))
    return Extraction(chosen.hit, chosen.start, chosen.end, text, confidence, evidence, tuple(sentences))


class LexicalReader:
    """The ``lexical`` reader: the fitted sentence ranker picks the answer, the fitted confidence judges it."""

    name = "lexical"

    def __init__(self, model: AnswerModel, max_chars: int = 400) -> None:
        self._model = model
        self._max_chars = max_chars

    @property
    def threshold(self) -> float:
        return self._model.threshold

    def read(
        self,
        question: QuestionProfile,
        hits: Sequence[PassageHit],
        idf: Idf,
        document_periods: DocumentPeriodsOf,
    ) -> Extraction | None:
        """``document_periods``: what a hit's document names (``named_periods``), asked for the
        answering hit only."""
        candidates = sentence_candidates(question, hits, idf)
        if not candidates:
            return None
        return judge(self._model, LEXICAL, question, hits, candidates, idf, document_periods, self._max_chars)
