"""The HTTP part of the benchmark: server settings compared, sizes, per-stage shares, a profile."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
import httpx

from app.bench.backends import BenchBackends
from app.bench.common import log, subprocess_json
from app.bench.load import LevelResult, ServerVariant, percentile, rss_mb, run_level, serve
from app.bench.profiling import profile_server
from app.bench.unitdata import UNIT, VECTOR_LABEL, SentenceVectors, build_unit
from app.store.sqlite_connect import connect

EMBED_SETTINGS: tuple[dict[str, str], ...] = (
    {"OMP_NUM_THREADS": "1"},
    {"OMP_NUM_THREADS": "2"},
    {"OMP_NUM_THREADS": "2", "OMP_WAIT_POLICY": "PASSIVE"},
)


def _with_shipped(chosen: list[ServerVariant], best: ServerVariant) -> list[str]:
    """The shipped setting (when compared) and the best one, once each."""
    return list(dict.fromkeys([v.name for v in chosen if v.name == "shipped"] + [best.name]))


def _near(values: list[int], target: int) -> int:
    return min(values, key=lambda v: (abs(v - target), v))


def _server_ask_ms(data_dir: Path, after_rowid: int) -> tuple[int, list[float]]:
    """The route's own timing of Assistant.ask (the activity log's latency_ms) for rows after ``after_rowid``:
    the ``asks`` table of the server's SQLite database (the benchmark serves the embedded default)."""
    path = data_dir / "troly.sqlite3"
    if not path.exists():
        return after_rowid, []
    with contextlib.closing(connect(path)) as db:
        query = "SELECT rowid, latency_ms FROM asks WHERE rowid > ? ORDER BY rowid"
        rows = db.execute(query, (after_rowid,)).fetchall()
    return (int(rows[-1][0]) if rows else after_rowid), [float(r[1]) for r in rows]


def _healthz(url: str, count: int = 50) -> dict[str, float]:
    """The HTTP floor: a trivial route, one client, keep-alive."""
    times = []
    with httpx.Client(base_url=url, timeout=30.0) as client:
        client.get("/healthz")
        for _ in range(count):
            started = time.perf_counter()
            client.get("/healthz")
            times.append((time.perf_counter() - started) * 1000.0)
    return {"p50_ms": round(percentile(times, 50), 3), "mean_ms": round(sum(times) / len(times), 3)}


def _levels(url: str, opts: dict[str, Any], questions: list[str], data_dir: Path) -> list[dict[str, Any]]:
    out = []
    offset = 0
    rowid, _ = _server_ask_ms(data_dir, 0)
    for clients in opts["clients"]:
        # A fresh slice of the distinct questions for every level.
        ordered = questions[offset:] + questions[:offset]
        offset = (offset + opts["requests"]) % len(questions)
        result: LevelResult = run_level(url, clients, ordered, opts["requests"], opts["duration"], UNIT)
        summary = result.summary()
        rowid, server = _server_ask_ms(data_dir, rowid)
        server = server[-len(result.latencies_ms) :] if result.latencies_ms else []  # warm-up rows come first
        if server:
            mean = sum(server) / len(server)
            summary["server_ask_ms"] = {"p50_ms": round(percentile(server, 50), 2), "mean_ms": round(mean, 2)}
            summary["outside_ask_mean_ms"] = round(summary["mean_ms"] - mean, 2)
        log(
            f"    {clients:>3} clients: p50 {summary['p50_ms']:.1f} ms, p95 {summary['p95_ms']:.1f} ms, "
            f"{summary['answers_per_s']:.1f}/s, {summary['errors']} errors"
        )
        out.append(summary)
    return out


