"""The ``neural`` reader: the lexical candidates, re-read by the cross-encoder, then a fitted
combination of both that ranks the sentences and judges the answer.

Only the lexical ranker's best few sentences are read by the model: it costs about the same
for every pair, and the lexical shortlist of 6 already holds an answering sentence for
97–99% of the questions where any retrieved sentence does (docs/quality.md). A margin can
narrow it to the ones near the lexical favourite: one far behind it on word overlap almost
never wins the combined ranking, so where the lexical ranker is sure, fewer pairs cost less
time for nearly always the same answer (docs/performance.md, "Reading fewer pairs").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from app.answer.evidence import Candidate, Idf, sentence_candidates
from app.answer.extract import Extraction, judge
from app.answer.features import NEURAL
from app.answer.model import AnswerModel
from app.answer.neural.scorer import PairScorer
from app.answer.neural.tokenizer import PairText
from app.answer.question import QuestionProfile
from app.answer.reader import DocumentPeriodsOf
from app.domain import PassageHit

DEFAULT_SHORTLIST = 6
NEURAL_MODEL_PATH = Path(__file__).with_name("answer_model.json")  # fitted by `troly tune --reader neural`
_BEFORE_CHARS = 240  # the passage text before a sentence that the reader sees (it keeps ~20 tokens)
_AFTER_CHARS = 160


def shortlist(
    candidates: Sequence[Candidate], lexical_scores: Sequence[float], size: int, margin: float = math.inf
) -> list[int]:
    """The lexical ranker's best ``size`` candidates, each text once (passages overlap); with a
    ``margin``, only those whose score is within it of the best one's. The model's cost is
    linear in the pairs it reads, and a sentence far behind on word overlap rarely wins the
    combined ranking, so the margin reads fewer pairs where the lexical ranker is sure."""
    if not margin >= 0:
        raise ValueError(f"a shortlist margin is 0 or more (inf: the whole shortlist), not {margin}")
    seen: set[str] = set()
    out: list[int] = []
    order = sorted(range(len(candidates)), key=lambda i: -lexical_scores[i])
    floor = lexical_scores[order[0]] - margin if order else -math.inf
    for i in order:
        if lexical_scores[i] < floor:
            break
        if candidates[i].text not in seen:
            seen.add(candidates[i].text)
            out.append(i)
            if len(out) == size:
                break
    return out


def pair_text(question: str, hit: PassageHit, candidate: Candidate) -> PairText:
    text = hit.passage.text
    return PairText(
        question=question,
        title=hit.title,
        sentence=candidate.text,
        before=text[max(0, candidate.start - _BEFORE_CHARS) : candidate.start].strip(),
        after=text[candidate.end : candidate.end + _AFTER_CHARS].strip(),
    )


def read_shortlist(
    question: QuestionProfile,
    hits: Sequence[PassageHit],
    candidates: Sequence[Candidate],
    lexical: AnswerModel,
    scorer: PairScorer,
    size: int,
    margin: float = math.inf,
) -> list[Candidate]:
    """The shortlisted candidates, each with the reader's logit as its last feature (its lexical
    prior added, when it was trained with one)."""
    scores = [lexical.sentence(c.features) for c in candidates]
    keep = shortlist(candidates, scores, size, margin)
    logits = scorer.score([pair_text(question.text, hits[candidates[i].hit], candidates[i]) for i in keep])
    prior = lexical_prior(scores, keep, scorer.lexical_prior)
    return [
        replace(candidates[i], features=(*candidates[i].features, x + p))
        for i, x, p in zip(keep, logits, prior, strict=True)
    ]


def lexical_prior(scores: Sequence[float], chosen: Sequence[int], weight: float) -> list[float]:
    """``weight`` × each chosen candidate's lexical score less the best of all ``scores``: 0 for the
    word-overlap favourite, so the prior reorders the sentences without moving the "no sentence
    answers" option, whose logit stays 0. No candidates, no prior (a question with nothing retrieved)."""
    top = max(scores, default=0.0)
    return [weight * (scores[i] - top) for i in chosen]


class NeuralReader:
    name = "neural"

    def __init__(
        self,
        lexical: AnswerModel,
        combined: AnswerModel,
        scorer: PairScorer,
        max_chars: int = 400,
        shortlist_size: int = DEFAULT_SHORTLIST,
        shortlist_margin: float = math.inf,
    ) -> None:
        """``lexical``: the shipped lexical model, which shortlists; ``combined``: the model fitted
        on the ``NEURAL`` features, which ranks the shortlist and judges the answer."""
        self._lexical = lexical
        self._model = combined
        self._scorer = scorer
        self._max_chars = max_chars
        self._size = shortlist_size
        self._margin = shortlist_margin

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
        candidates = sentence_candidates(question, hits, idf)
        if not candidates:
            return None
        short = read_shortlist(question, hits, candidates, self._lexical, self._scorer, self._size, self._margin)
        return judge(self._model, NEURAL, question, hits, short, idf, document_periods, self._max_chars)
