"""Passage recall of the fused ranking over a grid of RRF settings, from one retrieval per question.

Each question is embedded and searched once; every (k, lexical weight) pair then re-fuses the
same two ranked lists, so a grid of dozens of settings costs about one evaluation run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app.assistant import Assistant
from app.evaluation.dataset import Question
from app.evaluation.outcomes import contains_answer
from app.search.fusion import reciprocal_rank_fusion
from app.search.unit_index import Ranked
from app.text.normalize import normalize


@dataclass(frozen=True)
class _Retrieved:
    dense: Ranked
    lexical: Ranked
    answering: frozenset[int]  # keys of candidate passages that hold an expected answer


@dataclass(frozen=True)
class GridPoint:
    rrf_k: int
    lexical_weight: float
    recall_at_1: float
    recall_at_5: float
    questions: int


def _retrieve(assistant: Assistant, question: Question) -> _Retrieved:
    dense, lexical = assistant.candidates(normalize(question.question), question.unit)
    keys = {int(k) for k in dense[0]} | {int(k) for k in lexical[0]}
    passages = assistant.store.passages(sorted(keys))
    answering = frozenset(p.key for p in passages if contains_answer(p.passage.text, question.answers))
    return _Retrieved(dense, lexical, answering)


def fusion_grid(
    assistant: Assistant,
    questions: Sequence[Question],
    ks: Sequence[int],
    weights: Sequence[float],
    progress: Callable[[int], object] | None = None,
) -> list[GridPoint]:
    """Recall@1 and @5 of the fused list for every (k, weight), on the answerable questions."""
    retrieved = []
    for question in questions:
        if question.answerable:
            retrieved.append(_retrieve(assistant, question))
        if progress:
            progress(1)
    points = []
    n = max(len(retrieved), 1)
    for k in ks:
        for weight in weights:
            at_1 = at_5 = 0
            for r in retrieved:
                top = [f.key for f in reciprocal_rank_fusion(r.dense, r.lexical, k=k, lexical_weight=weight)[:5]]
                at_1 += bool(top) and top[0] in r.answering
                at_5 += any(key in r.answering for key in top)
            points.append(GridPoint(k, weight, at_1 / n, at_5 / n, len(retrieved)))
    return points
