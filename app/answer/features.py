"""The feature sets a fitted answer model can be made of: one per reader.

The lexical reader ranks sentences and judges its answer on word overlap and the retrieval
scores (``evidence.py``). The neural reader keeps every one of those and adds what the
cross-encoder says, so that the fit can weigh the model against a strong lexical baseline
instead of replacing it (docs/quality.md, the reader).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app.answer.evidence import EVIDENCE_FEATURES, SENTENCE_FEATURES, Candidate


@dataclass(frozen=True)
class FeatureSet:
    name: str
    sentence: tuple[str, ...]  # a candidate's features, in order
    evidence: tuple[str, ...]  # the answer's confidence features, in order
    # The confidence features beyond ``EVIDENCE_FEATURES``, from the candidates and the chosen one.
    extra_evidence: Callable[[Sequence[Candidate], int], tuple[float, ...]]


def _none(candidates: Sequence[Candidate], best: int) -> tuple[float, ...]:
    return ()


LEXICAL = FeatureSet("lexical", SENTENCE_FEATURES, EVIDENCE_FEATURES, _none)

READER_LOGIT = "reader"  # the cross-encoder's logit for the sentence, the last sentence feature


def reader_evidence(candidates: Sequence[Candidate], best: int) -> tuple[float, ...]:
    """The chosen sentence's reader logit, and the log-odds that any candidate answers.

    The reader was trained with a "no sentence answers" option of logit 0 beside the
    candidates, so ``log Σ exp(logit)`` is the log-odds of an answer being there at all.
    """
    logits = [c.features[-1] for c in candidates]
    top = max(logits)
    anywhere = top + math.log(sum(math.exp(x - top) for x in logits))
    return (candidates[best].features[-1], anywhere)


NEURAL = FeatureSet(
    "neural",
    (*SENTENCE_FEATURES, READER_LOGIT),
    (*EVIDENCE_FEATURES, "reader_answer", "reader_any"),
    reader_evidence,
)

FEATURE_SETS = {f.name: f for f in (LEXICAL, NEURAL)}
