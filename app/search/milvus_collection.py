"""The Milvus collection troly searches: its schema, the analyzer check, and how tokens become its text.

One collection holds every unit's passages, with the unit as its partition key (docs/deploy.md,
*Search backends*): about 34 units of a few thousand passages each are far below what one
collection holds, a question over every unit is one search instead of 34 merged by hand, a new
unit needs no collection (and no index build, seconds on a real server) while the service runs,
and the unit filter still prunes the search to the unit's partition.

Fields: ``key`` (the store's passage key), ``unit``, ``text`` (troly's index tokens, spaces between
them), ``sparse`` (filled by Milvus's BM25 function from ``text``) and ``dense`` (the passage's
normalised vector). pymilvus is imported only here and in ``app.search.milvus``, inside functions:
the embedded backend never loads it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from app.domain import SLUG_MAX_CHARS
from app.errors import EmbedderMismatch, SearchMisconfigured

log = logging.getLogger(__name__)

# pyvi joins a word's syllables with "_": the analyzer must keep "thông_tin" one token, or BM25
# would score syllables where troly's own BM25 scores words. "whitespace" is what real Milvus offers
# for text that is already tokenised; milvus-lite refuses it but its "standard" keeps "\w+" runs,
# "_" included. Real Milvus's "standard" splits on "_": the probe below refuses to start with it.
WHITESPACE = {"tokenizer": "whitespace", "filter": ["lowercase"]}
STANDARD = {"tokenizer": "standard", "filter": ["lowercase"]}
ANALYZERS = (WHITESPACE, STANDARD)
# bm25s's defaults, so that Milvus ranks by the same formula as the embedded backend.
BM25_K1 = 1.5
BM25_B = 0.75
HNSW = {"M": 16, "efConstruction": 200}
TEXT_MAX_BYTES = 65_535  # Milvus's longest VARCHAR
# The collection's properties (milvus-lite keeps no description): which embedder's vectors it holds, and
# an id of its own, which the store records once it has filled it (``MilvusSearch.sync``).
IDENTITY = "troly.identity"
EMBEDDER = "troly.embedder"
_NOT_WORD = re.compile(r"\W")


def term(token: str) -> str:
    """A token as one analyzer token: every character that is not a word character (``\\w``: a letter,
    a digit or "_") becomes "_<hex code>_", so that "1.500" or "tt&tt" stay whole under both analyzers
    (the standard one splits at them) and cannot be taken for another token."""
    return _NOT_WORD.sub(lambda m: f"_{ord(m.group()):x}_", token)


def text_of(tokens: Sequence[str]) -> str:
    """The ``text`` field of a passage: its terms, spaces between. Cut at a term boundary below Milvus's
    longest VARCHAR, which only a passage far longer than TROLY_PASSAGE_MAX_CHARS allows could reach."""
    text = " ".join(term(t) for t in tokens)
    if len(text.encode("utf-8")) <= TEXT_MAX_BYTES:
        return text
    cut = text.encode("utf-8")[:TEXT_MAX_BYTES].decode("utf-8", errors="ignore")
    return cut.rsplit(" ", 1)[0]


def in_units(units: list[str]) -> str:
    """A filter on the unit: unit ids are slugs, quoted as JSON strings all the same."""
    return f"unit in {json.dumps(units, ensure_ascii=False)}"


def create(client: Any, name: str, dim: int, embedder: str, timeout: float) -> None:
    """Creates the collection with the first analyzer the server accepts and that keeps compounds whole."""
    from pymilvus import DataType, Function, FunctionType, MilvusClient

    analyzer = _checked_analyzer(client, name, timeout)
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("key", DataType.INT64, is_primary=True)
    schema.add_field("unit", DataType.VARCHAR, max_length=SLUG_MAX_CHARS, is_partition_key=True)
    schema.add_field(
        "text",
        DataType.VARCHAR,
        max_length=TEXT_MAX_BYTES,
        enable_analyzer=True,
        enable_match=True,  # text_match(): the exact document frequencies idf() counts
        analyzer_params=analyzer,
    )
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_function(
        Function(
            name="text_bm25", function_type=FunctionType.BM25, input_field_names=["text"], output_field_names=["sparse"]
        )
    )
    index = client.prepare_index_params()
    # COSINE on normalised vectors: the scores are the cosines the embedded backend gives (the readers' feature).
    index.add_index("dense", index_type="HNSW", metric_type="COSINE", params=HNSW)
    index.add_index(
        "sparse",
        index_type="SPARSE_INVERTED_INDEX",
        metric_type="BM25",
        params={"bm25_k1": BM25_K1, "bm25_b": BM25_B},
    )
    index.add_index("unit", index_type="INVERTED")
    # Strong: a write through one replica is seen by the next search of any other.
    client.create_collection(
        name,
        schema=schema,
        index_params=index,
        consistency_level="Strong",
        properties={IDENTITY: uuid.uuid4().hex, EMBEDDER: embedder},
        timeout=timeout,
    )
    log.info("Milvus collection %s created (analyzer %s, %d dimensions)", name, analyzer["tokenizer"], dim)


def _checked_analyzer(client: Any, name: str, timeout: float) -> dict[str, Any]:
    """The first analyzer of ``ANALYZERS`` the server accepts, checked on the server itself (milvus-lite
    cannot run ``run_analyzer``): in a throwaway collection, a BM25 search for "thông_tin" must find the
    passage holding it and not the one holding only "thông", and "thông" the other way round."""
    from pymilvus import MilvusException

    probe = f"{name}_analyzer_probe"
    refused: list[str] = []
    for analyzer in ANALYZERS:
        if client.has_collection(probe, timeout=timeout):
            client.drop_collection(probe, timeout=timeout)
        try:
            with _refusal_expected():
                _create_probe(client, probe, analyzer, timeout)
        except MilvusException as exc:
            refused.append(f"{analyzer['tokenizer']}: {exc.message}")
            continue
        try:
            client.insert(probe, [{"key": 1, "text": "thông"}, {"key": 2, "text": term("thông_tin")}], timeout=timeout)
            whole = _bm25_keys(client, probe, "thông_tin", timeout) == [2] and _bm25_keys(
                client, probe, "thông", timeout
            ) == [1]
        finally:
            client.drop_collection(probe, timeout=timeout)
        if not whole:
            raise SearchMisconfigured(
                f"Milvus's {analyzer['tokenizer']!r} analyzer splits pyvi's compound words ('thông_tin' into "
                "'thông' and 'tin'): BM25 would score syllables, not words. Use a Milvus that offers the "
                "'whitespace' tokenizer (Milvus 2.5 or later)"
            )
        return analyzer
    raise SearchMisconfigured(f"Milvus accepts no analyzer troly can use ({'; '.join(refused)})")


@contextlib.contextmanager
def _refusal_expected() -> Iterator[None]:
    """pymilvus logs every refused call as an ERROR with its traceback; a probe of an analyzer the server
    may not offer (milvus-lite has no "whitespace") is refused by design, at start only, so that line is
    left out. The refusal still reaches the caller as an exception."""
    rpc_log = logging.getLogger("pymilvus.decorators")
    level = rpc_log.level
    rpc_log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        rpc_log.setLevel(level)


def _create_probe(client: Any, probe: str, analyzer: dict[str, Any], timeout: float) -> None:
    from pymilvus import DataType, Function, FunctionType, MilvusClient

    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("key", DataType.INT64, is_primary=True)
    schema.add_field("text", DataType.VARCHAR, max_length=256, enable_analyzer=True, analyzer_params=analyzer)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(
        Function(
            name="bm25", function_type=FunctionType.BM25, input_field_names=["text"], output_field_names=["sparse"]
        )
    )
    index = client.prepare_index_params()
    index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    client.create_collection(probe, schema=schema, index_params=index, consistency_level="Strong", timeout=timeout)


def _bm25_keys(client: Any, collection: str, text: str, timeout: float) -> list[int]:
    hits = client.search(
        collection,
        data=[term(text)],
        anns_field="sparse",
        limit=10,
        search_params={"metric_type": "BM25"},
        timeout=timeout,
    )
    return sorted(int(h["key"]) for h in hits[0])


def verify(description: dict[str, Any], name: str, dim: int, embedder: str) -> str:
    """The collection's identity, once it is checked to be troly's, for this embedder; else a clear refusal."""
    fields = {f["name"]: f for f in description.get("fields", [])}
    properties = description.get("properties") or {}
    identity, held = properties.get(IDENTITY), properties.get(EMBEDDER)
    if not identity or held is None or set(fields) != {"key", "unit", "text", "sparse", "dense"}:
        raise SearchMisconfigured(
            f"the Milvus collection {name!r} is not troly's (fields {sorted(fields)}): "
            "name another with TROLY_MILVUS_COLLECTION"
        )
    held_dim = int(fields["dense"].get("params", {}).get("dim", 0))
    if held != embedder or held_dim != dim:
        raise EmbedderMismatch(
            f"the Milvus collection {name!r} holds vectors of {held!r} ({held_dim} dimensions), but "
            f"the configured embedder is {embedder!r} ({dim}): name another collection with TROLY_MILVUS_COLLECTION"
        )
    analyzer = fields["text"].get("params", {}).get("analyzer_params")
    if isinstance(analyzer, str):
        analyzer = json.loads(analyzer)
    if analyzer not in ANALYZERS:
        raise SearchMisconfigured(f"the Milvus collection {name!r} analyzes its text with {analyzer}, not troly's")
    return str(identity)
