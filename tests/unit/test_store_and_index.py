"""The FAISS vector index, BM25 and their fusion. (The document store, on SQLite and PostgreSQL:
tests/integration/test_document_store.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from app.search.fusion import reciprocal_rank_fusion
from app.search.lexical import Bm25Index
from app.search.vector import FlatIPIndex


def _vectors(n: int, dim: int = 8, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


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
