"""Ingestion throughput: the whole pipeline against the raw embedder on the same passages.

Both run in this process with the same embedder object and batch size. The raw embedder
runs before and after the pipeline and the two times are averaged, so that a machine
getting busier or quieter during the run does not favour either side.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from app.answer.model import AnswerModel
from app.assistant import Assistant
from app.bench.corpus import SeedText, documents
from app.bench.unitdata import UNIT, UNIT_NAME
from app.embedding.base import Embedder
from app.ingest.pipeline import prepare
from app.settings import Settings
from app.store import SqlDocumentStore


def measure(
    embedder: Embedder,
    seed: SeedText,
    passages: int,
    per_document: int = 8,
    backend: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``backend``: ``Settings`` fields naming the search backend and the database (app.bench.backends);
    none: the embedded backend over the scratch folder's SQLite."""
    docs = documents(seed, passages, per_document=per_document, seed_value=7)
    with tempfile.TemporaryDirectory(prefix="troly-bench-ingest-") as scratch:
        # The scratch folder's own SQLite unless the bench names a database: whatever TROLY_DATABASE_URL
        # says, the bench never writes elsewhere.
        chosen: dict[str, Any] = {"database_url": None, **(backend or {})}
        settings = Settings(_env_file=None, data_dir=Path(scratch), **chosen)  # type: ignore[call-arg]
        started = time.perf_counter()
        prepared = [prepare(UNIT, d, settings.passage_max_chars, settings.passage_min_chars) for d in docs]
        prepare_s = time.perf_counter() - started
        texts = [t for p in prepared for t in p.embed_texts]
        batch = settings.embed_batch_size

        def raw() -> float:
            started = time.perf_counter()
            for i in range(0, len(texts), batch):
                embedder.embed_passages(texts[i : i + batch])
            return time.perf_counter() - started

        embedder.embed_passages(texts[:batch])  # warm-up: first-call costs belong to neither side
        raw_before = raw()
        store = SqlDocumentStore.open(settings.db_url)
        assistant = Assistant(store, embedder, AnswerModel.load(), settings)
        assistant.create_unit(UNIT, UNIT_NAME)
        started = time.perf_counter()
        results = assistant.add_documents(UNIT, docs)
        pipeline_s = time.perf_counter() - started
        raw_after = raw()
        assistant.close()  # its search backend's connection (Milvus)
        store.close()
    stored = sum(r.document.passages for r in results if r.created)
    if stored != len(texts):
        raise RuntimeError(f"the pipeline stored {stored} passages, the raw run embedded {len(texts)}")
    raw_s = (raw_before + raw_after) / 2
    return {
        "backend": settings.search_backend,
        "documents": len(docs),
        "passages": stored,
        "characters": sum(len(t) for t in texts),
        "embed_batch_size": batch,
        "raw_embedder_s": round(raw_s, 3),
        "raw_embedder_runs_s": [round(raw_before, 3), round(raw_after, 3)],
        "pipeline_s": round(pipeline_s, 3),
        "prepare_s": round(prepare_s, 3),
        "raw_passages_per_s": round(stored / raw_s, 2),
        "pipeline_passages_per_s": round(stored / pipeline_s, 2),
        "pipeline_over_embedder": round(pipeline_s / raw_s, 4),
        "overhead_share": round(pipeline_s / raw_s - 1.0, 4),
        "target_max_overhead": 0.10,
    }
