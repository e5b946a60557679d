"""Approximate dense search for large units: FAISS IVF with fp16 scalar quantisation, removable ids.

Exact search (``FlatIPIndex``) scans every vector: fine up to ~100k passages, but at 1M
passages it needs 1.5 GB and tens of milliseconds per question. Past a threshold a unit
uses :class:`IVFIndex` instead:

* an inverted file of ``nlist`` k-means cells (trained on the unit's vectors when the index
  is first built), each question scanning the ``nprobe`` nearest cells;
* vectors stored as fp16 (``QT_fp16``): 768 bytes instead of 1,536, with no loss of
  ranking on normalised embeddings; 8-bit codes (``QT_8bit``, 384 bytes) cap recall@10 near
  0.95 on near-duplicate report passages, which is why they are not the default;
* ids stored in the inverted lists, so ``remove`` deletes by id without a rebuild;
* ``save``/``load`` via ``faiss.write_index``/``read_index``: start-up reads one file
  instead of re-training and re-adding.

The defaults (``nlist`` about 2·√n rounded to a power of two, ``nprobe`` = nlist/16 and at
least 64) were chosen from the recall curves in docs/performance.md: recall@10 against
exact search ≥ 0.97 at 100k and 1M passages.
"""

from __future__ import annotations

import math
from pathlib import Path

import faiss
import numpy as np
import numpy.typing as npt

from app.search.rwlock import ReadWriteLock
from app.search.vector import FlatIPIndex, Keys, Scores, VectorIndex

# Below this many vectors a unit keeps exact search (under ~4 ms a question on one core, no training);
# above it, exact search grows to ~9 ms at 100k and ~90 ms at 1M while IVF stays around 1-5 ms.
DEFAULT_EXACT_BELOW = 50_000

_QUANTISERS = {
    "fp16": faiss.ScalarQuantizer.QT_fp16,
    "sq8": faiss.ScalarQuantizer.QT_8bit,
    "flat": None,
}
# k-means points per cell: FAISS wants at least 39; more only slows training.
_TRAIN_PER_LIST = 64


