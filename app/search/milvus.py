"""The Milvus search backend: every replica searches one shared collection (``app.search.milvus_collection``).

It keeps no search state in the process, only a connection: a write through one replica is seen by
the next search of any other (the collection's consistency is Strong). A dead or unreachable Milvus
raises ``SearchUnavailable`` (HTTP 503), never anything else; the connection is dropped then, and the
next call connects again, so the service recovers when Milvus is back.

``sync`` makes the collection hold exactly the store's passages (from the stored vectors, never
re-embedded): run at every start, it also repairs a crash between the store's commit and the write here.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from app.domain import keys_fingerprint
from app.search import milvus_collection as collection
from app.search.backend import Idf, Mode
from app.search.lexical import bm25_idf
from app.search.milvus_connection import TIMEOUT_S, MilvusConnection
from app.search.unit_index import EMPTY, Ranked
from app.search.vector import Keys
from app.stopwatch import NO_WATCH, Stopwatch
from app.store.base import DocumentStore

log = logging.getLogger(__name__)

WRITE_BATCH = 512  # rows per upsert: a few MB per message, far below gRPC's limit
READ_BATCH = 4096  # keys per page when listing a unit's passages
MIN_EF = 128  # HNSW's search breadth, at least the depth asked: near-exact at a unit's size
# Rows written at once (a sync, a large ingest) from which the collection is flushed: sealed segments get
# their indexes built, where unsealed rows are searched by brute force (by milvus-lite in Python: 0.5-1 s
# a search over 10,000 rows, 70 ms once flushed; docs/deploy.md, Search backends).
FLUSH_FROM = 1000
FLUSH_TIMEOUT_S = 300.0
# Sets of units whose idf values are kept (one per unit asked about, and all units together).
MAX_IDF_SCOPES = 256
# The store's meta key naming the collection it was last synced into (the collection's own id).
SYNCED_META = "milvus_synced_collection"


@dataclass(frozen=True)
class _IdfScope:
    """idf values over one set of units, valid while the store's fingerprint of their passages holds."""

    stamp: str
    values: dict[str, float]


@dataclass(frozen=True)
class SyncReport:
    inserted: int
    deleted: int
    full: bool  # every stored passage written: a new collection, or one this store never filled


