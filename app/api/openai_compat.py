"""troly as an OpenAI-compatible chat model: ``GET /v1/models`` and ``POST /v1/chat/completions``.

Each unit is a model (its id), and ``troly`` is every unit. A chat completion answers the last
user message with troly's reader; the user and assistant messages before it are the history
(system messages are ignored: troly's instructions are its own). Keys and limits are those of
``POST /v1/ask``; errors come in OpenAI's shape (``app.api.errors``).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from fastapi import APIRouter, Request

from app.api.chat_reply import content, count_words, cut, strip_sources
from app.api.contract import CHAT_EVENT, errors
from app.api.errors import body_of
from app.api.openai_schemas import (
    ChatChoice,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionIn,
    ChatMessageIn,
    ChatMessageOut,
    ChunkChoice,
    ChunkDelta,
    FinishReason,
    ModelList,
    ModelOut,
    Usage,
)
from app.api.schemas import MAX_HISTORY_TURNS, CitationOut
from app.api.streaming import event_stream
from app.assistant import Assistant
from app.domain import Answer, AnswerDelta, AnswerDone, AnswerEvent, Turn
from app.errors import InvalidInput, UnitNotFound
from app.service.deps import AssistantDep, ReaderDep, ServicesDep, SettingsDep
from app.text.normalize import normalize

ALL_UNITS = "troly"
OWNER = "troly"
# Passages cited per reply: a chat reply lists its sources under the text, so few of them.
CHAT_TOP_K = 3

router = APIRouter(tags=["openai"])

_STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "a chat.completion, or with stream=true chat.completion.chunk events ending in data: [DONE]",
        "content": {"text/event-stream": {"schema": CHAT_EVENT}},
    },
    **errors(400, 401, 404, 413, 429, openai=True),
}


def _created(request: Request) -> int:
    started: int = request.app.state.started_at
    return started


@router.get("/v1/models", response_model=ModelList, responses=errors(401, openai=True))
def list_models(request: Request, assistant: AssistantDep, _: ReaderDep) -> ModelList:
    """``created``: when this troly started (units keep no creation time)."""
    created = _created(request)
    ids = [ALL_UNITS, *(u.id for u in assistant.list_units() if u.id != ALL_UNITS)]
    return ModelList(data=[ModelOut(id=i, created=created, owned_by=OWNER) for i in ids])


@router.get("/v1/models/{model}", response_model=ModelOut, responses=errors(401, 404, openai=True))
def get_model(model: str, request: Request, assistant: AssistantDep, _: ReaderDep) -> ModelOut:
    _unit_of(model, assistant)
    return ModelOut(id=model, created=_created(request), owned_by=OWNER)


def _unit_of(model: str, assistant: Assistant) -> str | None:
    if model == ALL_UNITS:
        return None
    try:
        assistant.unit(model)
    except UnitNotFound as exc:
        raise UnitNotFound(f"The model '{model}' does not exist: GET /v1/models lists troly's models") from exc
    return model


def _check_question(n: int, message: ChatMessageIn, max_chars: int) -> None:
    """Every user message is a question troly could be asked, as the schema says: some content,
    each piece of its text not blank, the whole at most ``max_chars`` (TROLY_MAX_QUESTION_CHARS)."""
    if not message.pieces or any(not normalize(piece) for piece in message.pieces):
        raise InvalidInput(f"messages.{n}.content: a user message must not be blank")
    if len(message.text) > max_chars:
        raise InvalidInput(f"messages.{n}.content: a user message is longer than {max_chars} characters")


def conversation(messages: Sequence[ChatMessageIn], max_chars: int) -> tuple[str, tuple[Turn, ...]]:
    """The last user message, and the user and assistant turns before it (the last
    MAX_HISTORY_TURNS, without the sources troly listed under its own replies)."""
    asked = [n for n, m in enumerate(messages) if m.role == "user"]
    if not asked:
        raise InvalidInput("messages: there is no user message to answer")
    for n in asked:
        _check_question(n, messages[n], max_chars)
    last = asked[-1]
    history = [
        Turn(role="user", content=m.text) if m.role == "user" else Turn(role="assistant", content=strip_sources(m.text))
        for m in messages[:last]
        if m.role in ("user", "assistant") and m.text.strip()
    ]
    return messages[last].text, tuple(history[-MAX_HISTORY_TURNS:])


@router.post("/v1/chat/completions", response_model=ChatCompletion, responses=_STREAM_DOC)
def chat_completions(body: ChatCompletionIn, services: ServicesDep, settings: SettingsDep, _: ReaderDep) -> Any:
    started = time.perf_counter()
    unit = _unit_of(body.model, services.assistant)
    question, history = conversation(body.messages, settings.max_question_chars)
    reply = Reply(
        model=body.model,
        created=int(time.time()),
        limit=body.max_completion_tokens or body.max_tokens,
        prompt_tokens=sum(count_words(m.text) for m in body.messages),
    )

    def record(answer: Answer) -> None:
        services.record_answer(answer, (time.perf_counter() - started) * 1000)

    if body.stream:
        events = services.assistant.ask_stream(question, unit, CHAT_TOP_K, history)
        usage = body.stream_options is not None and body.stream_options.include_usage
        return event_stream(reply.chunks(events, record, include_usage=usage))
    answer = services.assistant.ask(question, unit, CHAT_TOP_K, history)
    record(answer)
    return reply.completion(answer)


def _data(value: dict[str, Any] | str) -> bytes:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return f"data: {text}\n\n".encode()


class Reply:
    """One reply in the OpenAI shapes: whole (``completion``) or as chunks (``chunks``)."""

    def __init__(self, model: str, created: int, limit: int | None, prompt_tokens: int) -> None:
        self.model = model
        self.created = created
        self.limit = limit
        self.prompt_tokens = prompt_tokens

    def usage(self, text: str) -> Usage:
        completion = count_words(text)
        return Usage(
            prompt_tokens=self.prompt_tokens, completion_tokens=completion, total_tokens=self.prompt_tokens + completion
        )

    def completion(self, answer: Answer) -> ChatCompletion:
        whole = content(answer)
        text = cut(whole, self.limit)
        return ChatCompletion(
            id=f"chatcmpl-{answer.id}",
            created=self.created,
            model=self.model,
            choices=[
                ChatChoice(message=ChatMessageOut(content=text), finish_reason="stop" if text == whole else "length")
            ],
            usage=self.usage(text),
            citations=[CitationOut.of(c) for c in answer.citations],
        )

    def chunks(
        self, events: Iterator[AnswerEvent], record: Callable[[Answer], None], include_usage: bool = False
    ) -> Iterator[bytes]:
        """A first chunk with the role, the answer's deltas as they come, the sources, a last chunk
        with finish_reason and the citations, then ``data: [DONE]``; an error once streaming as
        ``data: {"error": …}``, which OpenAI's clients raise."""
        chunk_id = f"chatcmpl-{uuid.uuid4().hex}"

        def chunk(choices: list[ChunkChoice], **fields: Any) -> bytes:
            piece = ChatCompletionChunk(id=chunk_id, created=self.created, model=self.model, choices=choices, **fields)
            data = piece.model_dump(mode="json")
            # As OpenAI's chunks: a delta holds only what it adds ({} on the last chunk), and usage
            # and citations appear on the chunks that carry them.
            for choice in data["choices"]:
                choice["delta"] = {k: v for k, v in choice["delta"].items() if v is not None}
            return _data({k: v for k, v in data.items() if v is not None or k not in ("usage", "citations")})

        def text(delta: ChunkDelta) -> bytes:
            return chunk([ChunkChoice(delta=delta)])

        sent = ""  # what the client has
        wanted = ""  # what it would have without max_tokens
        try:
            yield text(ChunkDelta(role="assistant", content=""))
            for event in events:
                if isinstance(event, AnswerDelta):
                    wanted += event.text
                elif isinstance(event, AnswerDone):
                    record(event.answer)
                    wanted = _settled(wanted, event.answer)
                else:
                    continue  # the citations come with the last chunk
                allowed = cut(wanted, self.limit)
                if len(allowed) > len(sent):
                    yield text(ChunkDelta(content=allowed[len(sent) :]))
                    sent = allowed
                if isinstance(event, AnswerDone):
                    citations = [CitationOut.of(c) for c in event.answer.citations]
                    finish: FinishReason = "stop" if sent == wanted else "length"
                    yield chunk([ChunkChoice(delta=ChunkDelta(), finish_reason=finish)], citations=citations)
                    if include_usage:
                        yield chunk([], usage=self.usage(sent))
            yield _data("[DONE]")
        except Exception as exc:  # the status line has gone: the error can only be an event now
            _, error = body_of(exc, openai=True)
            yield _data(error)


def _settled(streamed: str, answer: Answer) -> str:
    """The whole reply once the answer is known: what was streamed, then the sources. Should the
    final answer not be what was streamed (a reader that fell back mid-answer), the client keeps
    what it has and gets the final text after it, since a stream cannot take text back."""
    whole = content(answer)
    if whole.startswith(streamed):
        return whole
    return streamed + "\n\n" + whole if streamed else whole
