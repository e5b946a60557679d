"""bench.md's section comparing the search backends (``troly bench --backend embedded,milvus``), read from
bench.json: ingestion, latency per size and client level, start-up and memory, side by side."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.bench.report_sections import Json, Table, backend_of


def _mb(value: object) -> float | None:
    return round(float(value) / 2**20, 1) if isinstance(value, int | float) else None


@dataclass(frozen=True)
class Backends:
    """The search backends side by side: ingestion, latency per size and client level (the best server
    setting, which both backends ran with), start-up and memory; what was not run for which, and why."""

    compared: str
    database: str
    milvus: str | None
    not_run: tuple[str, ...]
    failed: tuple[str, ...]  # sizes a backend could not be measured at, with why
    ingestion: Table | None
    latency: Table | None
    startup: Table | None

    @classmethod
    def of(cls, results: Json) -> Backends | None:
        about = results.get("backends")
        if not about or (about["compared"] == ["embedded"] and about["database_kind"] == "sqlite"):
            return None  # the embedded default alone: sections 1 to 4 are the whole report
        names: list[str] = list(about["compared"])
        return cls(
            compared=", ".join(f"`{n}`" for n in names),
            database=str(about["database"]),
            milvus=about.get("milvus"),
            not_run=tuple(f"{part}: {why}" for part, why in (about.get("not_run") or {}).items()),
            failed=tuple(
                f"{f['backend']} at {f['size']:,} passages: {f['error']}"
                for f in (results.get("http") or {}).get("failed") or ()
            ),
            ingestion=_backend_ingestion(results, names),
            latency=_backend_latency(results.get("http") or {}, names),
            startup=_backend_startup(results.get("http") or {}, names),
        )


def _backend_ingestion(results: Json, names: Sequence[str]) -> Table | None:
    measured = [(n, results.get("ingestion" if n == "embedded" else f"ingestion_{n}")) for n in names]
    rows = [
        [
            n,
            m["passages"],
            m["pipeline_s"],
            m["pipeline_passages_per_s"],
            m["raw_passages_per_s"],
            m["pipeline_over_embedder"],
        ]
        for n, m in measured
        if m
    ]
    if not rows:
        return None
    header = [
        "search",
        "passages",
        "Assistant.add_documents s",
        "passages/s",
        "raw embedder passages/s",
        "pipeline / embedder",
    ]
    return Table.of(header, rows)


def _compared_runs(http: Json) -> dict[tuple[int, str], Json]:
    """(size, backend) -> the run with the setting both backends ran with."""
    best = http.get("best_variant")
    return {(r["size"], backend_of(r)): r for r in http.get("runs") or () if r["variant"] == best}


def _backend_latency(http: Json, names: Sequence[str]) -> Table | None:
    runs = _compared_runs(http)
    if not runs:
        return None
    rows = []
    for size in sorted({size for size, _ in runs}):
        levels = {n: {lv["clients"]: lv for lv in runs[(size, n)]["levels"]} for n in names if (size, n) in runs}
        for clients in sorted({c for by_clients in levels.values() for c in by_clients}):
            row: list[object] = [size, clients]
            for n in names:
                lv = levels.get(n, {}).get(clients)
                row += (
                    [lv["p50_ms"], lv["p95_ms"], lv["answers_per_s"], f"{lv['errors']} of {lv['requests']}"]
                    if lv
                    else [None] * 4
                )
            rows.append(row)
    header = ["passages", "clients"]
    for n in names:
        header += [f"{n} p50 ms", f"{n} p95 ms", f"{n} answers/s", f"{n} errors"]
    return Table.of(header, rows)


def _backend_startup(http: Json, names: Sequence[str]) -> Table | None:
    runs = _compared_runs(http)
    if not runs:
        return None
    units = {u["size"]: u for u in http.get("units") or ()}
    rows = []
    for size in sorted({size for size, _ in runs}):
        embedded, milvus = runs.get((size, "embedded")), runs.get((size, "milvus"))
        fill = (milvus or {}).get("fill") or {}
        unit = units.get(size, {})
        rows.append(
            [
                size,
                unit.get("passages"),
                _mb(unit.get("database_bytes")),
                *((embedded["startup_s"], embedded["rss_mb_after_load"]) if embedded else (None, None)),
                fill.get("create_s"),
                fill.get("fill_s"),
                fill.get("passages_per_s"),
                *((milvus["startup_s"], milvus["rss_mb_after_load"]) if milvus else (None, None)),
                fill.get("milvus_rss_mb_idle"),
                fill.get("milvus_rss_mb_after_fill"),
                (milvus or {}).get("milvus_rss_mb_after_load"),
            ]
        )
    header = [
        "passages",
        "stored passages",
        "PostgreSQL database MB",
        "embedded: service start-up s",
        "embedded: service RSS MB",
        "milvus: create collection s",
        "milvus: time to fill Milvus from the store s",
        "fill passages/s",
        "milvus: service start-up s",
        "milvus: service RSS MB",
        "Milvus server RSS MB idle",
        "filled",
        "after the load",
    ]
    return Table.of(header, rows)
