"""BM25 over pyvi tokens (bm25s), updated without rebuilding the whole unit on every write.

bm25s precomputes every term's scores, so a corpus cannot grow in place. The index is
kept as a log-structured pair: a large *base* segment, a small *delta* segment holding
the passages added since the base was built (rebuilt on each write, which is cheap while
it is small), and tombstones for base passages removed since. When the delta or the
tombstones pass a share of the base, both are folded into a new base. A search reads one
immutable snapshot, so it never waits for a write.
"""

from __future__ import annotations

import math
import pickle
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import bm25s
import numpy as np
import numpy.typing as npt

from app.search.vector import Keys, Scores

_EMPTY_KEYS: Keys = np.zeros(0, dtype=np.int64)
_EMPTY_SCORES: Scores = np.zeros(0, dtype=np.float32)


@dataclass(frozen=True)
class _Segment:
    model: bm25s.BM25
    keys: Keys

    @classmethod
    def build(cls, tokens: dict[int, str], keys: Iterable[int]) -> _Segment | None:
        ordered = np.fromiter(keys, dtype=np.int64)
        if len(ordered) == 0:
            return None
        model = bm25s.BM25()
        model.index([tokens[int(k)].split() or [""] for k in ordered], show_progress=False)
        return cls(model, ordered)

    def top(self, query: list[str], k: int, deleted: frozenset[int]) -> tuple[Keys, Scores]:
        scores: npt.NDArray[np.float32] = np.asarray(self.model.get_scores(query), dtype=np.float32)
        k = min(k + len(deleted), len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[scores[top] > 0]
        keys = self.keys[top]
        if deleted:
            alive = np.fromiter((int(x) not in deleted for x in keys), dtype=bool, count=len(keys))
            top, keys = top[alive], keys[alive]
        return keys, scores[top]


@dataclass(frozen=True)
class _Snapshot:
    base: _Segment | None
    delta: _Segment | None
    deleted: frozenset[int]  # base keys removed since the base was built


class Bm25Index:
    def __init__(self, compact_share: float = 0.05, min_delta: int = 2000) -> None:
        # Each passage's tokens joined by spaces (tokens hold none): one string per passage instead of
        # a hundred keeps memory and snapshot loading small; they are split again only to rebuild a segment.
        self._tokens: dict[int, str] = {}
        self._df: Counter[str] = Counter()
        self._base_keys: set[int] = set()
        self._deleted: set[int] = set()
        self._snapshot = _Snapshot(None, None, frozenset())
        self._compact_share = compact_share
        self._min_delta = min_delta
        self._lock = threading.Lock()  # one writer at a time; readers use the snapshot

    def add(self, keys: Keys, tokens: Sequence[Sequence[str]]) -> None:
        with self._lock:
            for key, toks in zip(keys, tokens, strict=True):
                if int(key) not in self._tokens:
                    self._tokens[int(key)] = " ".join(toks)
                    self._df.update(set(toks))
            self._refresh()

    def remove(self, keys: Keys) -> None:
        with self._lock:
            for key in (int(k) for k in keys):
                removed = self._tokens.pop(key, None)
                if removed is None:
                    continue
                self._df.subtract(set(removed.split()))
                if key in self._base_keys:
                    self._deleted.add(key)
            self._refresh()

    def _refresh(self) -> None:
        delta_keys = [k for k in self._tokens if k not in self._base_keys]
        limit = max(self._min_delta, self._compact_share * len(self._base_keys))
        if len(delta_keys) > limit or len(self._deleted) > limit:
            self._base_keys = set(self._tokens)
            self._deleted = set()
            base = _Segment.build(self._tokens, self._tokens.keys())
            self._snapshot = _Snapshot(base, None, frozenset())
            return
        delta = _Segment.build(self._tokens, delta_keys)
        self._snapshot = _Snapshot(self._snapshot.base, delta, frozenset(self._deleted))

    def compact(self) -> None:
        """Fold everything into one base segment (exact BM25 statistics again)."""
        with self._lock:
            self._base_keys = set(self._tokens)
            self._deleted = set()
            self._snapshot = _Snapshot(_Segment.build(self._tokens, self._tokens.keys()), None, frozenset())

    def search(self, tokens: Sequence[str], k: int) -> tuple[Keys, Scores]:
        snapshot = self._snapshot
        query = list(tokens)
        if not query:
            return _EMPTY_KEYS, _EMPTY_SCORES
        parts = [
            segment.top(query, k, snapshot.deleted if segment is snapshot.base else frozenset())
            for segment in (snapshot.base, snapshot.delta)
            if segment is not None
        ]
        if not parts:
            return _EMPTY_KEYS, _EMPTY_SCORES
        keys = np.concatenate([p[0] for p in parts])
        scores = np.concatenate([p[1] for p in parts])
        order = np.lexsort((keys, -scores))[:k]
        return keys[order], scores[order]

    # -- persistence: a restart reads the built segments instead of re-indexing every passage ----------
    def save(self, folder: Path) -> None:
        """Writes the index into ``folder`` (which must not hold another index)."""
        with self._lock:
            snapshot = self._snapshot
            state = {
                "tokens": self._tokens,
                "df": dict(self._df),
                "base_keys": self._base_keys,
                "deleted": self._deleted,
            }
            folder.mkdir(parents=True, exist_ok=True)
            with (folder / "state.pickle").open("wb") as f:
                pickle.dump(state, f, protocol=pickle.HIGHEST_PROTOCOL)
            if snapshot.base is not None:
                snapshot.base.model.save(str(folder / "base"), show_progress=False)
                np.save(folder / "base_keys.npy", snapshot.base.keys)

    @classmethod
    def load(cls, folder: Path, compact_share: float = 0.05, min_delta: int = 2000) -> Bm25Index:
        """The index ``save`` wrote; only the small delta segment is rebuilt. Our own files only (pickle)."""
        with (folder / "state.pickle").open("rb") as f:
            state = pickle.load(f)  # written by save() into the service's own data directory
        index = cls(compact_share, min_delta)
        index._tokens = state["tokens"]
        index._base_keys = state["base_keys"]
        index._deleted = state["deleted"]
        index._df = Counter(state["df"])
        base = None
        if (folder / "base").is_dir():
            model = bm25s.BM25.load(str(folder / "base"), show_progress=False, verbosity=0)
            base = _Segment(model, np.load(folder / "base_keys.npy"))
        delta = _Segment.build(index._tokens, [k for k in index._tokens if k not in index._base_keys])
        index._snapshot = _Snapshot(base, delta, frozenset(index._deleted))
        return index

    def document_frequency(self, token: str) -> int:
        return max(self._df.get(token, 0), 0)

    def keys(self) -> Keys:
        return np.fromiter(self._tokens, dtype=np.int64, count=len(self._tokens))

    def __len__(self) -> int:
        return len(self._tokens)


def bm25_idf(df: int, n: int) -> float:
    """The BM25 (Lucene) inverse document frequency."""
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))
