"""Features of candidate answer sentences and of the evidence behind an answer.

Every feature is a number in a fixed order so that the weights that combine them can be
fitted on development data (``troly tune``) and stored in ``model.json``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app.answer.periods import Periods, period_unnamed, time_conflict
from app.answer.question import AnswerType, QuestionProfile, number_pattern
from app.domain import PassageHit
from app.text.sentences import sentence_spans
from app.text.tokens import syllables

Idf = Callable[[str], float]

SENTENCE_FEATURES = (
    "overlap",  # idf-weighted share of the question's terms in the sentence
    "window_overlap",  # the same over the sentence and its neighbours
    "bigram",  # share of the question's word pairs found in the sentence
    "type_match",  # the sentence holds what the question type asks for, beyond the question's words
    "novelty",  # share of the sentence's terms that the question does not contain
    "passage_rrf",  # the passage's fused retrieval score, scaled to the best one
    "passage_dense",  # cosine similarity of the question and the passage
    "passage_top",  # the passage ranked first
    "proximity",  # how tightly the question's terms cluster in the sentence
)

EVIDENCE_FEATURES = (
    "sentence_score",  # the ranker's logit for the chosen sentence
    "overlap",
    "window_overlap",
    "passage_coverage",  # idf-weighted share of the question's terms in the whole passage and title
    "top_dense",  # cosine of the best dense hit
    "answer_dense",  # cosine of the answering passage
    "numbers_found",  # share of the question's numbers and years that the evidence repeats
    "names_found",  # share of the question's capitalised names that the evidence repeats
    "margin",  # lead of the chosen sentence over the best one of another passage
    "missing_rare",  # the rarest question term the evidence lacks, as a share of the rarest term's idf
    "answer_numbers_found",  # share of the question's numbers and years in the answering sentence or next to it
    "time_conflict",  # the question names a period; the answer speaks of another and the passage never of it
    "type_match",  # the answer holds what the question type asks for
    "period_unnamed",  # the question names a period that the answer's document never names
    "answer_missing_rare",  # the rarest question term the answer's sentences lack, as a share of the rarest idf
)

_DIGIT = re.compile(r"\d")
_CAPITALISED = re.compile(r"\b[A-ZĐÀ-Ỹ][\wÀ-ỹ]*", re.UNICODE)


@dataclass(frozen=True)
class Candidate:
    hit: int  # index into the hits
    start: int  # offsets in the passage text
    end: int
    text: str
    features: tuple[float, ...]


def _weighted_share(terms: frozenset[str], present: set[str], idf: Idf) -> float:
    total = sum(idf(t) for t in terms)
    if total <= 0:
        return 0.0
    return sum(idf(t) for t in terms if t in present) / total


# Numbers written as words ("giành được sáu giải"); not "một" (also "a") nor "năm" (also "year").
_NUMERAL = re.compile(r"\b(?:hai|ba|bốn|sáu|bảy|tám|chín|mười|mươi|trăm|nghìn|ngàn|triệu|tỷ|nửa|chục|vài)\b")
_ERA = re.compile(r"\b(?:thế kỷ|thập niên|thập kỷ|thế chiến|thời kỳ|triều đại)\b")


def _type_match(profile: QuestionProfile, sentence: str, sentence_terms: set[str]) -> float:
    kind = profile.answer_type
    if kind in (AnswerType.NUMBER, AnswerType.TIME):
        numbers = set(re.findall(r"\d+(?:[.,/]\d+)*", sentence))
        if numbers - set(profile.numbers):
            return 1.0
        words = _NUMERAL if kind is AnswerType.NUMBER else _ERA
        asked = set(words.findall(profile.text.lower()))
        return 1.0 if set(words.findall(sentence.lower())) - asked else 0.0
    if kind in (AnswerType.PERSON, AnswerType.PLACE):
        names = {m.group(0) for m in _CAPITALISED.finditer(sentence)}
        return 1.0 if names - set(profile.names) - {sentence.split()[0] if sentence.split() else ""} else 0.0
    return 1.0 if sentence_terms - profile.terms else 0.0


def _proximity(profile: QuestionProfile, sentence: Sequence[str]) -> float:
    """Distinct question terms in the sentence over the length of the stretch they span: an
    answer sentence tends to repeat the question's words close together, one that merely
    shares them scatters them. 0 below two matched terms."""
    at = [i for i, s in enumerate(sentence) if s in profile.terms]
    if len(at) < 2:
        return 0.0
    return len({sentence[i] for i in at}) / (at[-1] - at[0] + 1)


def sentence_candidates(profile: QuestionProfile, hits: Sequence[PassageHit], idf: Idf) -> list[Candidate]:
    if not hits:
        return []
    best_rrf = max(h.score for h in hits) or 1.0
    out: list[Candidate] = []
    for index, hit in enumerate(hits):
        text = hit.passage.text
        spans = sentence_spans(text)
        sylls = [syllables(text[s:e]) for s, e in spans]
        terms = [set(x) for x in sylls]
        for i, (s, e) in enumerate(spans):
            window = terms[i].union(*(terms[j] for j in (i - 1, i + 1) if 0 <= j < len(spans)))
            pairs = set(zip(sylls[i], sylls[i][1:], strict=False))
            bigram = len(profile.bigrams & pairs) / len(profile.bigrams) if profile.bigrams else 0.0
            novel = terms[i] - profile.terms
            features = (
                _weighted_share(profile.terms, terms[i], idf),
                _weighted_share(profile.terms, window, idf),
                bigram,
                _type_match(profile, text[s:e], terms[i]),
                len(novel) / max(len(terms[i]), 1),
                hit.score / best_rrf,
                hit.dense if hit.dense is not None else 0.0,
                1.0 if index == 0 else 0.0,
                _proximity(profile, sylls[i]),
            )
            out.append(Candidate(hit=index, start=s, end=e, text=text[s:e], features=features))
    return out


def _missing_rare(profile: QuestionProfile, present: set[str], idf: Idf) -> float:
    rarest = max((idf(t) for t in profile.terms), default=0.0)
    missing = [idf(t) for t in profile.terms if t not in present]
    return max(missing, default=0.0) / rarest if rarest > 0 else 0.0


def _found_share(items: Sequence[str], haystack: str, numeric: bool) -> float:
    if not items:
        return 1.0
    if numeric:
        found = sum(1 for n in items if number_pattern(n).search(haystack))
    else:
        found = sum(1 for n in items if n in haystack)
    return found / len(items)


def evidence_features(
    profile: QuestionProfile,
    hits: Sequence[PassageHit],
    candidates: Sequence[Candidate],
    scores: Sequence[float],
    best: int,
    idf: Idf,
    answer: Sequence[Candidate],
    document: Periods,
) -> tuple[float, ...]:
    """``answer``: the sentences the answer is made of (the best candidate, perhaps with the runner-up);
    ``document``: the periods named by the document that holds the best candidate (``named_periods``
    of its title, date and text)."""
    chosen = candidates[best]
    hit = hits[chosen.hit]
    window = " ".join(c.text for c in candidates if c.hit == chosen.hit and abs(c.start - chosen.start) <= 400)
    evidence = f"{hit.title}\n{hit.date or ''}\n{hit.passage.text}"
    others = [s for c, s in zip(candidates, scores, strict=True) if c.hit != chosen.hit]
    margin = scores[best] - max(others) if others else 5.0
    dense = [h.dense for h in hits if h.dense is not None]
    present = set(syllables(evidence))
    answer_text = " ".join(c.text for c in answer)
    answer_terms = set(syllables(answer_text))
    return (
        scores[best],
        chosen.features[0],
        chosen.features[1],
        _weighted_share(profile.terms, present, idf),
        max(dense) if dense else 0.0,
        hit.dense if hit.dense is not None else 0.0,
        _found_share(profile.numbers, evidence, numeric=True),
        _found_share(profile.names, evidence, numeric=False),
        max(min(margin, 5.0), -5.0),
        _missing_rare(profile, present, idf),
        _found_share(profile.numbers, window, numeric=True),
        time_conflict(profile.text, answer_text, evidence),
        _type_match(profile, answer_text, answer_terms),
        period_unnamed(profile.text, document),
        _missing_rare(profile, answer_terms, idf),
    )


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(x, 50.0), -50.0)))


@dataclass(frozen=True)
class Evidence:
    """What the lexical reader sees for a question: for fitting its model (``app.tuning``) and diagnosis."""

    profile: QuestionProfile
    hits: list[PassageHit]
    candidates: list[Candidate]
    idf: Idf
    periods: dict[str, Periods]  # the periods each hit's document names, by passage id

    def document_periods(self, hit: PassageHit) -> Periods:
        """What a reader asks for the answering hit (``DocumentPeriodsOf``), from the periods kept."""
        return self.periods[hit.passage.id]
