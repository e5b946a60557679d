"""Operations over real HTTP: rate limits (429 with Retry-After), one log line per request with its
request id, and readiness (/readyz) that says what is missing."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from troly_testkit import assert_error, bearer

from app.api.request_log import formatter
from app.assistant import Assistant
from app.domain import DocumentInput
from app.settings import Settings

UNIT = "cuc-bao-chi"
QUESTION = "Có bao nhiêu cơ quan báo chí được cấp phép năm 2024?"
DOC = DocumentInput(
    title="Báo cáo công tác báo chí năm 2024",
    date="2024-12",
    text="Năm 2024, cả nước có 127 cơ quan báo chí được cấp phép hoạt động. Cục Báo chí đã thanh tra 15 cơ quan.",
)


def seed(assistant: Assistant, _: Settings) -> None:
    assistant.create_unit(UNIT, "Cục Báo chí")
    assistant.add_documents(UNIT, [DOC])


@pytest.fixture(scope="module")
def limited(
    tmp_path_factory: pytest.TempPathFactory, start_server: Callable[..., AbstractContextManager[Any]]
) -> Iterator[Any]:
    limits = {"ask_rate_limit": "3/minute", "write_rate_limit": "2/minute"}
    with start_server(tmp_path_factory.mktemp("ops-limited"), prepare=seed, **limits) as served:
        yield served


def test_asking_over_the_limit_is_429_with_retry_after_per_key(limited: Any, admin_headers: dict[str, str]) -> None:
    with httpx.Client(base_url=limited.url, timeout=60) as client:
        body = {"question": QUESTION, "unit": UNIT}
        # Without a key, this client's address is counted.
        assert [client.post("/v1/ask", json=body).status_code for _ in range(3)] == [200, 200, 200]
        refused = client.post("/v1/ask", json=body)
        error = assert_error(refused, 429, "rate_limited")
        assert "3 per 1 minute" in error["message"]
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        # A key is counted on its own: the address's limit does not hold it back.
        assert client.post("/v1/ask", json=body, headers=admin_headers).status_code == 200
        # The chat route shares the ask limit, and refuses in OpenAI's shape.
        chat = client.post("/v1/chat/completions", json={"model": UNIT, "messages": [{"role": "user", "content": "x"}]})
        assert chat.status_code == 429 and chat.json()["error"]["type"] == "rate_limit_error"
        assert "Retry-After" in chat.headers
        # Reading is not limited.
        assert client.get("/v1/units").status_code == 200


def test_writes_have_their_own_limit(limited: Any) -> None:
    key = bearer("writer-without-rights")  # counted before it is checked: guessing keys is limited too
    with httpx.Client(base_url=limited.url, timeout=60, headers=key) as client:
        statuses = [client.post("/v1/units", json={"id": f"u-{n}", "name": "x"}).status_code for n in range(3)]
    assert statuses == [401, 401, 429]


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, start_server: Callable[..., AbstractContextManager[Any]]
) -> Iterator[Any]:
    with start_server(tmp_path_factory.mktemp("ops"), prepare=seed) as served:
        yield served


def test_every_request_is_one_json_line_with_its_request_id(served: Any, admin_headers: dict[str, str]) -> None:
    logger = logging.getLogger("troly.request")
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect()
    handler.setFormatter(formatter("json"))
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)  # as configure_logging sets it in `troly serve`
    try:
        with httpx.Client(base_url=served.url, timeout=60) as client:
            asked = client.post(
                "/v1/ask",
                json={"question": QUESTION, "unit": UNIT},
                headers={**admin_headers, "X-Request-ID": "req-42"},
            )
            missing = client.get(f"/v1/units/{UNIT}/documents/khong-co")
        for _ in range(200):  # a line is written once its response has gone: the client may be first
            if len(lines) >= 2:
                break
            time.sleep(0.05)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert asked.status_code == 200 and asked.headers["X-Request-ID"] == "req-42"
    generated = missing.headers["X-Request-ID"]
    assert len(generated) == 32
    records = [json.loads(line) for line in lines]
    assert len(records) == 2
    ask, miss = records
    assert ask["request_id"] == "req-42" and ask["route"] == "/v1/ask" and ask["status"] == 200
    assert ask["unit"] == UNIT and ask["reader"] == "lexical" and ask["answered"] is True
    assert isinstance(ask["latency_ms"], float) and ask["level"] == "INFO"
    assert datetime.fromisoformat(ask["time"]).tzinfo is not None
    assert miss["request_id"] == generated and miss["status"] == 404
    assert miss["route"] == "/v1/units/{unit}/documents/{document_id}"  # the template, not the ids
    assert miss["unit"] is None and miss["answered"] is None
    # Never a key nor a body.
    admin_key = admin_headers["Authorization"].removeprefix("Bearer ")
    assert not any(admin_key in line or QUESTION in line for line in lines)


def test_a_request_id_that_is_not_a_sane_token_is_replaced(served: Any) -> None:
    with httpx.Client(base_url=served.url, timeout=60) as client:
        response = client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces" + "x" * 200})
    assert response.headers["X-Request-ID"] != "bad id" and len(response.headers["X-Request-ID"]) == 32


def test_ready_when_the_store_and_indexes_agree(served: Any) -> None:
    with httpx.Client(base_url=served.url, timeout=60) as client:
        response = client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ready", "checks": {"store": "ok", "indexes": "ok"}}


def test_not_ready_while_an_index_is_out_of_step_with_the_store(
    tmp_path: Path, start_server: Callable[..., AbstractContextManager[Any]]
) -> None:
    with start_server(tmp_path, prepare=seed) as served, httpx.Client(base_url=served.url, timeout=60) as client:
        assert client.get("/readyz").status_code == 200
        # A passage written to the store behind the index's back (as another process would).
        store = served.assistant.store
        document = store.list_documents(UNIT)[0]
        store.delete_document(UNIT, document.id)
        error = assert_error(client.get("/readyz"), 503, "not_ready")
        assert f"indexes: out of step with the store: {UNIT}" in error["message"]


def test_not_ready_while_the_llm_is_down_unless_it_is_left_out(
    tmp_path: Path, start_server: Callable[..., AbstractContextManager[Any]]
) -> None:
    llm = {"reader": "llm", "llm_base_url": "http://127.0.0.1:1/v1", "llm_model": "m"}  # nothing listens there
    with start_server(tmp_path, prepare=seed, **llm) as served, httpx.Client(base_url=served.url, timeout=60) as client:
        error = assert_error(client.get("/readyz"), 503, "not_ready")
        assert "llm: cannot reach the LLM at http://127.0.0.1:1/v1" in error["message"]
        without = client.get("/readyz", params={"llm": "false"})
        assert without.status_code == 200 and "llm" not in without.json()["checks"]
        # Still answering meanwhile: the extractive fallback.
        answer = client.post("/v1/ask", json={"question": QUESTION, "unit": UNIT}).json()
        assert answer["reader"] == "lexical" and "cannot reach the LLM" in answer["reader_fallback"]
