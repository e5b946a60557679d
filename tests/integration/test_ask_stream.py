"""POST /v1/ask with "stream": true over real HTTP (httpx): the events, their order, and that the
last one is exactly the non-streaming answer; errors before the stream keep their statuses."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from chat_world import (
    ABSTAIN,
    FACT90,
    OTHER_FACT,
    OTHER_QUESTION,
    OTHER_UNIT,
    Q90,
    UNANSWERABLE,
    UNIT,
    ChatWorld,
    chat_world,
)
from troly_testkit import assert_error, bearer, read_events

from app.api.schemas import MAX_HISTORY_TURNS, MAX_TURN_CHARS

__all__ = ["chat_world"]  # the fixture, imported for pytest

ASKOUT_KEYS = {
    "id",
    "answer",
    "abstained",
    "confidence",
    "citations",
    "reader",
    "reader_fallback",
    "rewritten_question",
}


def stream(client: httpx.Client, body: dict[str, Any]) -> tuple[httpx.Response, list[tuple[str, Any]]]:
    with client.stream("POST", "/v1/ask", json={**body, "stream": True}) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        return response, read_events(response)


def without_id(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "id"}


def check_order(events: list[tuple[str, Any]]) -> None:
    names = [name for name, _ in events]
    assert names[0] == "citations" and names[-1] == "done", names
    assert set(names[1:-1]) <= {"delta"}, names


@pytest.mark.parametrize(("question", "unit"), [(Q90, UNIT), (Q90, None), (UNANSWERABLE, UNIT)])
def test_the_stream_is_citations_deltas_then_the_non_streaming_answer(
    chat_world: ChatWorld, question: str, unit: str | None
) -> None:
    body = {"question": question, "unit": unit, "top_k": 4}
    _, events = stream(chat_world.client, body)
    check_order(events)
    plain = chat_world.client.post("/v1/ask", json=body)
    assert plain.status_code == 200, plain.text
    done = events[-1][1]
    assert set(done) == ASKOUT_KEYS
    # The same answer, citations (with their highlights) and reader: only the answer's id differs.
    assert without_id(done) == without_id(plain.json())
    assert done["id"] != plain.json()["id"]
    # The first event names the passages the answer cites, before any of the answer's text.
    cited = events[0][1]
    assert sorted(c["passage_id"] for c in cited) == sorted(c["passage_id"] for c in done["citations"])
    deltas = "".join(data["text"] for name, data in events if name == "delta")
    if done["abstained"]:
        assert done["answer"] is None
    else:
        assert deltas == done["answer"]


def test_a_streamed_answer_carries_its_fact_and_reader(chat_world: ChatWorld) -> None:
    _, events = stream(chat_world.client, {"question": Q90, "unit": UNIT})
    done = events[-1][1]
    assert FACT90 in done["answer"] and not done["abstained"]
    assert done["reader"] == "lexical" and done["reader_fallback"] is None
    assert any(c["highlight"] for c in done["citations"])


def test_an_abstention_streams_no_answer_text(chat_world: ChatWorld) -> None:
    _, events = stream(chat_world.client, {"question": UNANSWERABLE, "unit": UNIT})
    done = events[-1][1]
    assert done["abstained"] and done["answer"] is None, done
    assert ABSTAIN not in json.dumps(events, ensure_ascii=False)  # the words are the page's, not the API's


def test_streamed_answers_are_recorded_as_asked(chat_world: ChatWorld) -> None:
    before = chat_world.stats()
    stream(chat_world.client, {"question": Q90, "unit": UNIT})
    stream(chat_world.client, {"question": UNANSWERABLE, "unit": UNIT})
    after = chat_world.stats()
    assert after["questions"] == before["questions"] + 2
    assert after["answered"] == before["answered"] + 1
    assert after["abstained"] == before["abstained"] + 1


def test_history_is_accepted_and_the_extractive_reader_answers_the_question_alone(chat_world: ChatWorld) -> None:
    history = [
        {"role": "user", "content": "Cao Bằng số hóa bao nhiêu trang tài liệu?"},
        {"role": "assistant", "content": "765.432 trang."},
    ]
    alone = chat_world.client.post("/v1/ask", json={"question": Q90, "unit": UNIT}).json()
    followed = chat_world.client.post("/v1/ask", json={"question": Q90, "unit": UNIT, "history": history}).json()
    assert without_id(followed) == without_id(alone)
    _, events = stream(chat_world.client, {"question": Q90, "unit": UNIT, "history": history})
    assert without_id(events[-1][1]) == without_id(alone)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"question": "   "}, 422, "invalid_input"),
        ({"question": Q90, "unit": "khong-co-don-vi-nay"}, 404, "unit_not_found"),
        ({"question": Q90, "top_k": 0}, 422, "invalid_input"),
        ({"question": Q90, "history": [{"role": "user", "content": "x"}] * (MAX_HISTORY_TURNS + 1)}, 422, None),
        ({"question": Q90, "history": [{"role": "user", "content": "x" * (MAX_TURN_CHARS + 1)}]}, 422, None),
        ({"question": Q90, "history": [{"role": "system", "content": "x"}]}, 422, None),
        ({"question": Q90, "stream": "sometimes"}, 422, None),
    ],
)
def test_bad_requests_keep_their_status_before_any_stream(
    chat_world: ChatWorld, body: dict[str, Any], status: int, code: str | None
) -> None:
    before = chat_world.stats()["questions"]
    assert_error(chat_world.client.post("/v1/ask", json={"stream": True, **body}), status, code)
    assert chat_world.stats()["questions"] == before


def test_a_bad_key_is_401_before_any_stream(chat_world: ChatWorld) -> None:
    with httpx.Client(base_url=chat_world.url, timeout=60) as anonymous:
        body = {"question": Q90, "stream": True}
        assert_error(anonymous.post("/v1/ask", json=body), 401, "unauthorized")
        assert_error(anonymous.post("/v1/ask", json=body, headers=bearer("troly_sai")), 401, "unauthorized")


def test_every_unit_is_asked_when_no_unit_is_given(chat_world: ChatWorld) -> None:
    _, events = stream(chat_world.client, {"question": OTHER_QUESTION})
    done = events[-1][1]
    assert OTHER_FACT in done["answer"] and done["citations"][0]["unit"] == OTHER_UNIT


def test_the_openapi_document_describes_streaming_and_the_history_bounds(chat_world: ChatWorld) -> None:
    doc = chat_world.client.get("/openapi.json").json()
    ask = doc["paths"]["/v1/ask"]["post"]
    assert set(ask["responses"]["200"]["content"]) == {"application/json", "text/event-stream"}
    schemas = doc["components"]["schemas"]
    history = schemas["AskIn"]["properties"]["history"]
    assert history["maxItems"] == MAX_HISTORY_TURNS
    turn = schemas["TurnIn"]["properties"]
    assert turn["content"]["maxLength"] == MAX_TURN_CHARS
    assert turn["role"]["enum"] == ["user", "assistant"]
    assert schemas["AskIn"]["properties"]["stream"]["default"] is False
    assert {"reader", "reader_fallback"} <= set(schemas["AskOut"]["properties"])
