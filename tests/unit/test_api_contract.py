"""The rules the OpenAPI document publishes are the ones the server applies.

Each published pattern is read by three engines: JSON Schema's (ECMA, which clients and
schemathesis use), pydantic's (Rust) where the API validates with it, and Python's where the core
does. These check that they agree with the core's own rule; the served document is checked here
for what settings put into it, and over HTTP against the real app by
tests/integration/test_contract.py.
"""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, Field, ValidationError

from app.api.openai_schemas import ChatCompletionIn
from app.api.schemas import AskIn, KeyIn
from app.application import create_app
from app.domain import PARTIAL_DATE_PATTERN, SLUG_PATTERN, is_partial_date, is_slug
from app.settings import Settings
from app.text.normalize import VISIBLE_PATTERN, normalize

# Every character that is white space, a line or paragraph separator, a control or a format
# character: the ones that might vanish in normalize.
SPACE_LIKE = [
    chr(c)
    for c in range(0x110000)
    if not 0xD800 <= c < 0xE000 and unicodedata.category(chr(c)) in ("Zs", "Zl", "Zp", "Cc", "Cf")
]


class Visible(BaseModel):
    text: str = Field(pattern=VISIBLE_PATTERN)


class Dated(BaseModel):
    date: str = Field(pattern=PARTIAL_DATE_PATTERN)


def rust_accepts(model: type[BaseModel], **fields: str) -> bool:
    try:
        model(**fields)
    except ValidationError:
        return False
    return True


def test_the_visible_pattern_is_what_normalize_leaves_something_of_for_every_space_like_character() -> None:
    vanishing = [c for c in SPACE_LIKE if normalize(c) == ""]
    assert {" ", "\t", "\n", "\u00a0", "\u200b", "\ufeff", "\u00ad", "\x1c"} <= set(vanishing)
    assert [c for c in SPACE_LIKE if (normalize(c) == "") != (re.search(VISIBLE_PATTERN, c) is None)] == []
    assert [c for c in SPACE_LIKE if (normalize(c) == "") == rust_accepts(Visible, text=c)] == []


# Lone surrogates (Cs) are left out: they are not text (no UTF-8 body can carry one), and a
# JSON "\ud800" escape is refused by pydantic's validation with a 422 before any rule applies.
@given(st.text(alphabet=st.sampled_from(SPACE_LIKE) | st.characters(exclude_categories=("Cs",)), max_size=8))
def test_a_text_matches_the_visible_pattern_exactly_when_normalize_leaves_something(text: str) -> None:
    visible = normalize(text) != ""
    assert (re.search(VISIBLE_PATTERN, text) is not None) == visible
    assert rust_accepts(Visible, text=text) == visible


def _real_date(value: str) -> bool:
    try:
        date.fromisoformat(value if len(value) == 10 else f"{value}-01")
    except ValueError:
        return False
    return True


@pytest.mark.parametrize(
    "value",
    [
        *("2024-02-29", "2000-02-29", "1900-02-29", "2100-02-29", "2023-02-29", "0400-02-29", "0000-02-29"),
        *("0000-01", "0001-01", "9999-12-31", "2024-04-31", "2024-04-30", "2024-13", "2024-00", "2024-07-00"),
        *("2024-07\n", "24-07"),
    ],
)
def test_the_date_pattern_is_a_real_calendar_day_or_month(value: str) -> None:
    real = len(value) in (7, 10) and value[:4].isdigit() and _real_date(value)
    assert is_partial_date(value) == real
    assert (re.fullmatch(PARTIAL_DATE_PATTERN, value) is not None) == real
    assert rust_accepts(Dated, date=value) == real


@given(st.integers(0, 10_000), st.integers(0, 13), st.integers(0, 32) | st.none())
def test_the_date_pattern_agrees_with_the_calendar(year: int, month: int, day: int | None) -> None:
    value = f"{year:04d}-{month:02d}" + ("" if day is None else f"-{day:02d}")
    real = _real_date(value)
    assert (re.fullmatch(PARTIAL_DATE_PATTERN, value) is not None) == real == is_partial_date(value)


@given(st.from_regex(SLUG_PATTERN) | st.text(alphabet="ab-9\n A", max_size=6))
def test_the_slug_pattern_with_the_length_limit_is_is_slug(value: str) -> None:
    # JSON Schema's $ is the end of the text (Python's would allow a final newline): fullmatch.
    assert (re.fullmatch(SLUG_PATTERN, value) is not None and len(value) <= 64) == is_slug(value)


def test_request_bodies_take_json_types_as_the_schema_gives_them() -> None:
    assert AskIn.model_validate({"question": "Hỏi", "top_k": 5.0}).top_k == 5  # an integer to JSON Schema
    for wrong in ({"top_k": "5"}, {"top_k": True}, {"stream": 0}, {"stream": "true"}):
        with pytest.raises(ValidationError):
            AskIn.model_validate({"question": "Hỏi", **wrong})
    with pytest.raises(ValidationError):
        ChatCompletionIn.model_validate({"model": "troly", "messages": [{"role": "user", "content": "Hỏi"}], "n": "1"})
    assert KeyIn.model_validate({"role": "reader"}).units == []


def _document(settings: Settings) -> dict[str, Any]:
    document: dict[str, Any] = create_app(settings).openapi()
    return document


@pytest.fixture()
def document(tmp_path: Path) -> dict[str, Any]:
    return _document(Settings(_env_file=None, data_dir=tmp_path, max_question_chars=777, max_top_k=12))  # type: ignore[call-arg]


def test_the_document_gives_this_services_limits(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert schemas["AskIn"]["properties"]["question"]["maxLength"] == 777
    assert schemas["AskIn"]["properties"]["top_k"]["maximum"] == 12
    user = schemas["ChatMessageIn"]["then"]["properties"]["content"]["anyOf"]
    assert user[0]["maxLength"] == 777 and user[1]["items"]["properties"]["text"]["maxLength"] == 777
    assert "x-troly-setting" not in json.dumps(document)


def test_every_error_a_route_declares_has_the_error_body_and_429_is_on_the_limited_routes(
    document: dict[str, Any],
) -> None:
    limited = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    body = response["content"]["application/json"]["schema"]["$ref"]
                    openai = path.startswith(("/v1/models", "/v1/chat/"))
                    assert body == f"#/components/schemas/{'OpenAIErrorBody' if openai else 'ErrorBody'}", (
                        path,
                        status,
                    )
            if "429" in operation["responses"]:
                assert operation["responses"]["429"]["headers"]["Retry-After"]["required"] is True
                limited.append((method.upper(), path))
    writes = [(m.upper(), p) for p, ops in document["paths"].items() for m in ops if m in ("post", "put", "delete")]
    assert sorted(limited) == sorted(writes) and ("POST", "/v1/ask") in limited
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_a_405_names_every_method_of_its_path(tmp_path: Path) -> None:
    client = TestClient(create_app(Settings(_env_file=None, data_dir=tmp_path)))  # type: ignore[call-arg]
    for method, path, allowed in [
        ("OPTIONS", "/v1/keys", "GET, POST"),
        ("PATCH", "/v1/units/u/documents/d", "GET, PUT, DELETE"),
        ("TRACE", "/healthz", "GET"),
        ("POST", "/v1/models", "GET"),
    ]:
        response = client.request(method, path)
        assert response.status_code == 405 and response.headers["allow"] == allowed, (method, path)
        assert set(response.json()) == {"error"}
