"""Choosing the search backend, and how troly's tokens are written into Milvus's text field (no server:
tests/integration/test_milvus_search.py runs the Milvus backend against milvus-lite)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.errors import SearchMisconfigured
from app.search import milvus_collection
from app.search.embedded import EmbeddedSearch
from app.search.factory import check_search_settings, open_search
from app.settings import Settings
from app.store import SqlDocumentStore


def test_the_embedded_backend_is_the_default(
    tmp_path: Path, settings_factory: Callable[..., Settings], fake_embedder: Any
) -> None:
    settings = settings_factory(tmp_path)
    assert settings.search_backend == "embedded"
    store = SqlDocumentStore.open(settings.db_url)
    try:
        assert isinstance(open_search(settings, store, fake_embedder), EmbeddedSearch)
    finally:
        store.close()


def test_milvus_needs_its_uri(tmp_path: Path, settings_factory: Callable[..., Settings]) -> None:
    with pytest.raises(SearchMisconfigured, match="TROLY_SEARCH_BACKEND=milvus needs TROLY_MILVUS_URI"):
        check_search_settings(settings_factory(tmp_path, search_backend="milvus"))
    check_search_settings(settings_factory(tmp_path, search_backend="milvus", milvus_uri="http://milvus:19530"))


def test_the_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TROLY_SEARCH_BACKEND", "milvus")
    monkeypatch.setenv("TROLY_MILVUS_URI", "http://milvus:19530")
    monkeypatch.setenv("TROLY_MILVUS_TOKEN", "root:secret")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.search_backend, settings.milvus_uri, settings.milvus_collection) == (
        "milvus",
        "http://milvus:19530",
        "troly_passages",
    )
    assert settings.milvus_token is not None and settings.milvus_token.get_secret_value() == "root:secret"
    assert "secret" not in repr(settings)


def test_a_collection_name_milvus_would_refuse_is_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TROLY_MILVUS_COLLECTION", "troly-passages")
    with pytest.raises(ValueError, match="milvus_collection"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_words_stay_as_they_are() -> None:
    for token in ("thông_tin", "2g", "việt_nam", "đặc_biệt", "15", "covid"):
        assert milvus_collection.term(token) == token


@given(st.text(min_size=1, max_size=12))
def test_every_term_is_one_run_of_word_characters(token: str) -> None:
    """What both analyzers keep whole: ``\\w+`` with nothing between (milvus-lite's standard tokenizer is
    ``re.findall(r"\\w+", text.lower())``; a whitespace tokenizer keeps anything without a space)."""
    term = milvus_collection.term(token)
    assert re.fullmatch(r"\w+", term)


@given(st.text(min_size=1, max_size=8), st.text(min_size=1, max_size=8))
def test_different_tokens_are_different_terms(a: str, b: str) -> None:
    """No two tokens become one term, unless one spells the other's escape (``_2e_`` for ".")."""
    if a != b and "_" not in a + b:
        assert milvus_collection.term(a) != milvus_collection.term(b)


def test_a_text_longer_than_milvus_takes_is_cut_at_a_term() -> None:
    tokens = ["đặc_biệt"] * 10_000
    text = milvus_collection.text_of(tokens)
    assert len(text.encode("utf-8")) <= milvus_collection.TEXT_MAX_BYTES
    assert set(text.split(" ")) == {"đặc_biệt"}
    assert milvus_collection.text_of(["1.500", "đồng"]) == "1_2e_500 đồng"
