"""The reader seam: what reads the retrieved passages and finds the answer in them.

The answerer retrieves, hands the hits to a ``Reader`` and turns what it found into an
answer with citations; it never knows how the reader reads. Today's reader is the lexical
one (``app.answer.extract.LexicalReader``: fitted sentence ranker and confidence); a neural
reader implements the same protocol and is chosen in ``app/wiring.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from app.answer.evidence import Idf
from app.answer.periods import Periods
from app.answer.question import QuestionProfile
from app.domain import PassageHit

DocumentPeriodsOf = Callable[[PassageHit], Periods]


@dataclass(frozen=True)
class Reading:
    """The answer a reader found, whether or not its confidence clears the threshold."""

    hit: int  # index of the passage that holds the (first) answering sentence
    start: int  # that span's offsets in the passage text
    end: int
    text: str  # the answer, at most the answer length limit
    confidence: float  # in [0, 1], on the scale of the reader's own threshold


class Reader(Protocol):
    @property
    def threshold(self) -> float:
        """The abstention threshold calibrated for this reader's confidence."""
        ...

    def read(
        self,
        question: QuestionProfile,
        hits: Sequence[PassageHit],
        idf: Idf,
        document_periods: DocumentPeriodsOf,
    ) -> Reading | None:
        """The answer in ``hits`` (best first), or None when there is nothing to read.

        ``idf``: term rarity over the units asked; ``document_periods``: the periods a hit's
        document names, costly, so asked for the answering hit only.
        """
        ...
