"""GET /metrics over real HTTP: scraped before and after asking and adding a document, its counters
rise by exactly what was asked and added, and its index sizes are what /healthz counts."""

from __future__ import annotations

from typing import Any

import httpx
from chat_world import ADMIN_KEY, FACT90, Q90, UNANSWERABLE, UNIT, ChatWorld, chat_world
from prometheus_client.parser import text_string_to_metric_families
from troly_testkit import bearer, read_events

__all__ = ["chat_world"]  # the fixture, imported for pytest

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

NEW_REPORT = {
    "title": "Báo cáo chuyển đổi số quý III/2024",
    "date": "2024-10",
    "text": (
        "Trong quý III/2024, Bộ đã đưa 57 dịch vụ công trực tuyến toàn trình lên Cổng Dịch vụ công quốc gia.\n\n"
        "Tỷ lệ hồ sơ được xử lý trực tuyến đạt 81%, tăng 12 điểm phần trăm so với cùng kỳ năm trước. "
        "Bộ yêu cầu các đơn vị hoàn thành việc số hóa hồ sơ trước tháng 12/2024."
    ),
}


def scrape(world: ChatWorld) -> Samples:
    response = httpx.get(f"{world.url}/metrics", timeout=60)  # no key: Prometheus scrapes it as it is
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def rise(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


def ask(world: ChatWorld, question: str, **extra: Any) -> dict[str, Any]:
    response = world.client.post("/v1/ask", json={"question": question, "unit": UNIT, **extra})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_the_counters_rise_by_what_was_asked_and_added(chat_world: ChatWorld) -> None:
    before = scrape(chat_world)

    # Four questions to one unit, by every way in: three answered, one abstained.
    assert not ask(chat_world, Q90)["abstained"]
    assert ask(chat_world, UNANSWERABLE)["abstained"]
    with chat_world.client.stream("POST", "/v1/ask", json={"question": Q90, "unit": UNIT, "stream": True}) as r:
        assert r.status_code == 200
        assert not read_events(r)[-1][1]["abstained"]
    chat = chat_world.client.post(
        "/v1/chat/completions", json={"model": UNIT, "messages": [{"role": "user", "content": Q90}]}
    )
    assert chat.status_code == 200, chat.text
    assert FACT90 in chat.json()["choices"][0]["message"]["content"]

    # One new document, then the same content again (stored once).
    added = chat_world.client.post(f"/v1/units/{UNIT}/documents", json=NEW_REPORT, headers=bearer(ADMIN_KEY))
    assert added.status_code == 201, added.text
    passages = added.json()["passages"]
    assert passages > 0
    again = chat_world.client.post(f"/v1/units/{UNIT}/documents", json=NEW_REPORT, headers=bearer(ADMIN_KEY))
    assert again.status_code == 200 and not again.json()["created"]

    after = scrape(chat_world)
    asks = "troly_asks_total"
    assert rise(before, after, asks, unit=UNIT, reader="lexical", outcome="answered") == 3
    assert rise(before, after, asks, unit=UNIT, reader="lexical", outcome="abstained") == 1
    assert rise(before, after, asks, unit=UNIT, reader="lexical", outcome="fallback") == 0
    assert (
        sum(v for (name, _), v in after.items() if name == asks)
        - sum(v for (name, _), v in before.items() if name == asks)
        == 4
    )
    assert rise(before, after, "troly_ask_duration_seconds_count", reader="lexical", outcome="answered") == 3
    # Every answer's stages: retrieval and the extractive reader ran for each of the four.
    for stage in ("embed", "retrieve", "answer"):
        assert rise(before, after, "troly_stage_duration_seconds_count", stage=stage) == 4, stage

    requests = "troly_http_requests_total"
    assert rise(before, after, requests, method="POST", route="/v1/ask", status="200") == 3
    assert rise(before, after, requests, method="POST", route="/v1/chat/completions", status="200") == 1
    documents = "/v1/units/{unit}/documents"  # the route's template, never the unit's own path
    assert rise(before, after, requests, method="POST", route=documents, status="201") == 1
    assert rise(before, after, requests, method="POST", route=documents, status="200") == 1
    assert rise(before, after, "troly_http_request_duration_seconds_count", method="POST", route="/v1/ask") == 3
    assert rise(before, after, requests, method="GET", route="/metrics", status="200") == 1  # the first scrape

    assert rise(before, after, "troly_documents_ingested_total", unit=UNIT, operation="add") == 1
    assert rise(before, after, "troly_passages_ingested_total", unit=UNIT, operation="add") == passages
    assert rise(before, after, "troly_index_passages", unit=UNIT) == passages


def test_the_index_sizes_are_what_healthz_counts(chat_world: ChatWorld) -> None:
    scraped = scrape(chat_world)
    health = chat_world.client.get("/healthz").json()
    sizes = {dict(labels)["unit"]: v for (name, labels), v in scraped.items() if name == "troly_index_passages"}
    assert len(sizes) == health["units"] == scraped[("troly_units", frozenset())]
    assert all(v > 0 for v in sizes.values())
    assert sum(sizes.values()) == health["passages"]


def test_an_unknown_path_is_one_label(chat_world: ChatWorld) -> None:
    before = scrape(chat_world)
    for path in ("/no-such-page", "/v1/no/such/thing/42"):
        assert chat_world.client.get(path).status_code == 404
    after = scrape(chat_world)
    assert rise(before, after, "troly_http_requests_total", method="GET", route="unmatched", status="404") == 2
    assert not any(dict(labels).get("route", "").startswith(("/no-", "/v1/no")) for _, labels in after)


def test_replacing_and_deleting_a_document_count_too(chat_world: ChatWorld) -> None:
    admin = bearer(ADMIN_KEY)
    report = {
        **NEW_REPORT,
        "title": "Báo cáo chuyển đổi số quý IV/2024",
        "text": NEW_REPORT["text"].replace("57", "64"),
    }
    added = chat_world.client.post(f"/v1/units/{UNIT}/documents", json=report, headers=admin)
    assert added.status_code == 201, added.text
    document = f"/v1/units/{UNIT}/documents/{added.json()['document_id']}"
    before = scrape(chat_world)
    changed = {**report, "text": report["text"] + "\n\nBộ sẽ công bố kết quả vào tháng 1/2025."}
    replaced = chat_world.client.put(document, json=changed, headers=admin)
    assert replaced.status_code == 200, replaced.text
    assert chat_world.client.delete(document, headers=admin).status_code == 204
    after = scrape(chat_world)
    assert rise(before, after, "troly_documents_ingested_total", unit=UNIT, operation="replace") == 1
    assert (
        rise(before, after, "troly_passages_ingested_total", unit=UNIT, operation="replace")
        == replaced.json()["passages"]
    )
    assert rise(before, after, "troly_documents_ingested_total", unit=UNIT, operation="add") == 0
    assert rise(before, after, "troly_documents_deleted_total", unit=UNIT) == 1
    assert rise(before, after, "troly_index_passages", unit=UNIT) == -added.json()["passages"]
    route = "/v1/units/{unit}/documents/{document_id}"
    assert rise(before, after, "troly_http_requests_total", method="PUT", route=route, status="200") == 1
    assert rise(before, after, "troly_http_requests_total", method="DELETE", route=route, status="204") == 1
