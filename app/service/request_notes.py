"""What the current request did, for its log line: the unit asked, the reader, whether it answered.

The request log (``app.api.request_log``) opens the notes when a request comes in; whatever
answers the request notes its answer here (``note_answer``), from any thread of the request
(the context, and with it the notes object, is copied into the thread pool).
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from app.domain import Answer


@dataclass
class RequestNotes:
    request_id: str
    unit: str | None = None
    reader: str | None = None
    answered: bool | None = None


_current: ContextVar[RequestNotes | None] = ContextVar("troly_request_notes", default=None)


def open_notes(request_id: str) -> RequestNotes:
    notes = RequestNotes(request_id)
    _current.set(notes)
    return notes


def current() -> RequestNotes | None:
    return _current.get()


def note_answer(answer: Answer) -> None:
    notes = _current.get()
    if notes is not None:
        notes.unit = answer.unit
        notes.reader = answer.reader
        notes.answered = answer.answer is not None
