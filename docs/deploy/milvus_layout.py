"""One Milvus collection for every unit (the unit as partition key) or one collection per unit?

Measures both layouts on a milvus-lite server of its own, with 34 units (the ministry's) of
synthetic passages (random normalised 384-d vectors, texts drawn from a pyvi-like vocabulary),
through troly's own collection code (app/search/milvus_collection.py): the time to create each
layout, to fill it, the latency of a question to one unit and to every unit (dense + BM25), and
the server's memory. docs/deploy.md, *Search backends*, quotes its output.

    python docs/deploy/milvus_layout.py [--units 34] [--passages 300] [--questions 30]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from pymilvus import MilvusClient

from app.search import milvus_collection
from app.search.milvus import MIN_EF

DIM = 384


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def rows_of(unit: str, start: int, n: int, rng: np.random.Generator, words: list[str]) -> list[dict[str, object]]:
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    pick = random.Random(start)
    return [
        {"key": start + i, "unit": unit, "text": " ".join(pick.choices(words, k=60)), "dense": vectors[i].tolist()}
        for i in range(n)
    ]


def search(
    client: MilvusClient, name: str, vector: list[float], text: str, where: str, laps: dict[str, list[float]]
) -> None:
    """troly's two searches for a question (app/search/milvus.py), each timed into ``laps``."""
    t = time.perf_counter()
    dense = {"metric_type": "COSINE", "params": {"ef": MIN_EF}}
    client.search(name, data=[vector], anns_field="dense", filter=where, limit=50, search_params=dense)
    laps["dense"].append(time.perf_counter() - t)
    t = time.perf_counter()
    client.search(name, data=[text], anns_field="sparse", filter=where, limit=50, search_params={"metric_type": "BM25"})
    laps["bm25"].append(time.perf_counter() - t)


def ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 1),
    }


@contextmanager
def milvus_lite() -> Iterator[tuple[MilvusClient, int]]:
    """A fresh server for each layout, so that each one's memory is its own."""
    folder = Path(tempfile.mkdtemp(prefix="troly-layout-"))
    port = free_port()
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "milvus_lite", "server"),
            *("--host", "127.0.0.1", "--port", str(port), "--data-dir", str(folder / "data")),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        client = MilvusClient(uri=f"http://127.0.0.1:{port}", dedicated=True)
        try:
            yield client, server.pid
        finally:
            client.close()
    finally:
        os.kill(server.pid, signal.SIGINT)
        server.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=34)
    parser.add_argument("--passages", type=int, default=300, help="per unit")
    parser.add_argument("--questions", type=int, default=30)
    parser.add_argument("--flush", action="store_true", help="seal the inserted rows before asking (indexed segments)")
    args = parser.parse_args()
    words = [f"từ_{i}" if i % 3 else f"w{i}" for i in range(5000)]
    units = [f"don-vi-{u:02d}" for u in range(args.units)]
    out: dict[str, object] = {"units": args.units, "passages_per_unit": args.passages, "flushed": args.flush}
    layouts = {
        "one collection, unit as partition key": dict.fromkeys(units, "layout_one"),
        "one collection per unit": {u: f"layout_unit_{i}" for i, u in enumerate(units)},
    }
    checked = milvus_collection._checked_analyzer
    for layout, names in layouts.items():
        with milvus_lite() as (client, pid):
            rng = np.random.default_rng(0)
            # The analyzer probe runs once per collection created: timed alone, then left out of both layouts.
            t = time.perf_counter()
            analyzer = checked(client, "probe_timing", 10.0)
            out["analyzer_probe_s"] = round(time.perf_counter() - t, 2)
            milvus_collection._checked_analyzer = lambda *a, found=analyzer: found  # type: ignore[assignment]
            idle = rss_mb(pid)
            t = time.perf_counter()
            for name in sorted(set(names.values())):
                milvus_collection.create(client, name, DIM, "synthetic", 60.0)
            created = time.perf_counter() - t
            t = time.perf_counter()
            for i, unit in enumerate(units):
                rows = rows_of(unit, i * args.passages, args.passages, rng, words)
                for start in range(0, len(rows), 500):
                    client.insert(names[unit], rows[start : start + 500])
            if args.flush:
                for name in sorted(set(names.values())):
                    client.flush(name)
            filled = time.perf_counter() - t
            probes = [rows_of("q", 10**8 + q, 1, rng, words)[0] for q in range(args.questions)]
            one: dict[str, list[float]] = {"dense": [], "bm25": []}
            every: dict[str, list[float]] = {"dense": [], "bm25": []}
            for q, probe in enumerate(probes):
                unit = units[q % len(units)]
                vector, text = probe["dense"], str(probe["text"])
                search(client, names[unit], vector, text, milvus_collection.in_units([unit]), one)  # type: ignore[arg-type]
                if len(set(names.values())) == 1:
                    search(client, names[unit], vector, text, milvus_collection.in_units(units), every)  # type: ignore[arg-type]
                else:  # one search per unit's collection, for the caller to merge: summed per question
                    laps: dict[str, list[float]] = {"dense": [], "bm25": []}
                    for u in units:
                        search(client, names[u], vector, text, milvus_collection.in_units([u]), laps)  # type: ignore[arg-type]
                    for kind in every:
                        every[kind].append(sum(laps[kind]))
            collections = len(set(names.values()))
            out[layout] = {
                "collections": collections,
                "create_s": round(created, 2),
                "create_s_per_new_unit": round(created / args.units, 2) if collections > 1 else 0.0,
                "fill_s": round(filled, 2),
                "question_to_one_unit": {kind: ms(samples) for kind, samples in one.items()},
                "question_to_every_unit": {kind: ms(samples) for kind, samples in every.items()},
                "server_rss_mb_idle": round(idle),
                "server_rss_mb_filled": round(rss_mb(pid)),
            }
    print(json.dumps(out, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
