"""The smallest evidence the reader's pieces read: one normalised passage as the only hit, and the
question's candidate sentences in it (every term of equal rarity, no periods in the document)."""

from __future__ import annotations

from app.answer.evidence import Evidence, sentence_candidates
from app.answer.periods import Periods
from app.answer.question import profile
from app.domain import Passage, PassageHit
from app.text.normalize import normalize


def one_passage_evidence(text: str, question: str) -> Evidence:
    passage = normalize(text)
    hits = [PassageHit(Passage("p1", "d1", "u", 0, 0, len(passage), passage), "Báo cáo", None, 1.0, dense=0.9)]
    q = profile(normalize(question))
    candidates = sentence_candidates(q, hits, lambda _: 1.0)
    return Evidence(q, hits, candidates, lambda _: 1.0, {"p1": Periods(frozenset(), frozenset(), frozenset())})
