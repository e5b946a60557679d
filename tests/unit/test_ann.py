"""The approximate vector index: recall against exact search, removal by id, save and load."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from app.search.ann import IVFIndex, build_vector_index, default_nlist, default_nprobe
from app.search.vector import FlatIPIndex

DIM = 64


def clustered(n: int, seed: int = 0, clusters: int = 200, spread: float = 0.35) -> npt.NDArray[np.float32]:
    """Normalised vectors around random centres: embeddings of related texts look like this."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    points = centres[rng.integers(0, clusters, n)] + rng.normal(0.0, spread / np.sqrt(DIM), (n, DIM))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    return points.astype(np.float32)


@pytest.fixture(scope="module")
def data() -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    vectors = clustered(20_000)
    queries = clustered(100, seed=1)
    keys = np.arange(1000, 1000 + len(vectors), dtype=np.int64)  # keys are not positions
    return keys, vectors, queries


@pytest.fixture(scope="module")
def ivf(data: tuple[npt.NDArray[np.int64], npt.NDArray[np.float32], npt.NDArray[np.float32]]) -> IVFIndex:
    keys, vectors, _ = data
    return IVFIndex.build(DIM, keys, vectors)


def _exact(keys: npt.NDArray[np.int64], vectors: npt.NDArray[np.float32]) -> FlatIPIndex:
    flat = FlatIPIndex(DIM)
    flat.add(keys, vectors)
    return flat


def test_recall_at_10_against_exact_search(ivf: IVFIndex, data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    keys, vectors, queries = data
    flat = _exact(keys, vectors)
    recall = np.mean(
        [len(set(ivf.search(q, 10)[0].tolist()) & set(flat.search(q, 10)[0].tolist())) / 10 for q in queries]
    )
    assert recall >= 0.95
    assert len(ivf) == len(keys)
    assert ivf.nprobe == default_nprobe(default_nlist(len(keys)))


def test_results_are_best_first_with_the_callers_keys(ivf: IVFIndex, data: tuple[np.ndarray, ...]) -> None:
    keys, vectors, _ = data
    found, scores = ivf.search(vectors[42], 10)
    assert found[0] == keys[42]
    assert scores[0] == pytest.approx(1.0, abs=1e-3)
    assert list(scores) == sorted(scores, reverse=True)
    assert found.dtype == np.int64 and scores.dtype == np.float32


def test_removed_keys_never_come_back(data: tuple[np.ndarray, ...]) -> None:
    keys, vectors, _ = data
    index = IVFIndex.build(DIM, keys[:5000], vectors[:5000])
    gone = keys[:5000:10]
    index.remove(gone)
    assert len(index) == 5000 - len(gone)
    removed = set(gone.tolist())
    for position in range(0, 5000, 50):
        found, _ = index.search(vectors[position], 20)
        assert not removed & set(found.tolist())
    index.add(gone[:3], vectors[:5000:10][:3])  # and they can come back when added again
    assert index.search(vectors[0], 1)[0][0] == keys[0]


def test_save_and_load_give_the_same_results(ivf: IVFIndex, data: tuple[np.ndarray, ...], tmp_path: Path) -> None:
    _, _, queries = data
    path = tmp_path / "unit" / "vectors.faiss"
    ivf.save(path)
    loaded = IVFIndex.load(path)
    assert len(loaded) == len(ivf) and loaded.nlist == ivf.nlist and loaded.nprobe == ivf.nprobe
    for q in queries[:20]:
        a_keys, a_scores = ivf.search(q, 10)
        b_keys, b_scores = loaded.search(q, 10)
        assert a_keys.tolist() == b_keys.tolist()
        np.testing.assert_allclose(a_scores, b_scores)
    assert not path.with_name(path.name + ".partial").exists()


def test_load_refuses_a_file_without_an_inverted_index(tmp_path: Path) -> None:
    import faiss

    path = tmp_path / "flat.faiss"
    faiss.write_index(faiss.IndexFlatIP(DIM), str(path))
    with pytest.raises(ValueError, match="inverted-file"):
        IVFIndex.load(path)


def test_factory_switches_from_exact_to_approximate(data: tuple[np.ndarray, ...]) -> None:
    keys, vectors, _ = data
    small = build_vector_index(DIM, vectors[:3000], keys[:3000], exact_below=4000)
    large = build_vector_index(DIM, vectors[:5000], keys[:5000], exact_below=4000)
    assert isinstance(small, FlatIPIndex) and len(small) == 3000
    assert isinstance(large, IVFIndex) and len(large) == 5000


def test_empty_and_small_searches() -> None:
    vectors = clustered(2000, seed=3)
    index = IVFIndex.train(DIM, vectors)
    empty_keys, empty_scores = index.search(vectors[0], 10)
    assert len(empty_keys) == 0 and len(empty_scores) == 0
    index.add(np.array([7, 8], dtype=np.int64), vectors[:2])
    found, _ = index.search(vectors[0], 10)
    assert found.tolist()[0] == 7 and set(found.tolist()) <= {7, 8}


def test_training_needs_enough_vectors() -> None:
    with pytest.raises(ValueError):
        IVFIndex.train(DIM, clustered(10), nlist=64)
    with pytest.raises(ValueError):
        IVFIndex.train(DIM, clustered(100), quantiser="pq")


def test_searches_run_while_another_thread_writes(data: tuple[np.ndarray, ...]) -> None:
    keys, vectors, queries = data
    index = IVFIndex.build(DIM, keys[:4000], vectors[:4000])
    errors: list[BaseException] = []

    def search() -> None:
        try:
            for q in queries:
                index.search(q, 10)
        except BaseException as exc:  # pragma: no cover - the failure is reported below
            errors.append(exc)

    threads = [threading.Thread(target=search) for _ in range(4)]
    for t in threads:
        t.start()
    for start in range(4000, 8000, 500):
        index.add(keys[start : start + 500], vectors[start : start + 500])
        index.remove(keys[start - 4000 : start - 3500])
    for t in threads:
        t.join()
    assert not errors
    assert len(index) == 4000


def test_default_parameters() -> None:
    assert default_nlist(100_000) == 512
    assert default_nlist(1_000_000) == 2048
    assert default_nprobe(512) == 64
    assert default_nprobe(2048) == 128
    assert default_nlist(1000) * 39 <= 1000
