"""The sections of bench.md as typed dataclasses, read from bench.json's dictionaries.

Everything that reads the JSON's keys is here, once; templates/bench.md only lays the fields out.
Table cells are formatted when the table is built (``fmt``), prose figures keep their type and the
template formats them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# bench.json as parsed: nested dictionaries of whatever the measurements wrote.
Json = Mapping[str, Any]


def fmt(value: object) -> str:
    """A figure as bench.md shows it: thousands separated, small floats to 3 decimals, none as a dash."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    @classmethod
    def of(cls, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Table:
        return cls(tuple(header), tuple(tuple(fmt(cell) for cell in row) for row in rows))


@dataclass(frozen=True)
class Header:
    mode: str
    started_at: str
    finished_at: str
    duration: str
    embedder: str
    machine: str
    python: str
    load_at_start: str
    load_at_end: str
    part_loads: str
    part_seconds: str
    git: str

    @classmethod
    def of(cls, results: Json) -> Header:
        m = results["machine"]
        git = m.get("git", {})
        loads = (results.get("part_load_average") or {}).items()
        return cls(
            mode=str(results["options"]["mode"]),
            started_at=str(results["started_at"]),
            finished_at=str(results.get("finished_at")),
            duration=fmt(results.get("duration_s")),
            embedder=str(results.get("embedder")),
            machine=f"{m['cpu_model']} ({', '.join(m.get('simd', []))}), {m['cores']} cores, {m['ram_gb']} GB RAM, "
            f"{m['os']}",
            python=f"{m['python']}; " + ", ".join(f"{k} {v}" for k, v in m.get("packages", {}).items() if v),
            load_at_start=str(m.get("load_average_at_start")),
            load_at_end=str(m.get("load_average_at_end")),
            part_loads=", ".join(f"{k} {v['mean']} / {v['max']}" for k, v in loads if v),
            part_seconds=", ".join(f"{k} {v}" for k, v in (results.get("part_seconds") or {}).items()),
            git=f"{git.get('commit', '?')[:12]}{' (dirty)' if git.get('dirty') else ''}",
        )


_MET = {True: "met", False: "**missed**", None: "–"}


def targets_table(verdicts: Sequence[Json]) -> Table:
    return Table.of(
        ["target", "measured", "goal", "met", "note"],
        [[v["target"], v["measured"], v["goal"], _MET[v["met"]], v["note"]] for v in verdicts],
    )


@dataclass(frozen=True)
class Ingestion:
    documents: int
    passages: int
    characters: int
    embed_batch_size: int
    raw_embedder_runs_s: str
    times: Table
    pipeline_over_embedder: float
    overhead_share: float

    @classmethod
    def of(cls, ing: Json) -> Ingestion:
        times = Table.of(
            ["", "seconds", "passages/s"],
            [
                ["raw embedder (mean of 2 runs)", ing["raw_embedder_s"], ing["raw_passages_per_s"]],
                ["Assistant.add_documents", ing["pipeline_s"], ing["pipeline_passages_per_s"]],
                ["of which prepare() alone (normalise, segment, pyvi tokens), timed apart", ing["prepare_s"], None],
            ],
        )
        return cls(
            documents=ing["documents"],
            passages=ing["passages"],
            characters=ing["characters"],
            embed_batch_size=ing["embed_batch_size"],
            raw_embedder_runs_s=str(ing["raw_embedder_runs_s"]),
            times=times,
            pipeline_over_embedder=ing["pipeline_over_embedder"],
            overhead_share=ing["overhead_share"],
        )


_RUN_COLUMNS = (
    "passages",
    "search",
    "server",
    "clients",
    "requests",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "answers/s",
    "errors",
    "abstained",
    "start-up s",
    "from snapshot",
    "RSS MB",
)
_BREAKDOWN = (
    "embed_question",
    "bm25",
    "faiss",
    "answer_extraction",
    "other_core",
    "http_and_framework",
    "unattributed",
)
_STAGES = (
    "normalize",
    "tokens",
    "embed",
    "faiss",
    "faiss_ann",
    "bm25",
    "fusion",
    "store",
    "answer",
    "activity",
    "core_total",
    "assistant_ask",
)


def backend_of(run: Json) -> str:
    """The run's search backend (reports from before backends were compared have only the embedded one)."""
    return str(run.get("backend", "embedded"))


def _pair(value: Json | None) -> str:
    return "–" if value is None else f"{value['p50_ms']} / {value['p95_ms']}"


def _embedder_threads(http: Json) -> Table | None:
    if not http.get("embedder_threads"):
        return None
    return Table.of(
        ["OpenMP setting", "p50 ms", "p95 ms", "mean ms", "in a batch of 8: ms/question", "batch ms/passage"],
        [
            [
                e.get("env", e["omp_num_threads"]),
                e["embed_query"]["p50_ms"],
                e["embed_query"]["p95_ms"],
                e["embed_query"]["mean_ms"],
                (e.get("embed_8_questions_ms_per_question") or {}).get("p50_ms"),
                e["embed_passages_ms_per_passage"],
            ]
            for e in http["embedder_threads"]
        ],
    )


def _runs(http: Json) -> Table | None:
    if not http.get("runs"):
        return None
    rows = [
        [
            *(r["size"], backend_of(r), r["variant"], lv["clients"], lv["requests"]),
            *(lv["p50_ms"], lv["p95_ms"], lv["p99_ms"], lv["answers_per_s"], lv["errors"], lv["abstained_share"]),
            r["startup_s"],
            {True: "yes", False: "no"}.get(r.get("started_from_snapshot"), "–"),
            r["rss_mb_after_load"],
        ]
        for r in http["runs"]
        for lv in r["levels"]
    ]
    return Table.of(_RUN_COLUMNS, rows)


def _breakdown(http: Json) -> Table | None:
    if not http.get("breakdown"):
        return None
    return Table.of(
        ["passages", "server", "e2e mean ms", *_BREAKDOWN],
        [
            [
                b["size"],
                b["variant"],
                b["e2e_mean_ms"],
                *[f"{b['ms'][k]:.2f} ms ({b['share'][k]:.0%})" for k in _BREAKDOWN],
            ]
            for b in http["breakdown"]
        ],
    )


@dataclass(frozen=True)
class Stages:
    """The core's stages timed in-process, FAISS at 1 and 2 threads, and the start-up piece by piece."""

    p50: Table
    faiss_threads: Table
    startup: Table

    @classmethod
    def of(cls, stages: Sequence[Json]) -> Stages:
        columns = list(dict.fromkeys(k for s in stages for k in s["faiss_threads"]))
        pieces = list(dict.fromkeys(k for s in stages for k in s["startup_ms"]))
        return cls(
            p50=Table.of(
                ["passages", "dense index", *_STAGES],
                [
                    [
                        s["size"],
                        s.get("served_index", "exact"),
                        *[s["stages"].get(n, {}).get("p50_ms") for n in _STAGES],
                    ]
                    for s in stages
                ],
            ),
            faiss_threads=Table.of(
                ["passages", *columns],
                [[s["size"], *[_pair(s["faiss_threads"].get(c)) for c in columns]] for s in stages],
            ),
            startup=Table.of(
                ["passages", *pieces], [[s["size"], *[s["startup_ms"].get(k) for k in pieces]] for s in stages]
            ),
        )


@dataclass(frozen=True)
class Http:
    texts: str
    vectors: str
    questions: str
    variants: str
    best_variant: str
    embedder_threads: Table | None
    runs: Table | None
    breakdown: Table | None
    stages: Stages | None

    @classmethod
    def of(cls, http: Json) -> Http:
        return cls(
            texts=str(http["texts"]),
            vectors=str(http["vectors"]),
            questions=str(http["questions"]),
            variants="; ".join(f"`{k}` = {v['description']}" for k, v in http["variants"].items()),
            best_variant=str(http.get("best_variant")),
            embedder_threads=_embedder_threads(http),
            runs=_runs(http),
            breakdown=_breakdown(http),
            stages=Stages.of(http["stages"]) if http.get("stages") else None,
        )


_SCALE_COLUMNS = (
    "passages",
    "factory",
    "exact p50 ms",
    "exact MB",
    "ANN",
    "nprobe",
    "recall@10 questions",
    "recall@10 held-out",
    "ANN p50 ms",
    "ANN bytes/passage",
    "ANN resident B/passage",
    "file MB",
    "train s",
    "add s",
    "load s",
    "remove",
)


def _scale_row(r: Json) -> list[object]:
    ann, removed = r["ann"], r["ann"]["remove"]
    return [
        *(r["passages"], r["factory_choice"], r["exact"]["latency"]["p50_ms"], r["exact"]["index_mb"]),
        *(ann["kind"], ann["nprobe"], ann["recall_at_10"]["questions"], ann["recall_at_10"]["held_out"]),
        *(ann["latency"]["p50_ms"], ann["bytes_per_passage"], ann["rss_bytes_per_passage"], ann["file_mb"]),
        *(ann["train_s"], ann["add_s"], ann["startup_load_s"]),
        f"{removed['ids']} ids in {removed['seconds'] * 1000:.1f} ms, {removed['leaked_in_results']} leaked",
    ]


@dataclass(frozen=True)
class Scale:
    vectors: str
    sizes: Table
    recall: Table  # recall@10 of every size against nprobe

    @classmethod
    def of(cls, scale: Sequence[Json]) -> Scale:
        probes = sorted({c["nprobe"] for r in scale for c in r["ann"]["recall_curve"]})
        recall = [
            [
                r["passages"],
                r["ann"]["nlist"],
                *[next((c["all"] for c in r["ann"]["recall_curve"] if c["nprobe"] == p), None) for p in probes],
            ]
            for r in scale
        ]
        return cls(
            vectors=str(scale[0]["vectors"]),
            sizes=Table.of(_SCALE_COLUMNS, [_scale_row(r) for r in scale]),
            recall=Table.of(["passages", "nlist", *[f"nprobe {p}" for p in probes]], recall),
        )


@dataclass(frozen=True)
class Profile:
    """One profiler's top inclusive shares; ``shares`` is None when it could not run (``note`` says why)."""

    tool: str
    note: str
    variant: str
    size: str
    clients: str
    samples: str
    shares: Table | None

    @classmethod
    def of(cls, p: Json) -> Profile:
        if "inclusive" not in p:
            return cls(str(p.get("tool")), str(p.get("note")), "", "", "", "", None)
        shares = Table.of(
            ["inclusive", "function"], [[f"{x['share']:.1%}", f"`{x['function']}`"] for x in p["inclusive"][:15]]
        )
        return cls(p["tool"], "", p["variant"], str(p["size"]), str(p["clients"]), str(p["samples"]), shares)


@dataclass(frozen=True)
class BenchReport:
    header: Header
    targets: Table
    ingestion: Ingestion | None
    http: Http | None
    scale: Scale | None
    profiles: tuple[Profile, ...]

    @classmethod
    def of(cls, results: Json) -> BenchReport:
        http = results.get("http")
        return cls(
            header=Header.of(results),
            targets=targets_table(results.get("verdicts", [])),
            ingestion=Ingestion.of(results["ingestion"]) if results.get("ingestion") else None,
            http=Http.of(http) if http else None,
            scale=Scale.of(results["scale"]) if results.get("scale") else None,
            profiles=tuple(Profile.of(p) for p in http.get("profiles") or ()) if http else (),
        )
