"""Asking for the HTTP edge: whole answers and answer events, and the reader that answered.

Issue 14's core half (``Assistant.ask_stream``, ``Answer.reader``, follow-up questions) has not
landed: until it does, this module streams a finished answer (its citations, its text as one
piece, then the answer) and names the configured reader, so that the API and the pages stream
today and switch to the core's events by changing only this module. ``history`` is accepted and
ignored, as the extractive readers will ignore it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from app.answer.extract import LexicalReader
from app.assistant import Assistant
from app.domain import Answer, Citation


@dataclass(frozen=True)
class Turn:
    """One earlier message of a conversation."""

    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True)
class CitationsReady:
    citations: list[Citation]


@dataclass(frozen=True)
class AnswerDelta:
    text: str


@dataclass(frozen=True)
class AnswerDone:
    answer: Answer


AnswerEvent = CitationsReady | AnswerDelta | AnswerDone


def reader_of(assistant: Assistant) -> str:
    """The reader that produces this assistant's answers: ``lexical`` or ``neural``."""
    return "lexical" if isinstance(assistant.answerer.reader, LexicalReader) else "neural"


def ask(assistant: Assistant, question: str, unit: str | None, top_k: int, history: Sequence[Turn] = ()) -> Answer:
    return assistant.ask(question, unit=unit, top_k=top_k)


def ask_stream(
    assistant: Assistant, question: str, unit: str | None, top_k: int, history: Sequence[Turn] = ()
) -> Iterator[AnswerEvent]:
    """The answer's events. Asks before returning, so that a bad question or unknown unit raises
    here, before any response has started (and keeps its status code)."""
    answer = assistant.ask(question, unit=unit, top_k=top_k)
    # Retrieval's order, as the core's citations event will come: before reading puts the answer first.
    retrieved = sorted(answer.citations, key=lambda c: -c.score)
    events: list[AnswerEvent] = [CitationsReady(retrieved)]
    if answer.answer is not None:
        events.append(AnswerDelta(answer.answer))
    events.append(AnswerDone(answer))
    return iter(events)
