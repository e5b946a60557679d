"""Rate-limit settings and routing, the request id, and the text log line."""

from __future__ import annotations

import logging

import pytest
from pydantic import ValidationError

from app.api.rate_limits import identity, kind_of
from app.api.request_log import TextFormatter, request_id_of
from app.settings import Settings


@pytest.mark.parametrize("value", ["120/minute", "10/second;1000/hour", ""])
def test_rate_limits_in_the_limits_syntax_or_none_are_accepted(value: str) -> None:
    assert Settings(_env_file=None, ask_rate_limit=value).ask_rate_limit == value  # type: ignore[call-arg]


@pytest.mark.parametrize("value", ["120 a minute", "fast", "10/fortnight"])
def test_a_bad_rate_limit_stops_the_start_with_its_name(value: str) -> None:
    with pytest.raises(ValidationError, match="write_rate_limit"):
        Settings(_env_file=None, write_rate_limit=value)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("method", "path", "kind"),
    [
        ("POST", "/v1/ask", "ask"),
        ("POST", "/v1/chat/completions", "ask"),
        ("GET", "/v1/ask", None),
        ("POST", "/v1/units", "write"),
        ("PUT", "/v1/units/u/documents/d", "write"),
        ("DELETE", "/v1/keys/k", "write"),
        ("GET", "/v1/units", None),
        ("POST", "/quan-tri", None),
    ],
)
def test_what_each_limit_counts(method: str, path: str, kind: str | None) -> None:
    assert kind_of(method, path) == kind


def test_a_key_is_counted_by_its_hash_and_a_request_without_one_by_its_address() -> None:
    with_key = {"headers": [(b"authorization", b"Bearer troly_secret")], "client": ("10.0.0.7", 5000)}
    other_key = {"headers": [(b"authorization", b"Bearer troly_other")], "client": ("10.0.0.7", 5000)}
    without = {"headers": [], "client": ("10.0.0.7", 5000)}
    assert identity(with_key).startswith("key:") and "troly_secret" not in identity(with_key)
    assert identity(with_key) != identity(other_key)
    assert identity(without) == "addr:10.0.0.7"


def test_a_sane_request_id_is_kept_and_any_other_replaced() -> None:
    assert request_id_of({"headers": [(b"x-request-id", b"abc-123.x:y")]}) == "abc-123.x:y"
    for bad in (b"", b"has space", b"x" * 129, "ý".encode()):
        made = request_id_of({"headers": [(b"x-request-id", bad)]})
        assert made != bad.decode("latin-1") and len(made) == 32


def test_the_text_line_carries_the_request_fields_that_are_set() -> None:
    record = logging.LogRecord("troly.request", logging.INFO, __file__, 1, "POST /v1/ask 200", (), None)
    record.request = {"request_id": "r1", "route": "/v1/ask", "status": 200, "unit": None, "answered": True}
    line = TextFormatter("%(message)s").format(record)
    assert line == "POST /v1/ask 200 request_id=r1 route=/v1/ask status=200 answered=True"
