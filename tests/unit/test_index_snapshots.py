"""Index snapshots: a restart reads the saved indexes, but never ones that miss a write."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from app.answer.model import AnswerModel
from app.assistant import Assistant
from app.domain import DocumentInput, keys_fingerprint
from app.search.lexical import Bm25Index
from app.search.unit_index import UnitIndex
from app.settings import Settings
from app.store import SqlDocumentStore
from app.store.base import IndexRows

UNIT = "cuc-vien-thong"
EMBEDDER = "fake/bag-of-syllables-64"

DOC_2G = DocumentInput(
    title="Tắt sóng 2G",
    text="Từ ngày 15/9/2024 sẽ tắt sóng 2G theo quy định. Các nhà mạng hỗ trợ người dân đổi điện thoại.",
)
DOC_POST = DocumentInput(
    title="Bưu chính",
    text="Khoảng 800 doanh nghiệp bưu chính đang hoạt động. Chất lượng dịch vụ bưu chính được đo theo quý.",
)


class _NoRebuildStore(SqlDocumentStore):
    """Fails the test if the assistant rebuilds an index from the stored rows."""

    def index_rows(self, unit: str) -> IndexRows:
        raise AssertionError(f"unit {unit} was rebuilt from the store instead of read from its snapshot")


Opener = Callable[..., Assistant]


@pytest.fixture()
def open_at(make_fake_embedder: Callable[..., object], settings_factory: Callable[..., Settings]) -> Opener:
    def open_(data_dir: Path, store_class: type[SqlDocumentStore] = SqlDocumentStore) -> Assistant:
        settings = settings_factory(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        embedder = make_fake_embedder(EMBEDDER)
        return Assistant(store_class.open(settings.db_url), embedder, AnswerModel.load(), settings)  # type: ignore[arg-type]

    return open_


def _titles(assistant: Assistant, question: str) -> list[str]:
    return [hit.title for hit in assistant.retrieve(question, UNIT, 5)]


def test_a_restart_reads_the_saved_indexes_instead_of_rebuilding(tmp_path: Path, open_at: Opener) -> None:
    first = open_at(tmp_path)
    first.create_unit(UNIT, "Cục Viễn thông")
    first.add_documents(UNIT, [DOC_2G, DOC_POST])
    before = first.retrieve("Khi nào tắt sóng 2G?", UNIT, 5)
    first.save_indexes()
    first.store.close()

    again = open_at(tmp_path, _NoRebuildStore)
    after = again.retrieve("Khi nào tắt sóng 2G?", UNIT, 5)
    assert [(h.passage.id, h.dense_rank, h.lexical_rank) for h in after] == [
        (h.passage.id, h.dense_rank, h.lexical_rank) for h in before
    ]
    assert again.passage_count() == first.passage_count()


def test_a_write_after_the_snapshot_makes_it_stale_and_the_restart_rebuilds(tmp_path: Path, open_at: Opener) -> None:
    first = open_at(tmp_path)
    first.create_unit(UNIT, "Cục Viễn thông")
    kept = first.add_document(UNIT, DOC_POST).document
    first.save_indexes()
    # Written after the snapshot, then the process dies without saving again.
    first.add_document(UNIT, DOC_2G)
    first.delete_document(UNIT, kept.id)
    first.store.close()

    with pytest.raises(AssertionError, match="rebuilt from the store"):
        open_at(tmp_path, _NoRebuildStore)
    again = open_at(tmp_path)
    assert _titles(again, "Khi nào tắt sóng 2G?") == ["Tắt sóng 2G"]
    assert "Bưu chính" not in _titles(again, "Có bao nhiêu doanh nghiệp bưu chính?")


def test_a_damaged_snapshot_is_rebuilt_from_the_store(tmp_path: Path, open_at: Opener) -> None:
    first = open_at(tmp_path)
    first.create_unit(UNIT, "Cục Viễn thông")
    first.add_documents(UNIT, [DOC_2G, DOC_POST])
    first.save_indexes()
    first.store.close()
    (tmp_path / "indexes" / UNIT / "vectors.faiss").write_bytes(b"not a faiss index")

    again = open_at(tmp_path)
    assert _titles(again, "Khi nào tắt sóng 2G?")[0] == "Tắt sóng 2G"
    # The rebuild wrote a good snapshot again.
    again.store.close()
    assert open_at(tmp_path, _NoRebuildStore).passage_count() == again.passage_count()


def test_a_snapshot_from_another_embedder_is_not_read(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    keys = np.arange(1, 11, dtype=np.int64)
    index = UnitIndex.from_rows(8, IndexRows(keys, [["a"]] * 10, _unit_vectors(rng, 10, 8)))
    index.save(tmp_path / "u", "model-a")
    assert UnitIndex.load(tmp_path / "u", 8, "model-a", index.fingerprint()) is not None
    assert UnitIndex.load(tmp_path / "u", 8, "model-b", index.fingerprint()) is None
    assert UnitIndex.load(tmp_path / "u", 8, "model-a", keys_fingerprint(11, 11, 66)) is None


def _unit_vectors(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_a_large_unit_gets_an_approximate_index_that_removes_and_round_trips(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n, dim = 400, 16
    keys = np.arange(100, 100 + n, dtype=np.int64)
    vectors = _unit_vectors(rng, n, dim)
    rows = IndexRows(keys, [[f"w{k % 7}", f"k{k}"] for k in keys], vectors)

    small = UnitIndex.from_rows(dim, rows, exact_below=n + 1)
    large = UnitIndex.from_rows(dim, rows, exact_below=n)
    assert not small.approximate and large.approximate

    probe = vectors[5]
    found, _ = large.candidates(probe, ["k105"], 10)[0]
    assert found[0] == keys[5]
    large.remove(keys[5:6])
    dense, lexical = large.candidates(probe, ["k105"], 10)
    assert keys[5] not in dense[0] and keys[5] not in lexical[0]

    large.save(tmp_path / "large", EMBEDDER)
    loaded = UnitIndex.load(tmp_path / "large", dim, EMBEDDER, large.fingerprint())
    assert loaded is not None and loaded.approximate
    for query in vectors[:20]:
        expected = large.candidates(query, ["w3"], 10)[0][0]
        np.testing.assert_array_equal(loaded.candidates(query, ["w3"], 10)[0][0], expected)


def test_bm25_round_trip_keeps_base_delta_and_tombstones(tmp_path: Path) -> None:
    index = Bm25Index(min_delta=3, compact_share=0.0)
    docs = {k: [f"t{k % 5}", "chung", f"k{k}"] for k in range(1, 21)}
    index.add(np.array(list(docs), dtype=np.int64), list(docs.values()))  # past min_delta: a base segment
    index.add(np.array([50], dtype=np.int64), [["t1", "moi"]])  # stays in the delta
    index.remove(np.array([2, 7], dtype=np.int64))  # tombstones in the base
    index.save(tmp_path / "bm25")

    loaded = Bm25Index.load(tmp_path / "bm25", min_delta=3, compact_share=0.0)
    for query in (["t2"], ["t1"], ["moi"], ["chung", "k7"], ["k2"]):
        k1, s1 = index.search(query, 10)
        k2, s2 = loaded.search(query, 10)
        np.testing.assert_array_equal(k1, k2)
        np.testing.assert_allclose(s1, s2)
    assert 2 not in loaded.search(["k2"], 10)[0] and 50 in loaded.search(["moi"], 10)[0]
    assert loaded.document_frequency("chung") == index.document_frequency("chung") == 18
    assert sorted(loaded.keys().tolist()) == sorted(index.keys().tolist())


def test_the_store_and_the_index_agree_on_the_fingerprint(tmp_path: Path, open_at: Opener) -> None:
    assistant = open_at(tmp_path)
    assistant.create_unit(UNIT, "Cục Viễn thông")
    doc = assistant.add_document(UNIT, DOC_2G).document
    assistant.add_document(UNIT, DOC_POST)
    assistant.delete_document(UNIT, doc.id)
    assert assistant.store.unit_fingerprint(UNIT) == assistant.knowledge.search.index(UNIT).fingerprint()  # type: ignore[attr-defined]


def test_an_unwritable_snapshot_folder_does_not_stop_the_service(tmp_path: Path, open_at: Opener) -> None:
    first = open_at(tmp_path)
    first.create_unit(UNIT, "Cục Viễn thông")
    first.add_document(UNIT, DOC_2G)
    first.store.close()
    (tmp_path / "indexes").write_text("a file where the snapshot folder should be")

    again = open_at(tmp_path)  # rebuilds, fails to save, and still serves
    again.save_indexes()
    assert _titles(again, "Khi nào tắt sóng 2G?") == ["Tắt sóng 2G"]
