"""The Milvus search backend against a real server (milvus-lite, tests/integration/milvus_server.py):
compound words stay whole, dense scores and idf are the embedded backend's, the unit filter holds,
replicas see each other's writes at once, ``sync`` repairs the collection, the seed questions get the
embedded backend's answers, and a dead Milvus is a JSON 503 until it is back."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from milvus_server import MilvusLite, milvus_server, running
from pymilvus import MilvusClient
from seed_questions import OFF_TOPIC, QUESTIONS, UNIT
from troly_testkit import assert_error, expect

from app.answer.model import AnswerModel
from app.assistant import Assistant
from app.domain import DocumentInput
from app.errors import SearchMisconfigured
from app.search import milvus_collection
from app.search.lexical import bm25_idf
from app.search.milvus import MilvusSearch
from app.settings import Settings
from app.store import SqlDocumentStore
from app.text.normalize import normalize
from app.text.tokens import index_tokens
from app.wiring import open_assistant

__all__ = ["milvus_server"]  # the fixture, imported for pytest

DIM = 8
OTHER = "cuc-buu-dien"
DOC_2G = DocumentInput(
    title="Tắt sóng 2G",
    text="Từ ngày 15/9/2024 sẽ tắt sóng 2G theo quy định. Các nhà mạng hỗ trợ người dân đổi điện thoại.",
)
DOC_2G_NEW = DocumentInput(
    title="Tắt sóng 2G",
    text="Lịch tắt sóng 2G được lùi sang ngày 16/10/2024. Người dân được hỗ trợ máy 4G miễn phí.",
)
DOC_POST = DocumentInput(
    title="Bưu chính",
    text="Khoảng 800 doanh nghiệp bưu chính đang hoạt động. Chất lượng dịch vụ bưu chính được đo theo quý.",
)


def _vectors(n: int) -> np.ndarray:
    rng = np.random.default_rng(n)
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _keys(*keys: int) -> np.ndarray:
    return np.asarray(keys, dtype=np.int64)


@pytest.fixture()
def milvus_settings(
    tmp_path: Path, milvus_server: MilvusLite, settings_factory: Callable[..., Settings]
) -> Callable[..., Settings]:
    """Settings of a replica on the session's Milvus, in a collection of this test's own."""
    collection = milvus_server.new_collection()

    def make(data_dir: Path = tmp_path, **overrides: object) -> Settings:
        milvus = {"search_backend": "milvus", "milvus_uri": milvus_server.uri, "milvus_collection": collection}
        return settings_factory(data_dir, **{**milvus, **overrides})

    return make


def _replica(settings: Settings, embedder: Any) -> Assistant:
    """A replica over the settings' database: a store of its own, the search backend the settings name."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Assistant(SqlDocumentStore.open(settings.db_url), embedder, AnswerModel.load(), settings)


# -- the analyzer ------------------------------------------------------------------------------
def test_a_compound_word_is_one_token(milvus_server: MilvusLite) -> None:
    search = MilvusSearch.open(milvus_server.uri, None, milvus_server.new_collection(), DIM, "fake/8")
    try:
        search.add("u", _keys(1, 2, 3), [["thông"], ["thông_tin"], ["1.500", "đồng"]], _vectors(3))
        vector = _vectors(1)[0]

        def bm25(*tokens: str) -> list[int]:
            return search.candidates(["u"], vector, tokens, 10, "lexical")[1][0].tolist()

        assert bm25("thông_tin") == [2]  # not the passage holding only "thông"
        assert bm25("thông") == [1]  # nor the other way round
        assert bm25("1.500") == [3] and bm25("500") == []  # a number stays whole too
        idf = search.idf(["u"])  # each counted as one whole token: one passage of three holds it
        assert idf("thông_tin") == idf("thông") == idf("1.500") == bm25_idf(1, 3)
        assert idf("tin") == idf("500") == bm25_idf(0, 3)
    finally:
        search.close()


