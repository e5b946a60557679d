"""The bodies of troly's OpenAI-compatible routes, as the OpenAI API defines them.

Requests accept what OpenAI clients send (``temperature``, ``top_p``, ``user``…) and ignore what
troly has no use for; responses hold exactly OpenAI's fields plus ``citations``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.api.schemas import MAX_TURN_CHARS, NOT_BLANK, CitationOut, JsonInt, PositiveJsonInt, RequestBody, from_setting

# A conversation longer than this is refused; only its last MAX_HISTORY_TURNS turns before the
# question reach the reader, as /v1/ask's history would.
MAX_MESSAGES = 200


class TextPart(RequestBody):
    """A content part; only text parts carry anything troly reads (images and audio are refused)."""

    model_config = ConfigDict(extra="ignore")
    type: Literal["text"]
    text: str = Field(max_length=MAX_TURN_CHARS)


# A user message is a question troly may be asked (the last one is): its content not blank and at
# most TROLY_MAX_QUESTION_CHARS characters (its text parts joined), which the route checks (400)
# against the settings: JSON Schema's if/then says it for the role "user".
_QUESTION: dict[str, Any] = {**NOT_BLANK, **from_setting("maxLength", "max_question_chars")}
_USER_MESSAGE: dict[str, Any] = {
    "if": {"properties": {"role": {"const": "user"}}, "required": ["role"]},
    "then": {
        "required": ["content"],
        "properties": {
            "content": {
                "anyOf": [
                    {"type": "string", **_QUESTION},
                    {
                        "type": "array",
                        "minItems": 1,
                        "items": {"type": "object", "properties": {"text": _QUESTION}},
                        "description": "the parts' texts joined obey maxLength",
                    },
                ]
            }
        },
    },
}


class ChatMessageIn(RequestBody):
    model_config = ConfigDict(extra="ignore", json_schema_extra=_USER_MESSAGE)
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: Annotated[str, Field(max_length=MAX_TURN_CHARS)] | list[TextPart] | None = None

    @property
    def pieces(self) -> list[str]:
        """The content's texts: the string, or each part's."""
        if isinstance(self.content, list):
            return [part.text for part in self.content]
        return [] if self.content is None else [self.content]

    @property
    def text(self) -> str:
        return "".join(self.pieces)


class StreamOptions(RequestBody):
    model_config = ConfigDict(extra="ignore")
    include_usage: bool = False


class ChatCompletionIn(RequestBody):
    # extra="allow": temperature, top_p, seed, user… are accepted and ignored.
    model_config = ConfigDict(extra="allow")
    model: str = Field(description="a unit's id, or 'troly' for every unit (GET /v1/models)")
    messages: list[ChatMessageIn] = Field(
        min_length=1,
        max_length=MAX_MESSAGES,
        json_schema_extra={"contains": {"properties": {"role": {"const": "user"}}, "required": ["role"]}},
        description="at least one user message: the last one is answered, the messages before it are the history",
    )
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: PositiveJsonInt | None = Field(default=None, description="cuts the reply at this many words")
    max_completion_tokens: PositiveJsonInt | None = Field(default=None, description="as max_tokens")
    n: JsonInt = Field(default=1, ge=1, le=1, description="troly gives one answer")


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatMessageOut(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


FinishReason = Literal["stop", "length"]


class ChatChoice(BaseModel):
    index: int = 0
    message: ChatMessageOut
    logprobs: None = None
    finish_reason: FinishReason


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage
    citations: list[CitationOut] = Field(description="the passages the answer comes from, as POST /v1/ask gives them")


class ChunkDelta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: ChunkDelta
    logprobs: None = None
    finish_reason: FinishReason | None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None
    citations: list[CitationOut] | None = Field(default=None, description="on the last chunk only")


class ModelOut(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelOut]


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class OpenAIErrorBody(BaseModel):
    error: OpenAIErrorDetail
