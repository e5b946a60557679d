"""Deterministic parts of a question set, so tuning and reporting never share questions."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from app.errors import InvalidInput
from app.evaluation.dataset import Question


def parse_part(spec: str) -> tuple[int, int]:
    try:
        k, n = (int(x) for x in spec.split("/"))
    except ValueError as exc:
        raise InvalidInput(f"part {spec!r} is not K/N, e.g. 1/2") from exc
    if not 1 <= k <= n:
        raise InvalidInput(f"part {spec!r}: K must be between 1 and N")
    return k, n


def select_part(questions: Sequence[Question], spec: str | None) -> list[Question]:
    """Questions whose id hashes into part K of N (``None``: all of them)."""
    if spec is None:
        return list(questions)
    k, n = parse_part(spec)
    return [q for q in questions if int(hashlib.sha256(q.id.encode()).hexdigest(), 16) % n == k - 1]


def fold_of(question: Question, folds: int) -> int:
    """The cross-validation fold (0 … folds - 1) of a question: a hash of its id salted apart from
    the parts' hash, so that the folds split any part evenly."""
    return int(hashlib.sha256(f"fold:{question.id}".encode()).hexdigest(), 16) % folds