def test_an_analyzer_that_splits_compounds_refuses_to_start(
    milvus_server: MilvusLite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real Milvus's standard tokenizer splits at "_"; milvus-lite's splits at "-": written with "-", the
    probe's compound is split by this server as the other one would split it, and troly refuses."""
    monkeypatch.setattr(milvus_collection, "term", lambda token: token.replace("_", "-"))
    name = milvus_server.new_collection()
    with pytest.raises(SearchMisconfigured, match="splits pyvi's compound words"):
        MilvusSearch.open(milvus_server.uri, None, name, DIM, "fake/8")
    client = MilvusClient(uri=milvus_server.uri, dedicated=True)
    try:
        assert not client.has_collection(name)  # nothing left behind: the next start checks again
        assert not client.has_collection(f"{name}_analyzer_probe")
    finally:
        client.close()


def test_milvus_without_its_uri_refuses_to_start(tmp_path: Path, settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(tmp_path / "data", search_backend="milvus")
    with pytest.raises(SearchMisconfigured, match="TROLY_MILVUS_URI"):
        open_assistant(settings)
    assert not (tmp_path / "data").exists()  # refused before anything was written


# -- the seed corpus: the same passages in both backends -------------------------------------------
@pytest.fixture(scope="module")
def milvus_seed(
    seed_assistant: Assistant, milvus_server: MilvusLite, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Assistant]:
    """The seed reports' store, searched through Milvus: filled by ``sync`` from the stored vectors."""
    settings = seed_assistant.settings.model_copy(
        update={
            "data_dir": tmp_path_factory.mktemp("seed-milvus"),
            "search_backend": "milvus",
            "milvus_uri": milvus_server.uri,
            "milvus_collection": milvus_server.new_collection(),
        }
    )
    assistant = Assistant(seed_assistant.store, seed_assistant.embedder, AnswerModel.load(), settings)
    yield assistant
    assistant.close()


def _probe(assistant: Assistant, question: str) -> tuple[np.ndarray, list[str]]:
    text = normalize(question)
    return assistant.embedder.embed_query(text), index_tokens(text)


def test_the_collection_holds_exactly_the_stored_passages(seed_assistant: Assistant, milvus_seed: Assistant) -> None:
    assert milvus_seed.passage_count() == seed_assistant.passage_count() > 50
    assert milvus_seed.knowledge.passage_count([UNIT]) == seed_assistant.knowledge.passage_count([UNIT])
    assert milvus_seed.knowledge.stale_indexes() == []
    assert milvus_seed.knowledge.search.units() == [UNIT]


def test_dense_scores_are_the_embedded_backends_cosines(seed_assistant: Assistant, milvus_seed: Assistant) -> None:
    for question, _, _ in QUESTIONS:
        vector, tokens = _probe(seed_assistant, question)
        (embedded_keys, embedded), _ = seed_assistant.knowledge.search.candidates([UNIT], vector, tokens, 20, "dense")
        (keys, scores), _ = milvus_seed.knowledge.search.candidates([UNIT], vector, tokens, 20, "dense")
        assert keys.tolist() == embedded_keys.tolist(), question
        np.testing.assert_allclose(scores, embedded, atol=1e-5)
        stored = {p.key: p.vector for p in seed_assistant.store.passages(keys.tolist())}
        np.testing.assert_allclose(scores, [float(stored[k] @ vector) for k in keys.tolist()], atol=1e-5)


def test_idf_is_the_embedded_backends(seed_assistant: Assistant, milvus_seed: Assistant) -> None:
    rows = seed_assistant.store.index_rows(UNIT)
    tokens = {t for question, _, _ in QUESTIONS for t in _probe(seed_assistant, question)[1]}
    tokens |= {t for passage in rows.tokens[:20] for t in passage}
    tokens |= {"không_có_trong_kho", "3800-3900", "tt&tt", "7/2023"}
    assert len(tokens) > 200
    embedded, milvus = seed_assistant.knowledge.idf([UNIT]), milvus_seed.knowledge.idf([UNIT])
    differ = {t: (embedded(t), milvus(t)) for t in sorted(tokens) if abs(embedded(t) - milvus(t)) > 1e-9}
    assert differ == {}
    assert milvus_seed.knowledge.idf([])("thông_tin") == seed_assistant.knowledge.idf([])("thông_tin")

    # Opened without the store (as `troly migrate` opens it), the backend counts on the server, alike.
    settings = milvus_seed.settings
    assert settings.milvus_uri is not None
    bare = MilvusSearch.open(
        settings.milvus_uri, None, settings.milvus_collection, seed_assistant.embedder.dim, seed_assistant.embedder.name
    )
    try:
        counted = bare.idf([UNIT])
        some = sorted(tokens)[::20]
        assert {t: counted(t) for t in some} == {t: embedded(t) for t in some}
    finally:
        bare.close()


def test_the_seed_questions_get_the_embedded_backends_answers(
    seed_assistant: Assistant, milvus_seed: Assistant, record_property: Callable[[str, object], None]
) -> None:
    asked = [q for q, _, _ in QUESTIONS] + OFF_TOPIC
    pairs = [(seed_assistant.ask(q, unit=UNIT).answer, milvus_seed.ask(q, unit=UNIT).answer) for q in asked]
    same = sum(embedded == milvus for embedded, milvus in pairs)
    record_property("seed_answer_agreement", f"{same}/{len(asked)}")
    print(f"seed answers: the same with both backends for {same} of {len(asked)} questions")
    assert same >= 0.95 * len(asked), [(q, e, m) for q, (e, m) in zip(asked, pairs, strict=True) if e != m]
    answered = [sum(a is not None for a in side) for side in zip(*pairs, strict=True)]
    assert abs(answered[0] - answered[1]) <= 1


# -- replicas, the unit filter, sync ---------------------------------------------------------------
def test_writes_through_one_replica_are_seen_by_another_at_once(
    milvus_settings: Callable[..., Settings], fake_embedder: Any
) -> None:
    settings = milvus_settings()
    one, other = _replica(settings, fake_embedder), _replica(settings, fake_embedder)
    try:
        one.create_unit(UNIT, "Cục Viễn thông")
        assert [u.id for u in other.list_units()] == [UNIT] and other.knowledge.scope(None) == [UNIT]
        document = one.add_document(UNIT, DOC_2G).document
        hits = other.retrieve("Khi nào tắt sóng 2G?", UNIT, 5)
        assert hits and all(h.passage.document_id == document.id for h in hits)
        assert other.passage_count() == one.passage_count() == document.passages
        one.replace_document(UNIT, document.id, DOC_2G_NEW)
        texts = [h.passage.text for h in other.retrieve("Khi nào tắt sóng 2G?", UNIT, 5)]
        assert any("16/10/2024" in t for t in texts) and not any("15/9/2024" in t for t in texts)
        assert other.knowledge.stale_indexes() == []
        one.delete_document(UNIT, document.id)
        assert other.retrieve("Khi nào tắt sóng 2G?", UNIT, 5) == [] and other.passage_count() == 0
        assert other.knowledge.stale_indexes() == []
    finally:
        one.close()
        other.close()


def test_a_question_to_one_unit_finds_only_its_passages(
    milvus_settings: Callable[..., Settings], fake_embedder: Any
) -> None:
    assistant = _replica(milvus_settings(), fake_embedder)
    try:
        assistant.create_unit(UNIT, "Cục Viễn thông")
        assistant.create_unit(OTHER, "Cục Bưu điện")
        assistant.add_document(UNIT, DOC_2G)
        assistant.add_document(OTHER, DOC_POST)
        assistant.add_document(OTHER, DOC_2G_NEW)  # words of the question in the other unit too
        for unit in (UNIT, OTHER):
            hits = assistant.retrieve("tắt sóng 2G doanh nghiệp bưu chính", unit, 20)
            assert hits and {h.passage.unit for h in hits} == {unit}
        every = assistant.retrieve("tắt sóng 2G doanh nghiệp bưu chính", None, 20)
        assert {h.passage.unit for h in every} == {UNIT, OTHER}
        assert (
            assistant.knowledge.passage_count([OTHER]) + assistant.knowledge.passage_count([UNIT])
            == assistant.passage_count()
        )
    finally:
        assistant.close()


def test_sync_inserts_the_missing_passages_and_deletes_the_orphans(
    milvus_settings: Callable[..., Settings], fake_embedder: Any, milvus_server: MilvusLite
) -> None:
    settings = milvus_settings()
    assistant = _replica(settings, fake_embedder)
    assistant.create_unit(UNIT, "Cục Viễn thông")
    assistant.add_document(UNIT, DOC_2G)
    assistant.add_document(UNIT, DOC_POST)
    store, stored = assistant.store, assistant.store.index_rows(UNIT).keys.tolist()
    raw = MilvusClient(uri=milvus_server.uri, dedicated=True)
    try:
        # A replica that died between the store's commit and its Milvus write, and a passage no store has.
        raw.delete(settings.milvus_collection, ids=stored[:2])
        orphan = _keys(10**9)
        assistant.knowledge.search.add(UNIT, orphan, [["mồ_côi"]], fake_embedder.embed_passages(["mồ côi"]))
        assert assistant.knowledge.stale_indexes() == [UNIT]

        search = MilvusSearch.open(milvus_server.uri, None, settings.milvus_collection, 64, fake_embedder.name)
        report = search.sync(store)
        assert (report.inserted, report.deleted, report.full) == (2, 1, False)
        assert search.sync(store) == type(report)(0, 0, False)  # in step: nothing to do
        search.close()
        assert assistant.knowledge.stale_indexes() == []
        assert raw.get(settings.milvus_collection, ids=[int(orphan[0])]) == []
        assert sorted(r["key"] for r in raw.get(settings.milvus_collection, ids=stored)) == sorted(stored)
        assert assistant.passage_count() == len(stored)

        # A start repairs it too: the open runs sync.
        raw.delete(settings.milvus_collection, ids=stored[-1:])
        again = _replica(settings, fake_embedder)
        assert again.knowledge.stale_indexes() == [] and again.passage_count() == len(stored)
        again.close()
    finally:
        raw.close()
        assistant.close()


def test_a_store_that_never_filled_the_collection_rewrites_it(
    tmp_path: Path, milvus_settings: Callable[..., Settings], fake_embedder: Any
) -> None:
    """Keys are a store's own: a new store counts from 1 again, so another store's passages under the same
    keys must not be taken for its own."""
    first = _replica(milvus_settings(tmp_path / "first"), fake_embedder)
    first.create_unit(UNIT, "Cục Viễn thông")
    first.add_document(UNIT, DOC_2G)
    first.close()
    second = _replica(milvus_settings(tmp_path / "second"), fake_embedder)  # an empty store: every passage goes
    try:
        assert second.passage_count() == 0 and second.knowledge.search.units() == []
        second.create_unit(UNIT, "Cục Viễn thông")
        second.add_document(UNIT, DOC_POST)
        texts = [h.passage.text for h in second.retrieve("tắt sóng 2G bưu chính", UNIT, 10)]
        assert texts and all("bưu chính" in t for t in texts)
    finally:
        second.close()


# -- a dead Milvus, over HTTP ----------------------------------------------------------------------
def test_a_dead_milvus_is_a_503_until_it_is_back(
    tmp_path: Path, start_server: Callable[..., AbstractContextManager[Any]]
) -> None:
    question = {"question": "Khi nào tắt sóng 2G?", "unit": UNIT}

    def seed(assistant: Assistant, settings: Settings) -> None:
        assistant.create_unit(UNIT, "Cục Viễn thông")
        assistant.add_document(UNIT, DOC_2G)

    with running() as milvus:  # a server of this test's own: it is stopped and started again
        overrides = {"search_backend": "milvus", "milvus_uri": milvus.uri, "milvus_collection": "troly_passages"}
        with (
            start_server(tmp_path, prepare=seed, **overrides) as served,
            httpx.Client(base_url=served.url, timeout=60) as http,
        ):
            answered = expect(http.post("/v1/ask", json=question), 200).json()
            assert "15/9/2024" in answered["answer"]

            milvus.stop()
            error = assert_error(http.post("/v1/ask", json=question), 503, "search_unavailable")
            assert "Milvus" in error["message"]
            chat = {"model": UNIT, "messages": [{"role": "user", "content": question["question"]}]}
            failed = expect(http.post("/v1/chat/completions", json=chat), 503).json()
            assert failed["error"]["type"] == "server_error" and failed["error"]["code"] == "search_unavailable"
            assert_error(http.get("/readyz"), 503, "not_ready")
            health = expect(http.get("/healthz"), 200).json()  # alive: units from the store, no passage count
            assert (health["units"], health["passages"]) == (1, None)

            milvus.start()  # the same port and data folder, as after a restart of Milvus
            again = expect(http.post("/v1/ask", json=question), 200).json()
            assert again["answer"] == answered["answer"]
            assert http.get("/readyz").status_code == 200


def test_a_document_stored_while_milvus_was_down_becomes_searchable_without_a_restart(
    tmp_path: Path, start_server: Callable[..., AbstractContextManager[Any]], admin_headers: dict[str, str]
) -> None:
    """The write commits to the database, then fails on Milvus (a 503); a retry finds the content stored
    and writes nothing more: the service's repair (every search_repair_interval_s) makes it searchable."""
    question = {"question": "Khi nào tắt sóng 2G?", "unit": UNIT}
    document = {"title": DOC_2G.title, "text": DOC_2G.text}

    def seed(assistant: Assistant, settings: Settings) -> None:
        assistant.create_unit(UNIT, "Cục Viễn thông")

    with running() as milvus:
        overrides = {
            "search_backend": "milvus",
            "milvus_uri": milvus.uri,
            "milvus_collection": "troly_passages",
            "search_repair_interval_s": 0.2,
        }
        with (
            start_server(tmp_path, prepare=seed, **overrides) as served,
            httpx.Client(base_url=served.url, timeout=60, headers=admin_headers) as http,
        ):
            milvus.stop()
            assert_error(http.post(f"/v1/units/{UNIT}/documents", json=document), 503, "search_unavailable")
            milvus.start()
            retried = expect(http.post(f"/v1/units/{UNIT}/documents", json=document), 200).json()
            assert retried["created"] is False  # stored by the failed attempt: listed, but not yet searchable
            assert [d["id"] for d in expect(http.get(f"/v1/units/{UNIT}/documents"), 200).json()] == [
                retried["document_id"]
            ]
            deadline = time.monotonic() + 60
            while (answer := expect(http.post("/v1/ask", json=question), 200).json())["abstained"]:
                assert time.monotonic() < deadline, "the repair never made the stored document searchable"
                time.sleep(0.2)
            assert "15/9/2024" in answer["answer"]
            assert [c["document_id"] for c in answer["citations"]] == [retried["document_id"]]


def test_idf_comes_from_the_store_and_is_kept_until_a_replica_writes(
    milvus_settings: Callable[..., Settings], fake_embedder: Any
) -> None:
    """No count on Milvus (a scan per token there): the store's document frequencies, read once per token
    and kept while the units' passages are unchanged."""
    settings = milvus_settings()
    one, other = _replica(settings, fake_embedder), _replica(settings, fake_embedder)
    search, store = other.knowledge.search, other.store
    assert isinstance(search, MilvusSearch)
    on_milvus: list[str] = []
    in_store: list[Sequence[str]] = []
    count, frequencies = search._count, store.token_frequencies

    def counting(where: str) -> int:
        on_milvus.append(where)
        return count(where)

    def reading(units: Sequence[str], tokens: Sequence[str]) -> tuple[int, dict[str, int]]:
        in_store.append(tokens)
        return frequencies(units, tokens)

    search._count = counting  # type: ignore[method-assign]
    store.token_frequencies = reading  # type: ignore[method-assign]
    try:
        one.create_unit(UNIT, "Cục Viễn thông")
        one.add_document(UNIT, DOC_2G)
        first = other.knowledge.idf([UNIT])("2g")
        assert first == _stored_idf(one, "2g") and in_store == [["2g"]]
        assert other.knowledge.idf([UNIT])("2g") == first and len(in_store) == 1  # kept

        one.add_document(UNIT, DOC_POST)  # through the other replica: this one's values are stale now
        after = other.knowledge.idf([UNIT])("2g")
        assert after == _stored_idf(one, "2g") and after != first and len(in_store) == 2
        one.replace_document(UNIT, one.list_documents(UNIT)[0].id, DOC_2G_NEW)
        assert other.knowledge.idf([UNIT])("2g") == _stored_idf(one, "2g")
        assert on_milvus == []
    finally:
        one.close()
        other.close()


def _stored_idf(assistant: Assistant, token: str) -> float:
    """BM25's idf of ``token`` counted over the store's passages of the unit."""
    rows = assistant.store.index_rows(UNIT)
    return bm25_idf(sum(token in tokens for tokens in rows.tokens), len(rows.tokens))
