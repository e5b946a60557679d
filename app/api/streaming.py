"""Server-sent events: the framing, and ``POST /v1/ask``'s stream over the core's answer events.

The stream is ``event: citations`` (the cited passages, as soon as retrieval is done), ``event:
delta`` (``{"text": …}`` pieces of the answer), then ``event: done`` with the very object the
non-streaming call returns, or ``event: error`` with an error body if something fails once the
response has started (before that, errors keep their status codes).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

from fastapi.responses import StreamingResponse

from app.api.errors import body_of
from app.api.schemas import AskOut, CitationOut
from app.domain import Answer, AnswerDelta, AnswerDone, AnswerEvent, CitationsReady

# Proxies (nginx) buffer responses unless told not to, which would hold every event until the end.
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def frame(data: str, event: str | None = None) -> bytes:
    """One event. JSON from ``json.dumps`` has no newline, but a data line may never hold one."""
    lines = [f"event: {event}"] if event else []
    lines += [f"data: {line}" for line in data.split("\n")]
    return ("\n".join(lines) + "\n\n").encode("utf-8")


def event_stream(chunks: Iterator[bytes]) -> StreamingResponse:
    return StreamingResponse(chunks, media_type="text/event-stream", headers=STREAM_HEADERS)


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def ask_events(
    events: Iterator[AnswerEvent], record: Callable[[Answer, float], None], started: float
) -> Iterator[bytes]:
    """``events`` as SSE; ``record(answer, latency_ms)`` runs once the answer is complete, as the
    non-streaming route records it, with the time since ``started`` (``time.perf_counter()``)."""
    try:
        for event in events:
            if isinstance(event, CitationsReady):
                citations = [CitationOut.of(c).model_dump(mode="json") for c in event.citations]
                yield frame(_json(citations), "citations")
            elif isinstance(event, AnswerDelta):
                yield frame(_json({"text": event.text}), "delta")
            elif isinstance(event, AnswerDone):
                record(event.answer, (time.perf_counter() - started) * 1000)
                yield frame(AskOut.of(event.answer).model_dump_json(), "done")
    except Exception as exc:  # the status line has gone: the error can only be an event now
        _, body = body_of(exc)
        yield frame(_json(body), "error")
