"""The LLM reader: the model writes the answer from the numbered passages, or refuses.

Every call goes through the circuit breaker: while it is open, ``LLMUnavailable`` comes at once
instead of a timeout per question, and after the cool-down one question probes the server.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

from app.answer.llm.breaker import CircuitBreaker
from app.answer.llm.citing import Citing
from app.answer.llm.client import ChatClient, Message
from app.answer.llm.prompt import answer_messages, rewrite_messages, standalone
from app.answer.reader import Generated
from app.domain import PassageHit, Turn
from app.errors import LLMUnavailable

log = logging.getLogger(__name__)

# A rewritten question is one sentence: enough tokens for a long one, few enough to stay quick.
REWRITE_MAX_TOKENS = 96


class LLMGeneration:
    """One answer being written: iterate for the text as it can be shown, then read ``result``."""

    def __init__(self, pieces: Iterator[str], passages: int) -> None:
        self._pieces = pieces
        self._citing = Citing(passages)
        self._result: Generated | None = None

    def __iter__(self) -> Iterator[str]:
        for piece in self._pieces:
            if shown := self._citing.feed(piece):
                yield shown
        if rest := self._citing.finish():
            yield rest
        citing = self._citing
        if citing.refused:
            self._result = Generated(text=None, cited=[])
        elif not citing.cited:
            # Uncited text cannot be checked against the passages: not an answer troly gives.
            raise LLMUnavailable(f"the LLM's reply cites no passage: {citing.raw[:120]!r}")
        else:
            self._result = Generated(text=citing.shown, cited=list(citing.cited))

    @property
    def result(self) -> Generated:
        if self._result is None:
            raise RuntimeError("the generation has not been read to its end")
        return self._result


class LLMReader:
    name = "llm"

    def __init__(self, client: ChatClient, breaker: CircuitBreaker, max_tokens: int, max_question_chars: int) -> None:
        self.client = client
        self.breaker = breaker
        self.max_tokens = max_tokens
        self.max_question_chars = max_question_chars

    def _call(self, messages: Sequence[Message], max_tokens: int) -> Iterator[str]:
        if not self.breaker.allow():
            raise LLMUnavailable(
                f"the LLM is paused after repeated failures (retried in {self.breaker.retry_in():.0f} s)"
            )
        try:
            yield from self.client.stream(messages, max_tokens)
        except LLMUnavailable as exc:
            self.breaker.failed()
            log.warning("LLM call failed: %s", exc.message)
            raise
        except GeneratorExit:
            self.breaker.abandoned()
            raise
        self.breaker.succeeded()

    def check(self) -> None:
        """``LLMUnavailable`` unless the server answers now (its circuit is left as it is)."""
        self.client.check()

    def rewrite(self, question: str, history: Sequence[Turn]) -> str:
        """The follow-up ``question`` as a standalone one, from the conversation before it."""
        reply = "".join(self._call(rewrite_messages(question, history), REWRITE_MAX_TOKENS))
        return standalone(reply, question, self.max_question_chars)

    def generate(self, question: str, passages: Sequence[PassageHit]) -> LLMGeneration:
        pieces = self._call(answer_messages(question, passages), self.max_tokens)
        return LLMGeneration(pieces, len(passages))
