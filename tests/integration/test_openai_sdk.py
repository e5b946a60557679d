"""troly as an OpenAI-compatible model, through the official ``openai`` SDK against the real app over
HTTP (the extractive reader): models, chat completions whole and streamed, citations, typed errors."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import openai
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
from troly_testkit import bearer

__all__ = ["chat_world"]  # the fixture, imported for pytest

CITATION_KEYS = {"unit", "document_id", "title", "date", "passage_id", "text", "start", "end", "score", "highlight"}
OPENAI_ERROR_KEYS = {"message", "type", "param", "code"}


@pytest.fixture()
def sdk(chat_world: ChatWorld) -> openai.OpenAI:
    return openai.OpenAI(base_url=chat_world.url + "/v1", api_key=chat_world.key, max_retries=0, timeout=120)


def ask(chat_world: ChatWorld, question: str, unit: str | None) -> dict[str, Any]:
    response = chat_world.client.post("/v1/ask", json={"question": question, "unit": unit, "top_k": 3})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def words(text: str) -> int:
    return len(text.split())


def test_models_are_the_units_and_troly(sdk: openai.OpenAI) -> None:
    models = list(sdk.models.list())
    assert sorted(m.id for m in models) == sorted(["troly", UNIT, OTHER_UNIT])
    for m in models:
        assert m.object == "model" and m.owned_by == "troly" and isinstance(m.created, int)
    assert sdk.models.retrieve(UNIT).id == UNIT


def test_the_models_list_is_openais_shape(chat_world: ChatWorld) -> None:
    body = chat_world.client.get("/v1/models").json()
    assert set(body) == {"object", "data"} and body["object"] == "list"
    assert all(set(m) == {"id", "object", "created", "owned_by"} for m in body["data"])


@pytest.mark.parametrize(("question", "model", "fact"), [(Q90, UNIT, FACT90), (OTHER_QUESTION, "troly", OTHER_FACT)])
def test_a_chat_completion_is_the_answer_with_its_sources(
    sdk: openai.OpenAI, chat_world: ChatWorld, question: str, model: str, fact: str
) -> None:
    completion = sdk.chat.completions.create(
        model=model, messages=[{"role": "user", "content": question}], temperature=0.2, top_p=0.9
    )
    assert completion.object == "chat.completion" and completion.model == model
    assert completion.id.startswith("chatcmpl-")
    [choice] = completion.choices
    assert choice.index == 0 and choice.finish_reason == "stop" and choice.message.role == "assistant"
    text = choice.message.content
    assert text is not None and fact in text

    # The same answer and citations as /v1/ask, the sources listed after the answer.
    reference = ask(chat_world, question, None if model == "troly" else model)
    citations = (completion.model_extra or {})["citations"]
    assert citations == reference["citations"] and citations
    assert all(set(c) == CITATION_KEYS for c in citations)
    documents: dict[str, list[int]] = {}
    for n, c in enumerate(citations, start=1):
        documents.setdefault(c["document_id"], []).append(n)
    titles = {c["document_id"]: c["title"] for c in citations}
    sources = "\n".join("".join(f"[{n}]" for n in ns) + f" {titles[d]}" for d, ns in documents.items())
    assert text.startswith(reference["answer"] + "\n\nNguồn:\n")
    assert re.sub(r" \([^()]*\)$", "", text.split("\n\nNguồn:\n")[1], flags=re.M) == sources

    usage = completion.usage
    assert usage is not None
    assert usage.prompt_tokens == words(question)
    assert usage.completion_tokens == words(text)
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_sources_carry_the_date_as_the_ask_page_writes_it(sdk: openai.OpenAI) -> None:
    completion = sdk.chat.completions.create(model=OTHER_UNIT, messages=[{"role": "user", "content": OTHER_QUESTION}])
    text = completion.choices[0].message.content or ""
    assert "\n[1] Báo cáo số hóa tài liệu lưu trữ tỉnh Cao Bằng năm 2024 (20/12/2024)" in text


def test_a_streamed_completion_is_the_same_reply_in_chunks(sdk: openai.OpenAI) -> None:
    messages: list[Any] = [{"role": "user", "content": Q90}]
    whole = sdk.chat.completions.create(model=UNIT, messages=messages)
    chunks = list(sdk.chat.completions.create(model=UNIT, messages=messages, stream=True))
    assert all(c.object == "chat.completion.chunk" and c.model == UNIT for c in chunks)
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])
    assert chunks[-1].choices[0].finish_reason == "stop"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == whole.choices[0].message.content and FACT90 in text
    # The citations come once, on the last chunk.
    assert (chunks[-1].model_extra or {})["citations"] == (whole.model_extra or {})["citations"]
    assert all("citations" not in (c.model_extra or {}) for c in chunks[:-1])


def test_the_stream_ends_with_done_and_can_report_usage(chat_world: ChatWorld) -> None:
    body = {"model": UNIT, "messages": [{"role": "user", "content": Q90}], "stream": True}
    body["stream_options"] = {"include_usage": True}
    with chat_world.client.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    usage = chunks[-1]
    assert usage["choices"] == [] and set(usage["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks[:-1])
    assert usage["usage"]["completion_tokens"] == words(text)


def test_an_abstention_says_so_in_vietnamese(sdk: openai.OpenAI) -> None:
    completion = sdk.chat.completions.create(model=UNIT, messages=[{"role": "user", "content": UNANSWERABLE}])
    text = completion.choices[0].message.content or ""
    assert text.startswith(ABSTAIN) and completion.choices[0].finish_reason == "stop"
    assert "Nguồn:" not in text
    streamed = sdk.chat.completions.create(
        model=UNIT, messages=[{"role": "user", "content": UNANSWERABLE}], stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == text


def test_the_last_user_message_is_answered_and_earlier_ones_are_history(sdk: openai.OpenAI) -> None:
    alone = sdk.chat.completions.create(model=UNIT, messages=[{"role": "user", "content": Q90}])
    conversation: list[Any] = [
        {"role": "system", "content": "Bạn là trợ lý ảo."},
        {"role": "user", "content": OTHER_QUESTION},
        {"role": "assistant", "content": f"{OTHER_FACT} trang.\n\nNguồn:\n[1] Báo cáo"},
        {"role": "user", "content": [{"type": "text", "text": Q90}]},
    ]
    followed = sdk.chat.completions.create(model=UNIT, messages=conversation)
    assert followed.choices[0].message.content == alone.choices[0].message.content
    assert followed.usage is not None
    assert followed.usage.prompt_tokens == sum(
        words(m["content"] if isinstance(m["content"], str) else Q90) for m in conversation
    )


@pytest.mark.parametrize("limit", [1, 4])
def test_max_tokens_cuts_the_reply_at_that_many_words(sdk: openai.OpenAI, limit: int) -> None:
    messages: list[Any] = [{"role": "user", "content": Q90}]
    full = sdk.chat.completions.create(model=UNIT, messages=messages).choices[0].message.content or ""
    cut = sdk.chat.completions.create(model=UNIT, messages=messages, max_tokens=limit)
    text = cut.choices[0].message.content or ""
    assert cut.choices[0].finish_reason == "length"
    assert words(text) == limit and full.startswith(text)
    assert cut.usage is not None and cut.usage.completion_tokens == limit
    chunks = list(sdk.chat.completions.create(model=UNIT, messages=messages, max_completion_tokens=limit, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == text
    assert chunks[-1].choices[0].finish_reason == "length"


def test_chat_answers_are_recorded_as_asked(sdk: openai.OpenAI, chat_world: ChatWorld) -> None:
    before = chat_world.stats()["questions"]
    sdk.chat.completions.create(model=UNIT, messages=[{"role": "user", "content": Q90}])
    list(sdk.chat.completions.create(model=UNIT, messages=[{"role": "user", "content": Q90}], stream=True))
    assert chat_world.stats()["questions"] == before + 2


def test_an_unknown_model_is_openais_not_found(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        sdk.chat.completions.create(model="khong-co-don-vi-nay", messages=[{"role": "user", "content": Q90}])
    assert raised.value.status_code == 404 and raised.value.code == "model_not_found"
    assert raised.value.param == "model" and "khong-co-don-vi-nay" in raised.value.message
    with pytest.raises(openai.NotFoundError):
        sdk.models.retrieve("khong-co-don-vi-nay")
    with pytest.raises(openai.NotFoundError):
        sdk.chat.completions.create(
            model="khong-co-don-vi-nay", messages=[{"role": "user", "content": Q90}], stream=True
        )


def test_a_bad_key_is_openais_authentication_error(chat_world: ChatWorld) -> None:
    wrong = openai.OpenAI(base_url=chat_world.url + "/v1", api_key="troly_sai", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as raised:
        wrong.chat.completions.create(model=UNIT, messages=[{"role": "user", "content": Q90}])
    assert raised.value.status_code == 401 and raised.value.code == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        wrong.models.list()
    with pytest.raises(openai.AuthenticationError):
        wrong.chat.completions.create(model=UNIT, messages=[{"role": "user", "content": Q90}], stream=True)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": UNIT, "messages": []}, "messages"),
        ({"model": UNIT, "messages": [{"role": "assistant", "content": "Xin chào"}]}, None),
        ({"model": UNIT, "messages": [{"role": "user", "content": "   "}]}, None),
        ({"model": UNIT, "messages": [{"role": "user", "content": "x" * 1001}]}, None),
        ({"model": UNIT, "messages": [{"role": "robot", "content": Q90}]}, "messages.0.role"),
        ({"model": UNIT, "messages": [{"content": Q90}]}, "messages.0.role"),
        ({"model": UNIT, "messages": [{"role": "user"}]}, None),
        # Every user message is a question troly could be asked (the schema says so), not only the last.
        (
            {"model": UNIT, "messages": [{"role": "user", "content": " "}, {"role": "user", "content": Q90}]},
            None,
        ),
        (
            {"model": UNIT, "messages": [{"role": "user", "content": "x" * 1001}, {"role": "user", "content": Q90}]},
            None,
        ),
        (
            {"model": UNIT, "messages": [{"role": "user", "content": [{"type": "text", "text": "\u200b"}]}]},
            None,
        ),
        ({"messages": [{"role": "user", "content": Q90}]}, "model"),
        ({"model": UNIT, "messages": [{"role": "user", "content": Q90}], "max_tokens": 0}, "max_tokens"),
        ({"model": UNIT, "messages": [{"role": "user", "content": Q90}], "n": 2}, "n"),
    ],
)
def test_invalid_requests_are_openais_400(chat_world: ChatWorld, body: dict[str, Any], param: str | None) -> None:
    before = chat_world.stats()["questions"]
    response = chat_world.client.post("/v1/chat/completions", json={**body, "stream": True})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert set(response.json()) == {"error"} and set(error) == OPENAI_ERROR_KEYS
    assert error["type"] == "invalid_request_error" and error["message"]
    if param is not None:
        assert error["param"] == param
    assert chat_world.stats()["questions"] == before


def test_every_error_on_these_routes_is_openais_shape(chat_world: ChatWorld) -> None:
    with httpx.Client(base_url=chat_world.url, timeout=60) as anonymous:
        for response, status in [
            (anonymous.get("/v1/models"), 401),
            (anonymous.post("/v1/chat/completions", json={}, headers=bearer("troly_sai")), 401),
            (chat_world.client.get("/v1/models/khong-co"), 404),
            (chat_world.client.put("/v1/chat/completions", json={}), 405),
            (
                chat_world.client.post(
                    "/v1/chat/completions", content=b"{", headers={"content-type": "application/json"}
                ),
                400,
            ),
        ]:
            assert response.status_code == status, response.text
            assert set(response.json()) == {"error"} and set(response.json()["error"]) == OPENAI_ERROR_KEYS
    # troly's own routes keep troly's shape.
    own = chat_world.client.get("/v1/units/khong-co/documents")
    assert set(own.json()["error"]) == {"code", "message"}