class MilvusSearch:
    def __init__(
        self, uri: str, token: str | None, name: str, dim: int, embedder: str, stats: DocumentStore | None = None
    ) -> None:
        """Not connected yet: ``open`` connects, and creates or checks the collection. ``stats``: the store
        whose passages the collection holds, which ``idf`` reads its document frequencies from."""
        self._name = name
        self._dim = dim
        self._embedder = embedder
        self._identity = ""
        self._connection = MilvusConnection(uri, token, name)
        self._stats = stats
        self._idf_scopes: dict[tuple[str, ...], _IdfScope] = {}

    @classmethod
    def open(
        cls, uri: str, token: str | None, name: str, dim: int, embedder: str, stats: DocumentStore | None = None
    ) -> MilvusSearch:
        search = cls(uri, token, name, dim, embedder, stats)
        try:
            search._identity = search._connection.run("open the collection", search._prepare)
        except BaseException:
            search.close()  # an open connection would keep pinging a server it no longer uses
            raise
        return search

    def _prepare(self, client: Any) -> str:
        from pymilvus import MilvusException

        if not client.has_collection(self._name, timeout=TIMEOUT_S):
            try:
                collection.create(client, self._name, self._dim, self._embedder, TIMEOUT_S)
            except MilvusException:
                # Another replica starting at the same moment may have created it: check theirs.
                if not client.has_collection(self._name, timeout=TIMEOUT_S):
                    raise
        identity = collection.verify(
            client.describe_collection(self._name, timeout=TIMEOUT_S), self._name, self._dim, self._embedder
        )
        # milvus-lite releases every collection when it restarts; loading a loaded one does nothing.
        client.load_collection(self._name, timeout=TIMEOUT_S)
        return identity

    def close(self) -> None:
        self._connection.close()

    # -- writes ------------------------------------------------------------------------------------
    def create_unit(self, unit: str) -> None:
        """Nothing to create: the unit is the partition key of every passage written later."""

    def add(self, unit: str, keys: Keys, tokens: Sequence[Sequence[str]], vectors: npt.NDArray[np.float32]) -> None:
        self._upsert(unit, keys, tokens, vectors)
        if len(keys) >= FLUSH_FROM:
            self._flush()

    def _flush(self) -> None:
        self._connection.run("flush the collection", lambda c: c.flush(self._name, timeout=FLUSH_TIMEOUT_S))

    def replace(
        self,
        unit: str,
        old_keys: Keys,
        new_keys: Keys,
        tokens: Sequence[Sequence[str]],
        vectors: npt.NDArray[np.float32],
    ) -> None:
        # New passages first: a search in between finds the document twice, never not at all.
        self._upsert(unit, new_keys, tokens, vectors)
        self.remove(unit, old_keys)

    def remove(self, unit: str, keys: Keys) -> None:
        ids = [int(k) for k in keys]
        for start in range(0, len(ids), WRITE_BATCH):
            batch = ids[start : start + WRITE_BATCH]
            self._connection.run("remove passages", functools.partial(_delete, self._name, batch))

    def _upsert(self, unit: str, keys: Keys, tokens: Sequence[Sequence[str]], vectors: npt.NDArray[np.float32]) -> None:
        """Upserts, not inserts: a passage written twice (by ``sync`` on two replicas starting at once) stays one."""
        if len(keys) != len(tokens) or len(keys) != len(vectors):
            raise ValueError(f"{len(keys)} keys, {len(tokens)} token lists and {len(vectors)} vectors")
        for start in range(0, len(keys), WRITE_BATCH):
            rows = [
                {
                    "key": int(keys[i]),
                    "unit": unit,
                    "text": collection.text_of(tokens[i]),
                    "dense": np.asarray(vectors[i], dtype=np.float32).tolist(),
                }
                for i in range(start, min(start + WRITE_BATCH, len(keys)))
            ]
            self._connection.run("store passages", functools.partial(_upsert, self._name, rows))

    # -- reads -------------------------------------------------------------------------------------
    def candidates(
        self,
        units: Sequence[str],
        vector: npt.NDArray[np.float32],
        tokens: Sequence[str],
        depth: int,
        mode: Mode = "hybrid",
        watch: Stopwatch = NO_WATCH,
    ) -> tuple[Ranked, Ranked]:
        """One dense search and one BM25 search, each filtered to ``units`` (the filter goes on each search:
        Milvus's hybrid search would ignore one given to it, and would fuse with its own RRF)."""
        if not units:
            return EMPTY, EMPTY
        where = collection.in_units(list(units))
        dense = lexical = EMPTY
        if mode != "lexical":
            data = [np.asarray(vector, dtype=np.float32).tolist()]
            params = {"metric_type": "COSINE", "params": {"ef": max(depth, MIN_EF)}}
            with watch.lap("dense"):
                dense = self._search("search passages by meaning", data, "dense", params, where, depth)
        terms = " ".join(collection.term(t) for t in tokens)
        if mode != "dense" and terms:
            with watch.lap("bm25"):
                lexical = self._search(
                    "search passages by words", [terms], "sparse", {"metric_type": "BM25"}, where, depth
                )
        return dense, lexical

    def _search(self, what: str, data: list[Any], field: str, params: dict[str, Any], where: str, depth: int) -> Ranked:
        hits = self._connection.run(
            what,
            lambda c: c.search(
                self._name,
                data=data,
                anns_field=field,
                filter=where,
                limit=depth,
                search_params=params,
                timeout=TIMEOUT_S,
            ),
        )[0]
        keys = np.fromiter((int(h["key"]) for h in hits), dtype=np.int64, count=len(hits))
        # milvus-lite gives BM25 as its negated score (a distance); real Milvus gives the score itself.
        scores = np.fromiter((abs(float(h["distance"])) for h in hits), dtype=np.float32, count=len(hits))
        order = np.lexsort((keys, -scores))  # ties by key, as the embedded backend breaks them
        return keys[order], scores[order]

    def idf(self, units: Iterable[str]) -> Idf:
        """Exact, from the store's document frequencies when the backend was opened with its store
        (``stats``): n and the counts come from one read of the database, which every write keeps
        current in its own transaction (app.store.token_counts). Without it, counted on the server, a
        ``text_match`` count per token (a scan on milvus-lite: seconds at 10,000 passages).

        Values are kept for the next questions over the same units while the store's fingerprint of their
        passages (``stats``) is unchanged: any write, through any replica, changes it."""
        chosen = tuple(sorted(set(units)))
        if not chosen:
            return lambda token: bm25_idf(0, 0)
        if self._stats is None:
            return self._counted_idf(chosen)
        stats = self._stats
        stamp = stats.passages_fingerprint(chosen)
        scope = self._idf_scopes.get(chosen)
        if scope is None or scope.stamp != stamp:
            if len(self._idf_scopes) >= MAX_IDF_SCOPES:
                self._idf_scopes.clear()  # scopes are single units or all of them: rarely reached
            scope = self._idf_scopes[chosen] = _IdfScope(stamp, {})
        known = scope.values

        def idf(token: str) -> float:
            value = known.get(token)
            if value is None:
                n, found = stats.token_frequencies(chosen, [token])
                value = known[token] = bm25_idf(found[token], n)
            return value

        return idf

    def _counted_idf(self, units: tuple[str, ...]) -> Idf:
        where = collection.in_units(list(units))
        n = self._count(where)
        known: dict[str, float] = {}

        def idf(token: str) -> float:
            if token not in known:
                df = self._count(f"{where} and text_match(text, '{collection.term(token)}')") if token else 0
                known[token] = bm25_idf(df, n)
            return known[token]

        return idf

    def _count(self, where: str) -> int:
        rows = self._connection.run(
            "count passages", lambda c: c.query(self._name, filter=where, output_fields=["count(*)"], timeout=TIMEOUT_S)
        )
        return int(rows[0]["count(*)"])

    def passage_count(self, units: Iterable[str] | None = None) -> int:
        if units is None:
            return self._count("")
        chosen = list(units)
        return self._count(collection.in_units(chosen)) if chosen else 0

    def _held(self, where: str) -> dict[int, str]:
        """Every passage key the collection holds under ``where``, with its unit."""

        def page_through(client: Any) -> dict[int, str]:
            held: dict[int, str] = {}
            pages = client.query_iterator(
                self._name, batch_size=READ_BATCH, filter=where, output_fields=["unit"], timeout=TIMEOUT_S
            )
            try:
                while page := pages.next():
                    held.update((int(row["key"]), str(row["unit"])) for row in page)
            finally:
                pages.close()
            return held

        return self._connection.run("list passages", page_through)

    def units(self) -> list[str]:
        return sorted(set(self._held("").values()))

    def stale_units(self, store: DocumentStore) -> list[str]:
        """By count: one cheap query per unit, as a readiness probe wants every few seconds (listing every
        key, as ``sync`` does, would read millions of them). It misses only a replace whose old and new
        passages are as many and whose write here failed; ``sync`` at the next start repairs that too."""
        return [
            unit.id
            for unit in store.list_units()
            if self.passage_count([unit.id]) != sum(d.passages for d in store.list_documents(unit.id))
        ]

    def save(self) -> None:
        """Nothing to save: Milvus persists every write itself."""

    # -- repair ------------------------------------------------------------------------------------
    def sync(self, store: DocumentStore) -> SyncReport:
        """Makes the collection hold exactly the store's passages: inserts the missing ones from their
        stored vectors and tokens, deletes the ones the store no longer has.

        The collection is read before the store: writes commit to the store first, so a passage seen
        here is in the store unless deleted since, and is never taken for an orphan by mistake.
        A store that never filled this collection (a new collection, or another store's) has every
        passage written again: keys are the store's, and another store's may name other passages.
        """
        full = store.get_meta(SYNCED_META) != self._identity
        held = self._held("")
        inserted = deleted = 0
        units = store.list_units()
        for unit in units:
            mine = {k for k, u in held.items() if u == unit.id}
            if not full and _fingerprint(mine) == store.unit_fingerprint(unit.id):
                continue
            added, removed = self._sync_unit(store, unit.id, mine, full)
            inserted, deleted = inserted + added, deleted + removed
        # Passages of units the store does not have (keys are unique across units).
        known = {unit.id for unit in units}
        strays = [k for k, u in held.items() if u not in known]
        self.remove("", np.asarray(strays, dtype=np.int64))
        deleted += len(strays)
        if inserted >= FLUSH_FROM:
            self._flush()
        store.set_meta(SYNCED_META, self._identity)
        report = SyncReport(inserted, deleted, full)
        log.info("Milvus collection %s synced with the store: %s", self._name, report)
        return report

    def repair(self, store: DocumentStore) -> list[str]:
        """``sync`` of the units whose passage counts here differ from the store's (``stale_units``): run by
        every replica now and then (app.service.search_repair), it makes a document whose write here failed
        searchable without a restart. A write in flight on another replica may look stale for a moment:
        writing its passages here too is harmless (upserts), and a passage deleted meanwhile and written
        back is never answered with (retrieval keeps only stored passages) and goes at the next repair."""
        stale = self.stale_units(store)
        for unit in stale:
            self._sync_unit(store, unit, set(self._held(collection.in_units([unit]))), full=False)
        if stale:
            log.info("Milvus collection %s repaired: units %s", self._name, ", ".join(stale))
        return stale

    def _sync_unit(self, store: DocumentStore, unit: str, mine: set[int], full: bool) -> tuple[int, int]:
        """Writes the unit's stored passages missing here (all of them if ``full``) and deletes the ones
        here that the store no longer has (``mine``: the keys held here): (inserted, deleted)."""
        rows = store.index_rows(unit)
        stored = {int(k) for k in rows.keys}
        wanted = [i for i, k in enumerate(rows.keys) if full or int(k) not in mine]
        if wanted:
            vectors = rows.vectors.reshape(-1, self._dim)
            self._upsert(unit, rows.keys[wanted], [rows.tokens[i] for i in wanted], vectors[wanted])
        orphans = mine - stored
        self.remove(unit, np.fromiter(orphans, dtype=np.int64, count=len(orphans)))
        return len(wanted), len(orphans)


def _fingerprint(keys: set[int]) -> str:
    """``DocumentStore.unit_fingerprint`` of these keys."""
    return keys_fingerprint(len(keys), max(keys, default=0), sum(keys))


def _delete(name: str, ids: list[int], client: Any) -> None:
    client.delete(name, ids=ids, timeout=TIMEOUT_S)


def _upsert(name: str, rows: list[dict[str, Any]], client: Any) -> None:
    client.upsert(name, rows, timeout=TIMEOUT_S)