def _serve_and_load(
    variant: ServerVariant,
    data_dir: Path,
    work: Path,
    opts: dict[str, Any],
    questions: list[str],
    size: int,
    backend: str = "embedded",
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``env``: the backend's settings (app.bench.backends), on top of the variant's."""
    log(f"  {size} passages, server {variant.name}, {backend} search")
    # The first server over a data directory rebuilds the indexes and saves a snapshot; later ones read it.
    from_snapshot = any(data_dir.glob("indexes/*/manifest.json")) if backend == "embedded" else None
    with serve(dataclasses.replace(variant, env={**variant.env, **(env or {})}), data_dir, work) as server:
        startup = server.startup_s
        rss_start = rss_mb(server.process.pid)
        healthz = _healthz(server.url)
        levels = _levels(server.url, opts, questions, data_dir)
        rss_end = rss_mb(server.process.pid)
    return {
        "size": size,
        "backend": backend,
        "variant": variant.name,
        "startup_s": round(startup, 2),
        "started_from_snapshot": from_snapshot,
        "rss_mb_after_start": rss_start,
        "rss_mb_after_load": rss_end,
        "healthz_1_client": healthz,
        "levels": levels,
    }


def _level(run: Mapping[str, Any], clients: int) -> Mapping[str, Any] | None:
    for level in run["levels"]:
        if level["clients"] == clients:
            return level  # type: ignore[no-any-return]
    return None


def _breakdown(stages: Mapping[str, Any], level: Mapping[str, Any]) -> dict[str, Any]:
    """Shares of one request (1 client): core stages timed in-process, HTTP from the server's own timing.

    ``http_and_framework`` is the client's mean latency minus the route's own timing of
    Assistant.ask on the same requests (the activity log's latency_ms): uvicorn, FastAPI,
    pydantic, the thread hand-off, the activity-log write and the loopback. ``unattributed``
    is the route's timing minus the sum of the stages timed in-process (noise between the
    two processes, locks, and what the stages do not cover).
    """
    s = {k: v["mean_ms"] for k, v in stages["stages"].items()}
    e2e = float(level["mean_ms"])
    parts = {
        "embed_question": s["embed"],
        "bm25": s["tokens"] + s["bm25"],
        "faiss": s["faiss"],
        "answer_extraction": s["answer"],
        "other_core": s["normalize"] + s["fusion"] + s["store"],
    }
    core = sum(parts.values())
    server = level.get("server_ask_ms", {}).get("mean_ms")
    if server is not None:
        parts["http_and_framework"] = e2e - float(server)
        parts["unattributed"] = float(server) - core
    else:
        parts["http_and_framework"] = e2e - core - s["activity"]
        parts["unattributed"] = 0.0
    return {
        "e2e_mean_ms": round(e2e, 2),
        "server_ask_mean_ms": server,
        "ms": {k: round(v, 3) for k, v in parts.items()},
        "share": {k: round(v / e2e, 4) for k, v in parts.items()},
    }


def _embedder_threads(opts: dict[str, Any], work: Path, questions_file: Path) -> list[dict[str, Any]]:
    """The embedder's own cost per OpenMP setting (one question at a time), each in its own process."""
    out = []
    for n, env in enumerate(EMBED_SETTINGS):
        measured = subprocess_json(
            [
                "-m",
                "app.bench.stages",
                "embed",
                "--questions",
                str(questions_file),
                "--repeat",
                str(opts["stage_repeat"]),
                "--seconds",
                str(opts["duration"]),
            ],
            work / f"embed-{n}.json",
            env,
        )
        measured["env"] = " ".join(f"{k}={v}" for k, v in env.items())
        out.append(measured)
        log(f"  embedder alone, {measured['env']}: p50 {measured['embed_query']['p50_ms']} ms")
    return out


def _milvus_run(
    variant: ServerVariant,
    size: int,
    data_dir: Path,
    store_url: str,
    work: Path,
    opts: dict[str, Any],
    questions: list[str],
    backends: BenchBackends,
    dim: int,
    embedder_name: str,
) -> dict[str, Any]:
    """One size on Milvus: a new collection filled from the unit's store (timed: what a service's first
    start over an empty collection does), then the service over it, started and loaded as the embedded one."""
    with backends.milvus_server(work / f"milvus-{size}") as target:
        collection = backends.collection(f"unit_{size}")
        try:
            fill = backends.fill(store_url, target, collection, dim, embedder_name)
            env = backends.server_env("milvus", store_url, target, collection)
            run = _serve_and_load(variant, data_dir, work, opts, questions, size, "milvus", env)
            run["fill"] = fill
            run["milvus_rss_mb_after_load"] = rss_mb(target.pid) if target.pid else None
        finally:
            backends.drop_collection(target, collection)
    return run


def run_http(
    opts: dict[str, Any],
    sentences: SentenceVectors,
    embedder_name: str,
    work: Path,
    questions_file: Path,
    variants_file: Path,
    variants: Mapping[str, ServerVariant],
    out: Path,
    backends: BenchBackends,
) -> dict[str, Any]:
    # Long on purpose: the report's HTTP part in the order it is read (sweep, best variant, sizes, the
    # other backend, stages, profile); the steps share the units built once per size and the chosen variant.
    questions: list[str] = json.loads(variants_file.read_text(encoding="utf-8"))
    sizes: list[int] = opts["sizes"]
    chosen = [variants[v] for v in opts["variants"]]
    result: dict[str, Any] = {
        "vectors": VECTOR_LABEL,
        "texts": "real: passages of the seed reports' sentences (one sentence swapped in, some reordered), "
        "tokens from the production tokenizer",
        "questions": f"{len(questions)} distinct strings (32 questions x polite prefixes/suffixes), never repeated "
        "within a level",
        "variants": {v.name: {"description": v.description, "env": v.env, "threadpool": v.threadpool} for v in chosen},
        "units": [],
        "runs": [],
        "stages": [],
        "breakdown": [],
    }

    built_units: dict[int, tuple[Path, str]] = {}  # size -> data directory, store URL

    def unit(size: int) -> tuple[Path, str]:
        if size not in built_units:
            log(f"  building a unit of {size} passages")
            data_dir = work / f"unit-{size}"
            label = f"unit_{size}"
            store_url = backends.databases.url(data_dir, label)
            built = build_unit(
                data_dir,
                sentences,
                size,
                embedder_name,
                database_url=store_url if backends.databases.postgres else None,
            )
            result["units"].append(
                {
                    "size": size,
                    "passages": built.passages,
                    "documents": built.documents,
                    "build_s": round(built.seconds, 1),
                    "database_bytes": backends.databases.disk_bytes(label),
                }
            )
            built_units[size] = (built.data_dir, store_url)
        return built_units[size]

    def embedded_env(size: int) -> dict[str, str]:
        return backends.server_env("embedded", unit(size)[1], None, "")

    result["embedder_threads"] = _embedder_threads(opts, work, questions_file)

    best = chosen[0]
    # In-process stages and the profile read the embedded indexes over the data directory's SQLite.
    in_process = backends.embedded and not backends.databases.postgres
    if "http" in opts["parts"]:
        eight = _near(opts["clients"], 8)
        if backends.embedded:
            # -- every server setting at the sweep size; the best one at 8 clients goes on to the other sizes --
            sweep = 10_000 if 10_000 in sizes else _near(sizes, 10_000)
            result["sweep_size"] = sweep
            for variant in chosen:
                data_dir = unit(sweep)[0]
                result["runs"].append(
                    _serve_and_load(variant, data_dir, work, opts, questions, sweep, env=embedded_env(sweep))
                )
            clean = [r for r in result["runs"] if all(level["errors"] == 0 for level in r["levels"])]
            if clean:
                fastest = min(clean, key=lambda r: (_level(r, eight) or {"p50_ms": 1e9})["p50_ms"])
                best = variants[fastest["variant"]]
            log(f"  best server setting at {eight} clients: {best.name}")
            for size in sizes:
                if size == sweep:
                    continue
                for name in _with_shipped(chosen, best):
                    variant = variants[name]
                    data_dir = unit(size)[0]
                    result["runs"].append(
                        _serve_and_load(variant, data_dir, work, opts, questions, size, env=embedded_env(size))
                    )
        result["best_variant"] = best.name

        # -- per-stage timings with the best setting's threads, and each stage's share of a request --
        for size in sizes if in_process else ():
            log(f"  stages at {size} passages ({best.name} threads)")
            stages = subprocess_json(
                [
                    "-m",
                    "app.bench.stages",
                    "stages",
                    "--data-dir",
                    str(unit(size)[0]),
                    "--questions",
                    str(questions_file),
                    "--repeat",
                    str(opts["stage_repeat"]),
                    "--ann",
                ],
                work / f"stages-{size}.json",
                best.env,
            )
            stages["size"] = size
            result["stages"].append(stages)
            run = next(
                (
                    r
                    for r in result["runs"]
                    if r["size"] == size and r["variant"] == best.name and r["backend"] == "embedded"
                ),
                None,
            )
            one = _level(run, 1) if run else None
            if one is not None:
                result["breakdown"].append({"size": size, "variant": best.name, **_breakdown(stages, one)})

    if "profile" in opts["parts"] and in_process:
        size = 10_000 if 10_000 in sizes else _near(sizes, 10_000)
        profiles = []
        for name in _with_shipped(chosen, best):
            variant = variants[name]
            log(f"  profiling {variant.name} at {size} passages")
            profiles.append(
                profile_server(
                    *(variant, unit(size)[0], work, questions, size, questions_file),
                    *(_near(opts["clients"], 8), opts["profile_seconds"]),
                )
            )
        result["profiles"] = [{k: v for k, v in p.items() if k != "text"} for p in profiles]
        text = "\n\n".join(p.get("text") or p.get("note", "") for p in profiles)
        (out / "profile.txt").write_text(text, encoding="utf-8")
        click.echo(f"wrote {out / 'profile.txt'}", err=True)

    # -- the same sizes on Milvus, with the embedded backend's best setting; last, so that a size Milvus
    # cannot take (or a Ctrl-C while it is measured) leaves every other figure in the report --
    for size in sizes if backends.milvus and "http" in opts["parts"] else ():
        data_dir, store_url = unit(size)
        try:
            result["runs"].append(
                _milvus_run(
                    best, size, data_dir, store_url, work, opts, questions, backends, sentences.dim, embedder_name
                )
            )
        except Exception as exc:  # any failure of this size is a finding: reported, not raised
            log(f"  Milvus at {size} passages failed: {exc}")
            result.setdefault("failed", []).append({"size": size, "backend": "milvus", "error": str(exc)[-2000:]})
        except KeyboardInterrupt:
            log(f"  interrupted at {size} passages on Milvus: the report keeps what finished")
            result.setdefault("failed", []).append({"size": size, "backend": "milvus", "error": "interrupted"})
            result["interrupted"] = True
            break
    result["runs"].sort(key=lambda r: (r["size"], r["backend"], r["variant"]))
    return result
