"""Reciprocal rank fusion of ranked lists, keeping each retriever's own score and rank."""

from __future__ import annotations

from dataclasses import dataclass

from app.search.vector import Keys, Scores


@dataclass
class Fused:
    key: int
    score: float
    dense: float | None = None
    lexical: float | None = None
    dense_rank: int | None = None
    lexical_rank: int | None = None


def reciprocal_rank_fusion(
    dense: tuple[Keys, Scores], lexical: tuple[Keys, Scores], k: int = 60, lexical_weight: float = 1.0
) -> list[Fused]:
    fused: dict[int, Fused] = {}
    for rank, (key, score) in enumerate(zip(*dense, strict=True)):
        item = fused.setdefault(int(key), Fused(int(key), 0.0))
        item.score += 1.0 / (k + rank + 1)
        item.dense, item.dense_rank = float(score), rank
    for rank, (key, score) in enumerate(zip(*lexical, strict=True)):
        item = fused.setdefault(int(key), Fused(int(key), 0.0))
        item.score += lexical_weight / (k + rank + 1)
        item.lexical, item.lexical_rank = float(score), rank
    return sorted(fused.values(), key=lambda f: (-f.score, f.key))
