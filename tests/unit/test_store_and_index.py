"""The SQLite store, the FAISS vector index, BM25 and their fusion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.domain import Document, Passage, Unit
from app.errors import UnitExists
from app.search.fusion import reciprocal_rank_fusion
from app.search.lexical import Bm25Index
from app.search.vector import FlatIPIndex
from app.store import SqliteStore


def _document(unit: str, doc_id: str, texts: list[str], content_hash: str | None = None) -> Document:
    text = "\n\n".join(texts)
    return Document(
        id=doc_id,
        unit=unit,
        title=f"Tài liệu {doc_id}",
        text=text,
        date="2024-07",
        source=f"{doc_id}.txt",
        content_hash=content_hash or f"hash-{doc_id}",
        passages=len(texts),
        created_at="2024-07-15T00:00:00+00:00",
    )


def _passages(document: Document, texts: list[str]) -> list[Passage]:
    out, start = [], 0
    for seq, t in enumerate(texts):
        out.append(Passage(f"{document.id}-p{seq}", document.id, document.unit, seq, start, start + len(t), t))
        start += len(t) + 2
    return out


def _vectors(n: int, dim: int = 8, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.fixture()
def store(tmp_path: Path) -> SqliteStore:
    s = SqliteStore(tmp_path / "data" / "troly.sqlite3")
    s.add_unit(Unit("cuc-viet-thong", "Cục Viễn thông"))
    return s


def _add(store: SqliteStore, doc_id: str, texts: list[str], unit: str = "cuc-viet-thong", seed: int = 0):
    document = _document(unit, doc_id, texts)
    passages = _passages(document, texts)
    tokens = [t.lower().split() for t in texts]
    vectors = _vectors(len(texts), seed=seed)
    keys = store.add_document(document, passages, tokens, vectors)
    return document, passages, tokens, vectors, keys


# -- SQLite store ----------------------------------------------------------------------------
def test_units_are_stored_and_a_duplicate_is_refused(store: SqliteStore) -> None:
    assert store.get_unit("cuc-viet-thong") == Unit("cuc-viet-thong", "Cục Viễn thông")
    assert store.get_unit("khong-co") is None
    with pytest.raises(UnitExists):
        store.add_unit(Unit("cuc-viet-thong", "Tên khác"))
    assert store.list_units() == [Unit("cuc-viet-thong", "Cục Viễn thông")]
    store.add_unit(Unit("bo-tttt", "Bộ TT&TT"))
    assert [u.id for u in store.list_units()] == ["bo-tttt", "cuc-viet-thong"]


def test_meta_roundtrip(store: SqliteStore) -> None:
    assert store.get_meta("embedder") is None
    store.set_meta("embedder", "fake")
    store.set_meta("embedder", "fake-2")
    assert store.get_meta("embedder") == "fake-2"


def test_add_document_stores_passages_and_vectors_and_returns_keys(store: SqliteStore) -> None:
    document, passages, _, vectors, keys = _add(store, "d1", ["SIM rác viễn thông", "tắt sóng 2G", "mạng 5G"])
    assert len(keys) == 3 and len(set(keys)) == 3
    assert store.get_document("cuc-viet-thong", "d1") == document
    assert store.find_document("cuc-viet-thong", "hash-d1") == document
    assert store.find_document("cuc-viet-thong", "hash-khac") is None
    assert store.get_document("bo-tttt", "d1") is None  # documents belong to their unit
    assert store.list_documents("cuc-viet-thong") == [document]
    stored = store.passages([*reversed(keys), 999_999])
    assert [s.key for s in stored] == list(reversed(keys))  # order given, unknown keys skipped
    assert [s.passage for s in stored] == list(reversed(passages))
    assert all(s.title == document.title and s.date == "2024-07" for s in stored)
    rows = store.index_rows("cuc-viet-thong")
    assert rows.keys.tolist() == keys
    np.testing.assert_array_equal(rows.vectors, vectors)


def test_index_rows_roundtrip_tokens_and_vectors_per_unit(store: SqliteStore) -> None:
    store.add_unit(Unit("bo-tttt", "Bộ TT&TT"))
    _, _, tokens1, vectors1, keys1 = _add(store, "d1", ["Hội nghị giao ban", "trợ lý ảo 90%"], seed=1)
    _, _, tokens2, vectors2, keys2 = _add(store, "d2", ["một đoạn khác"], unit="bo-tttt", seed=2)
    rows = store.index_rows("cuc-viet-thong")
    assert rows.keys.dtype == np.int64 and rows.keys.tolist() == keys1
    assert rows.tokens == tokens1
    assert rows.vectors.dtype == np.float32
    np.testing.assert_array_equal(rows.vectors, vectors1)
    other = store.index_rows("bo-tttt")
    assert other.keys.tolist() == keys2 and other.tokens == tokens2
    np.testing.assert_array_equal(other.vectors, vectors2)
    empty = store.index_rows("khong-co")
    assert len(empty.keys) == 0 and empty.tokens == [] and len(empty.vectors) == 0


def test_add_document_is_all_or_nothing(store: SqliteStore) -> None:
    document = _document("cuc-viet-thong", "d1", ["a", "b"])
    passages = _passages(document, ["a", "b"])
    with pytest.raises(ValueError):  # two passages, one vector: nothing may remain
        store.add_document(document, passages, [["a"], ["b"]], _vectors(1))
    assert store.get_document("cuc-viet-thong", "d1") is None
    assert len(store.index_rows("cuc-viet-thong").keys) == 0


def test_delete_document_returns_its_keys_and_removes_its_rows(store: SqliteStore) -> None:
    *_, keys1 = _add(store, "d1", ["một", "hai"])
    *_, keys2 = _add(store, "d2", ["ba"], seed=3)
    removed = store.delete_document("cuc-viet-thong", "d1")
    assert sorted(removed) == sorted(keys1)
    assert store.get_document("cuc-viet-thong", "d1") is None
    assert store.passages(keys1) == []
    assert store.index_rows("cuc-viet-thong").keys.tolist() == keys2
    assert [d.id for d in store.list_documents("cuc-viet-thong")] == ["d2"]
    assert store.delete_document("cuc-viet-thong", "d1") == []


def test_store_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "troly.sqlite3"
    first = SqliteStore(path)
    first.add_unit(Unit("bo-tttt", "Bộ TT&TT"))
    *_, keys = _add(first, "d1", ["một", "hai"], unit="bo-tttt")
    first.close()
    again = SqliteStore(path)
    assert again.index_rows("bo-tttt").keys.tolist() == keys
    with pytest.raises(UnitExists):
        again.add_unit(Unit("bo-tttt", "Bộ TT&TT"))


# -- FAISS -----------------------------------------------------------------------------------
def test_flat_ip_index_add_search_remove() -> None:
    index = FlatIPIndex(8)
    empty_keys, empty_scores = index.search(_vectors(1)[0], 5)
    assert len(empty_keys) == 0 and len(empty_scores) == 0
    vectors = _vectors(5, seed=7)
    keys = np.array([10, 20, 30, 40, 50], dtype=np.int64)
    index.add(keys, vectors)
    assert len(index) == 5
    found, scores = index.search(vectors[2], 3)
    assert found[0] == 30
    assert scores[0] == pytest.approx(1.0, abs=1e-5)
    assert list(scores) == sorted(scores, reverse=True)
    expected = keys[np.argsort(-(vectors @ vectors[2]))][:3]
    assert found.tolist() == expected.tolist()
    all_keys, _ = index.search(vectors[0], 100)  # k beyond the size: every vector once
    assert sorted(all_keys.tolist()) == keys.tolist()
    index.remove(np.array([30], dtype=np.int64))
    assert len(index) == 4
    after, _ = index.search(vectors[2], 5)
    assert 30 not in after.tolist() and len(after) == 4
    index.remove(np.array([], dtype=np.int64))
    assert len(index) == 4


# -- BM25 ------------------------------------------------------------------------------------
_DOCS = {
    1: "sim rác viễn_thông phải xử_lý triệt_để".split(),
    2: "tắt sóng 2g từ 15/9/2024".split(),
    3: "trợ_lý ảo phải trả_lời được 90% câu_hỏi".split(),
    4: "đo_lường chất_lượng dịch_vụ bưu_chính".split(),
}


def _bm25(docs: dict[int, list[str]] = _DOCS) -> Bm25Index:
    index = Bm25Index()
    index.add(np.array(list(docs), dtype=np.int64), list(docs.values()))
    return index


def test_bm25_finds_the_token_matching_passage() -> None:
    index = _bm25()
    keys, scores = index.search(["trợ_lý", "ảo"], 3)
    assert keys.tolist() == [3]  # only passages sharing a token score
    assert scores[0] > 0
    keys, _ = index.search(["sóng", "2g", "sim"], 4)
    assert set(keys.tolist()) == {1, 2}
    assert index.search([], 3)[0].tolist() == []
    assert index.search(["không_có"], 3)[0].tolist() == []


def test_bm25_ranks_more_matching_terms_higher() -> None:
    index = _bm25({1: ["a", "b", "c"], 2: ["a", "x", "y"], 3: ["z", "w", "v"], 4: ["q", "r", "s"]})
    keys, scores = index.search(["a", "b"], 4)
    assert keys.tolist() == [1, 2]
    assert scores[0] > scores[1]


def test_bm25_remove_makes_a_passage_disappear_and_updates_document_frequency() -> None:
    index = _bm25()
    assert index.document_frequency("phải") == 2
    assert index.document_frequency("không_có") == 0
    index.remove(np.array([3], dtype=np.int64))
    assert len(index) == 3
    assert index.search(["trợ_lý", "ảo"], 3)[0].tolist() == []
    assert index.document_frequency("phải") == 1
    assert index.document_frequency("trợ_lý") == 0
    index.add(np.array([5], dtype=np.int64), [["trợ_lý", "ảo", "phải"]])
    assert index.document_frequency("phải") == 2
    assert index.search(["trợ_lý"], 3)[0].tolist() == [5]


def test_bm25_remove_from_a_compacted_base_segment() -> None:
    index = _bm25()
    index.compact()  # everything in the base segment: removal goes through tombstones
    index.add(np.array([6], dtype=np.int64), [["ảo", "hóa"]])
    index.remove(np.array([3], dtype=np.int64))
    assert index.search(["ảo"], 5)[0].tolist() == [6]
    assert index.search(["tắt", "sóng"], 5)[0].tolist() == [2]
    index.compact()
    assert index.search(["ảo"], 5)[0].tolist() == [6]
    assert len(index) == 4


def test_bm25_adding_a_known_key_again_changes_nothing() -> None:
    index = _bm25()
    index.add(np.array([1], dtype=np.int64), [["khác"]])
    assert index.document_frequency("khác") == 0
    assert index.search(["sim"], 2)[0].tolist() == [1]


# -- fusion ----------------------------------------------------------------------------------
def _ranked(keys: list[int], scores: list[float]) -> tuple[np.ndarray, np.ndarray]:
    return np.array(keys, dtype=np.int64), np.array(scores, dtype=np.float32)


def test_reciprocal_rank_fusion_orders_by_summed_reciprocal_ranks() -> None:
    k = 60
    dense = _ranked([1, 2, 3], [0.9, 0.8, 0.7])
    lexical = _ranked([3, 1, 4], [12.0, 7.5, 3.0])
    fused = reciprocal_rank_fusion(dense, lexical, k=k)
    expected = {1: 1 / (k + 1) + 1 / (k + 2), 2: 1 / (k + 2), 3: 1 / (k + 3) + 1 / (k + 1), 4: 1 / (k + 3)}
    assert [f.key for f in fused] == [1, 3, 2, 4]
    for f in fused:
        assert f.score == pytest.approx(expected[f.key])


def test_reciprocal_rank_fusion_keeps_each_retrievers_score_and_rank() -> None:
    fused = {f.key: f for f in reciprocal_rank_fusion(_ranked([1, 2], [0.9, 0.5]), _ranked([2, 7], [9.0, 4.0]))}
    assert (fused[1].dense, fused[1].dense_rank, fused[1].lexical, fused[1].lexical_rank) == (
        pytest.approx(0.9),
        0,
        None,
        None,
    )
    assert (fused[2].dense, fused[2].dense_rank, fused[2].lexical, fused[2].lexical_rank) == (
        pytest.approx(0.5),
        1,
        pytest.approx(9.0),
        0,
    )
    assert (fused[7].dense, fused[7].dense_rank, fused[7].lexical, fused[7].lexical_rank) == (
        None,
        None,
        pytest.approx(4.0),
        1,
    )


def test_reciprocal_rank_fusion_breaks_ties_by_key_and_handles_empty_lists() -> None:
    fused = reciprocal_rank_fusion(_ranked([9], [0.1]), _ranked([4], [1.0]))
    assert [f.key for f in fused] == [4, 9]  # same score: lower key first, deterministic
    assert reciprocal_rank_fusion(_ranked([], []), _ranked([], [])) == []
    only_lexical = reciprocal_rank_fusion(_ranked([], []), _ranked([5, 6], [2.0, 1.0]))
    assert [f.key for f in only_lexical] == [5, 6]
