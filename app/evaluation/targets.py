"""What an evaluation asks: the core in this process, or a running service over HTTP."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from app.assistant import Assistant
from app.errors import TrolyError
from app.evaluation.outcomes import Cited


@dataclass(frozen=True)
class Reply:
    answer: str | None
    confidence: float
    citations: tuple[str, ...]
    latency_ms: float
    # The answer before the abstention threshold, where the target can tell it (in-process).
    draft: str | None = None
    # The reader that answered and why the configured one did not (its fallback answered), when
    # the target says: a service older than the LLM reader does not.
    reader: str | None = None
    reader_fallback: str | None = None
    first_citation: Cited | None = None


class Target(Protocol):
    def ask(self, question: str, unit: str | None, top_k: int) -> Reply: ...

    def describe(self) -> dict[str, Any]:
        """What is being measured: embedder, corpus size, settings."""
        ...


class InProcess:
    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant

    def ask(self, question: str, unit: str | None, top_k: int) -> Reply:
        started = time.perf_counter()
        answer = self.assistant.ask(question, unit=unit, top_k=top_k)
        elapsed = (time.perf_counter() - started) * 1000
        first = answer.citations[0] if answer.citations else None
        return Reply(
            answer.answer,
            answer.confidence,
            tuple(c.text for c in answer.citations),
            elapsed,
            # A generating reader has no draft: what it wrote is what it would have answered, so
            # that the trade-off counts its answers rather than none.
            draft=answer.draft if answer.draft is not None else answer.answer,
            reader=answer.reader,
            reader_fallback=answer.reader_fallback,
            first_citation=Cited(first.title, first.text, first.highlight) if first else None,
        )

    def describe(self) -> dict[str, Any]:
        s = self.assistant.settings
        return {
            "target": "in-process",
            "embedder": self.assistant.embedder.name,
            "passages": self.assistant.passage_count(),
            "documents": sum(len(self.assistant.list_documents(u.id)) for u in self.assistant.list_units()),
            "settings": {
                **s.model_dump(
                    include={
                        "retrieval",
                        "retrieve_depth",
                        "rrf_k",
                        "lexical_weight",
                        "answer_passages",
                        "passage_max_chars",
                        "passage_min_chars",
                    }
                ),
                "abstain_threshold": self.assistant.threshold,
                "reader": self.assistant.reader_name,
                "reader_shortlist": s.reader_shortlist,
                # JSON has no infinity: the whole shortlist is written as null
                "reader_shortlist_margin": (
                    s.reader_shortlist_margin if math.isfinite(s.reader_shortlist_margin) else None
                ),
            },
        }


RATE_LIMIT_RETRIES = 30
MAX_RETRY_WAIT_S = 60.0


class OverHttp:
    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self._client = httpx.Client(base_url=self.url, timeout=timeout)

    def ask(self, question: str, unit: str | None, top_k: int) -> Reply:
        started = time.perf_counter()
        response = self._post_ask({"question": question, "unit": unit, "top_k": top_k})
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise TrolyError(f"{self.url}/v1/ask answered {response.status_code}: {response.text[:200]}")
        body = response.json()
        citations = tuple(c["text"] for c in body["citations"])
        return Reply(
            body["answer"],
            body["confidence"],
            citations,
            elapsed,
            draft=body["answer"],
            reader=body.get("reader"),
            reader_fallback=body.get("reader_fallback"),
            first_citation=_cited(body["citations"][0]) if body["citations"] else None,
        )

    def _post_ask(self, body: dict[str, Any]) -> httpx.Response:
        """The service's answer; over its rate limit (429), after the ``Retry-After`` it asks for,
        so that a question set larger than the limit is evaluated slowly rather than not at all."""
        for _ in range(RATE_LIMIT_RETRIES):
            try:
                response = self._client.post("/v1/ask", json=body)
            except httpx.HTTPError as exc:
                raise TrolyError(f"cannot reach {self.url}: {exc}") from exc
            if response.status_code != 429:
                return response
            time.sleep(min(float(response.headers.get("retry-after", "1")), MAX_RETRY_WAIT_S))
        return response

    def describe(self) -> dict[str, Any]:
        try:
            health = self._client.get("/healthz").json()
        except httpx.HTTPError as exc:
            raise TrolyError(f"cannot reach {self.url}: {exc}") from exc
        return {"target": self.url, "embedder": health.get("embedder"), "passages": health.get("passages")}


def _cited(citation: dict[str, Any]) -> Cited:
    highlight = citation.get("highlight")
    return Cited(citation.get("title") or "", citation["text"], (highlight[0], highlight[1]) if highlight else None)