def default_nlist(n: int) -> int:
    """About 2·√n cells (a power of two), and never fewer than 39 training points per cell."""
    if n < 39 * 16:
        return max(1, n // 39)
    target = 2.0 * math.sqrt(n)
    nlist = 2 ** round(math.log2(target))
    return int(max(16, min(nlist, n // 39, 65_536)))


def default_nprobe(nlist: int) -> int:
    return int(min(nlist, max(64, nlist // 16)))


class IVFIndex:
    """Inverted-file inner-product search on normalised vectors, with removable ids.

    Thread safety: searches run concurrently (FAISS searches are read-only); adding and
    removing wait for running searches and keep new ones out.
    """

    def __init__(self, index: faiss.Index, nprobe: int | None = None, search_threads: int | None = 1) -> None:
        self._index = index
        # OpenMP thread count is per calling thread in libgomp; one question never gains from two
        # threads and loses much when the other core is busy (docs/performance.md). None: leave it.
        self._search_threads = search_threads
        ivf = faiss.extract_index_ivf(index)
        self.nlist = int(ivf.nlist)
        self.nprobe = nprobe or default_nprobe(self.nlist)
        ivf.nprobe = self.nprobe
        self._ivf = ivf
        self._lock = ReadWriteLock()

    # -- building -----------------------------------------------------------------------
    @classmethod
    def train(
        cls,
        dim: int,
        vectors: npt.NDArray[np.float32],
        nlist: int | None = None,
        nprobe: int | None = None,
        quantiser: str = "fp16",
        seed: int = 0,
    ) -> IVFIndex:
        """An empty index whose cells are fitted to ``vectors`` (a sample is enough)."""
        if quantiser not in _QUANTISERS:
            raise ValueError(f"quantiser must be one of {sorted(_QUANTISERS)}, not {quantiser!r}")
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != dim:
            raise ValueError(f"expected vectors of shape (n, {dim}), got {vectors.shape}")
        n = len(vectors)
        nlist = nlist or default_nlist(n)
        if n < nlist:
            raise ValueError(f"{n} vectors cannot train {nlist} cells")
        coarse = faiss.IndexFlatIP(dim)
        kind = _QUANTISERS[quantiser]
        index: faiss.Index
        if kind is None:
            index = faiss.IndexIVFFlat(coarse, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        else:
            index = faiss.IndexIVFScalarQuantizer(coarse, dim, nlist, kind, faiss.METRIC_INNER_PRODUCT, False)
        limit = _TRAIN_PER_LIST * nlist
        sample = vectors
        if n > limit:
            chosen = np.random.default_rng(seed).choice(n, limit, replace=False)
            sample = vectors[np.sort(chosen)]
        index.cp.seed = seed
        index.train(sample)
        return cls(index, nprobe)

    @classmethod
    def build(
        cls,
        dim: int,
        keys: Keys,
        vectors: npt.NDArray[np.float32],
        nlist: int | None = None,
        nprobe: int | None = None,
        quantiser: str = "fp16",
    ) -> IVFIndex:
        """Trained on ``vectors``, then holding them under ``keys``."""
        index = cls.train(dim, vectors, nlist=nlist, nprobe=nprobe, quantiser=quantiser)
        index.add(keys, vectors)
        return index

    # -- the VectorIndex protocol ---------------------------------------------------------
    def add(self, keys: Keys, vectors: npt.NDArray[np.float32]) -> None:
        if len(keys) == 0:
            return
        data = np.ascontiguousarray(vectors, dtype=np.float32)
        with self._lock.writing():
            self._index.add_with_ids(data, np.ascontiguousarray(keys, dtype=np.int64))

    def remove(self, keys: Keys) -> None:
        if len(keys) == 0:
            return
        with self._lock.writing():
            self._index.remove_ids(faiss.IDSelectorBatch(np.ascontiguousarray(keys, dtype=np.int64)))

    def search(self, vector: npt.NDArray[np.float32], k: int) -> tuple[Keys, Scores]:
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        if self._search_threads is not None:
            faiss.omp_set_num_threads(self._search_threads)
        with self._lock.reading():
            n = self._index.ntotal
            if n == 0 or k <= 0:
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
            scores, keys = self._index.search(query, min(k, n))
        found = keys[0] >= 0
        return keys[0][found], scores[0][found]

    def __len__(self) -> int:
        return int(self._index.ntotal)

    # -- persistence and facts ------------------------------------------------------------
    def save(self, path: Path) -> None:
        """Atomically: a crash mid-write leaves the previous file in place."""
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        with self._lock.reading():
            faiss.write_index(self._index, str(partial))
        partial.replace(path)

    @classmethod
    def load(cls, path: Path, nprobe: int | None = None) -> IVFIndex:
        index = faiss.read_index(str(path))
        if not isinstance(faiss.try_extract_index_ivf(index), faiss.IndexIVF):
            raise ValueError(f"{path} does not hold an inverted-file index")
        return cls(index, nprobe)

    def set_nprobe(self, nprobe: int) -> None:
        with self._lock.writing():
            self.nprobe = max(1, min(int(nprobe), self.nlist))
            self._ivf.nprobe = self.nprobe

    def nbytes(self) -> int:
        """Bytes the index holds (its serialised size: codes, ids and centroids)."""
        with self._lock.reading():
            return int(faiss.serialize_index(self._index).nbytes)

    def list_sizes(self) -> npt.NDArray[np.int64]:
        invlists = self._ivf.invlists
        if invlists is None:
            return np.zeros(self.nlist, dtype=np.int64)
        return np.fromiter((invlists.list_size(i) for i in range(self.nlist)), dtype=np.int64, count=self.nlist)


def build_vector_index(
    dim: int,
    vectors: npt.NDArray[np.float32],
    keys: Keys,
    exact_below: int = DEFAULT_EXACT_BELOW,
    nprobe: int | None = None,
    quantiser: str = "fp16",
) -> VectorIndex:
    """Exact search below ``exact_below`` vectors, the trained IVF index at or above it."""
    if len(keys) < exact_below:
        flat = FlatIPIndex(dim)
        flat.add(np.asarray(keys, dtype=np.int64), np.ascontiguousarray(vectors, dtype=np.float32))
        return flat
    return IVFIndex.build(dim, np.asarray(keys, dtype=np.int64), vectors, nprobe=nprobe, quantiser=quantiser)


__all__ = [
    "DEFAULT_EXACT_BELOW",
    "IVFIndex",
    "build_vector_index",
    "default_nlist",
    "default_nprobe",
]
