"""Option values that are more than a string: click parses and checks them, commands get them typed.

(click 8.5 types its ``ParamType`` by the value it gives and the input it takes.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

import click

if TYPE_CHECKING:
    from app.evaluation.dataset import Question

T = TypeVar("T")


@dataclass(frozen=True)
class QuestionSet:
    """A question file and the corpus its questions are asked over."""

    questions: Path
    corpus: Path


class QuestionSetType(click.ParamType[QuestionSet, object]):
    """``QUESTIONS=CORPUS``, both existing."""

    name = "QUESTIONS=CORPUS"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> QuestionSet:
        if isinstance(value, QuestionSet):
            return value
        questions, sep, corpus = str(value).partition("=")
        if not sep or not Path(questions).is_file() or not Path(corpus).exists():
            self.fail(f"{value!r} is not QUESTIONS=CORPUS with both paths existing", param, ctx)
        return QuestionSet(Path(questions), Path(corpus))


@dataclass(frozen=True)
class AnswerRateFloor:
    """``QUESTIONS=RATE``: the answer rate a question set must keep. ``text``: as given, for messages."""

    questions: Path
    rate: float
    text: str

    def problem(self) -> str:
        return (
            f"{self.text!r} is not QUESTIONS=RATE with QUESTIONS one of the tuning sets (or of the "
            "--threshold-on sets) and RATE in [0, 1]"
        )


class AnswerRateFloorType(click.ParamType[AnswerRateFloor, object]):
    """``QUESTIONS=RATE`` with RATE in [0, 1]; whether QUESTIONS is a tuning set, the command checks."""

    name = "QUESTIONS=RATE"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> AnswerRateFloor:
        if isinstance(value, AnswerRateFloor):
            return value
        questions, sep, rate = str(value).partition("=")
        try:
            parsed = float(rate)
        except ValueError:
            parsed = -1.0
        floor = AnswerRateFloor(Path(questions), parsed, str(value))
        if not sep or not 0.0 <= parsed <= 1.0:
            self.fail(floor.problem(), param, ctx)
        return floor


@dataclass(frozen=True)
class CrossFit:
    """``PART=DELTA``: the tuning questions of PART (K/N) are read by the reader delta at DELTA."""

    part: str
    delta: Path

    def reads(self, question: Question) -> bool:
        """Whether this delta reads ``question``: it is in the part."""
        from app.evaluation.split import select_part

        return bool(select_part([question], self.part))


class CrossFitType(click.ParamType[CrossFit, object]):
    """``K/N=DELTA``, the part well-formed and the delta file existing."""

    name = "K/N=DELTA"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> CrossFit:
        from app.errors import InvalidInput
        from app.evaluation.split import parse_part

        if isinstance(value, CrossFit):
            return value
        part, sep, delta = str(value).partition("=")
        try:
            parse_part(part)
        except InvalidInput:
            sep = ""
        if not sep or not Path(delta).is_file():
            self.fail(f"{value!r} is not K/N=DELTA with K/N a part (e.g. 1/4) and DELTA an existing file", param, ctx)
        return CrossFit(part, Path(delta))


class CommaSeparated(click.ParamType[tuple[T, ...], object], Generic[T]):
    """``10,30,60``: a tuple of values, each parsed by ``parse`` (empty items are skipped)."""

    def __init__(self, parse: Callable[[str], T], items: str) -> None:
        self.parse = parse
        self.items = items
        self.name = f"{items},…"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> tuple[T, ...]:
        if isinstance(value, tuple):
            return value
        try:
            return tuple(self.parse(item) for item in str(value).split(",") if item.strip())
        except ValueError as exc:
            self.fail(f"not a comma-separated list of {self.items}: {exc}", param, ctx)


class ConfidenceFeature(click.ParamType[str, object]):
    """The name of one of the answer model's confidence features."""

    name = "FEATURE"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> str:
        # Imported here: the feature list pulls in the answer package, which `troly --help` need not load.
        from app.answer.evidence import EVIDENCE_FEATURES

        if value not in EVIDENCE_FEATURES:
            self.fail(f"{value!r} is not a confidence feature: {', '.join(EVIDENCE_FEATURES)}", param, ctx)
        return str(value)
