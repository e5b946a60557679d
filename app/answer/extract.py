"""From retrieved passages to a short extractive answer with a confidence in [0, 1]."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.answer.evidence import Candidate, Idf, evidence_features, sentence_candidates, sigmoid
from app.answer.model import AnswerModel
from app.answer.question import QuestionProfile
from app.domain import PassageHit


@dataclass(frozen=True)
class Extraction:
    hit: int  # which passage answers
    start: int  # the answer's offsets in that passage's text
    end: int
    text: str
    confidence: float
    evidence: tuple[float, ...]


def _clip(candidate: Candidate, max_chars: int) -> tuple[int, int]:
    if candidate.end - candidate.start <= max_chars:
        return candidate.start, candidate.end
    cut = candidate.text.rfind(" ", 0, max_chars - 1)
    return candidate.start, candidate.start + (cut if cut > 0 else max_chars - 1)


class AnswerExtractor:
    def __init__(self, model: AnswerModel, max_chars: int = 400) -> None:
        self._model = model
        self._max_chars = max_chars

    def candidates(self, profile: QuestionProfile, hits: Sequence[PassageHit], idf: Idf) -> list[Candidate]:
        return sentence_candidates(profile, hits, idf)

    def extract(self, profile: QuestionProfile, hits: Sequence[PassageHit], idf: Idf) -> Extraction | None:
        candidates = sentence_candidates(profile, hits, idf)
        if not candidates:
            return None
        scores = [self._model.sentence(c.features) for c in candidates]
        best = max(range(len(candidates)), key=scores.__getitem__)
        evidence = evidence_features(profile, hits, candidates, scores, best, idf)
        chosen = candidates[best]
        start, end = _clip(chosen, self._max_chars)
        text = hits[chosen.hit].passage.text[start:end]
        return Extraction(chosen.hit, start, end, text, sigmoid(self._model.confidence(evidence)), evidence)
