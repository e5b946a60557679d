"""OpenAI's chat completions API over httpx: the one protocol every LLM server troly meets speaks.

Every failure (a refused connection, a timeout, an error status, a body that is not the API's)
becomes ``LLMUnavailable`` with a short reason the answer carries, never an httpx exception.
One deadline bounds a whole call, from connecting to its last token, however the server trickles.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from app.errors import LLMUnavailable

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True)
class ChatSettings:
    base_url: str  # up to and including /v1
    model: str
    api_key: str | None = None
    timeout_s: float = 30.0
    temperature: float = 0.1


class ChatClient:
    def __init__(self, settings: ChatSettings, transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
        self._http = httpx.Client(
            base_url=settings.base_url.rstrip("/"), headers=headers, timeout=settings.timeout_s, transport=transport
        )

    def close(self) -> None:
        self._http.close()

    def _body(self, messages: Sequence[Message], max_tokens: int, stream: bool) -> dict[str, Any]:
        return {
            "model": self.settings.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": max_tokens,
            "temperature": self.settings.temperature,
            "stream": stream,
        }

    def check(self, timeout_s: float = 3.0) -> None:
        """Whether the server answers its model list (readiness): ``LLMUnavailable`` if not."""
        try:
            response = self._http.get("/models", timeout=min(timeout_s, self.settings.timeout_s))
        except httpx.HTTPError as exc:
            raise LLMUnavailable(f"cannot reach the LLM at {self.settings.base_url}: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise LLMUnavailable(f"the LLM answered HTTP {response.status_code} to GET /models")

    def complete(self, messages: Sequence[Message], max_tokens: int) -> str:
        """The reply's whole text."""
        return "".join(self.stream(messages, max_tokens))

    def stream(self, messages: Sequence[Message], max_tokens: int) -> Iterator[str]:
        """The reply's text in the pieces the server sends."""
        deadline = time.monotonic() + self.settings.timeout_s
        try:
            with self._http.stream(
                "POST", "/chat/completions", json=self._body(messages, max_tokens, stream=True)
            ) as response:
                if response.status_code != 200:
                    response.read()
                    raise LLMUnavailable(f"the LLM answered HTTP {response.status_code}: {_excerpt(response.text)}")
                for line in response.iter_lines():
                    if time.monotonic() > deadline:
                        raise LLMUnavailable(f"the LLM did not finish within {self.settings.timeout_s:g} s")
                    piece = _sse_piece(line)
                    if piece is _DONE:
                        return
                    if piece:
                        yield str(piece)
        except httpx.TimeoutException as exc:
            raise LLMUnavailable(f"the LLM did not answer within {self.settings.timeout_s:g} s") from exc
        except httpx.HTTPError as exc:
            raise LLMUnavailable(f"cannot reach the LLM at {self.settings.base_url}: {type(exc).__name__}") from exc


_DONE = object()


def _sse_piece(line: str) -> str | object | None:
    """The text a server-sent line adds: ``data: {chunk}`` → its delta's content; ``data: [DONE]``
    → ``_DONE``; comments, event names and blank lines → None."""
    if not line.startswith("data:"):
        return None
    data = line[5:].strip()
    if data == "[DONE]":
        return _DONE
    try:
        chunk = json.loads(data)
    except json.JSONDecodeError as exc:
        raise LLMUnavailable(f"the LLM sent a line that is not JSON: {_excerpt(data)}") from exc
    if not isinstance(chunk, dict):
        raise LLMUnavailable(f"the LLM sent a chunk that is not an object: {_excerpt(data)}")
    if "error" in chunk:
        raise LLMUnavailable(f"the LLM failed while answering: {_excerpt(json.dumps(chunk['error']))}")
    choices = chunk.get("choices")
    if not isinstance(choices, list):
        raise LLMUnavailable(f"the LLM sent a chunk without choices: {_excerpt(data)}")
    if not choices:
        return None  # the usage chunk
    delta = choices[0].get("delta") if isinstance(choices[0], dict) else None
    content = delta.get("content") if isinstance(delta, dict) else None
    return content if isinstance(content, str) else None


def _excerpt(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
