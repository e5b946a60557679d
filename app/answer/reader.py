"""The reader seam: what reads the retrieved passages and finds the answer in them.

The answerer retrieves, hands the hits to a ``Reader`` and turns what it found into an
answer with citations; it never knows how the reader reads. Today's reader is the lexical
one (``app.answer.extract.LexicalReader``: fitted sentence ranker and confidence); a neural
reader implements the same protocol and is chosen in ``app/wiring.py``. A ``Generator`` (the
LLM reader, ``app.answer.llm``) writes its answer instead, and answers with an extractive
reader behind it whenever it cannot.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from app.answer.evidence import Idf
from app.answer.periods import Periods
from app.answer.question import QuestionProfile
from app.domain import PassageHit, Turn

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
    """An extractive reader: finds the answering sentence in the passages."""

    @property
    def name(self) -> str:
        """``lexical`` or ``neural``: what answers say produced them."""
        ...

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


@dataclass(frozen=True)
class Generated:
    """What a generating reader wrote: the answer (None: it refused) and the passages it cites,
    as indexes into those it was given, in the order of the answer's ``[1]``, ``[2]``… markers."""

    text: str | None
    cited: list[int]


class Generation(Protocol):
    def __iter__(self) -> Iterator[str]:
        """The answer's text in pieces as it is written (markers already renumbered). Raises
        ``LLMUnavailable`` when the reader fails, before or during the text."""
        ...

    @property
    def result(self) -> Generated:
        """The whole answer, once the pieces have all been read."""
        ...


class Generator(Protocol):
    """A reader that writes its answer (an LLM) instead of picking a sentence. It may fail at any
    time with ``LLMUnavailable``; the answerer then answers with its extractive reader."""

    name: str

    def check(self) -> None:
        """Raises ``LLMUnavailable`` unless the reader can answer now (readiness)."""
        ...

    def rewrite(self, question: str, history: Sequence[Turn]) -> str:
        """A follow-up question rewritten to stand alone, for retrieval."""
        ...

    def generate(self, question: str, passages: Sequence[PassageHit]) -> Generation: ...
