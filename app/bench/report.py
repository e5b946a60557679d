"""bench.json (every figure) and bench.md (the same, readable), with a verdict for every target."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from app.bench.report_backends import Backends
from app.bench.report_sections import BenchReport

TARGETS = {
    "ingest_overhead": 0.10,  # the pipeline costs at most 10% more than embedding alone
    "http_size": 100_000,
    "http_clients": 8,
    "http_p50_ms": 30.0,
    "http_p95_ms": 100.0,
    "scale_size": 1_000_000,
    "recall_at_10": 0.95,
    "index_gb": 1.0,
    "startup_s": 5.0,
}


def _verdict(name: str, measured: Any, target: str, met: bool | None, note: str = "") -> dict[str, Any]:
    return {"target": name, "measured": measured, "goal": target, "met": met, "note": note}


def verdicts(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every target's verdict, in the order of bench.md's parts; a part that did not run gives none."""
    http = results.get("http") or {}
    return [
        *_ingestion_verdicts(results.get("ingestion")),
        *_http_verdicts(http.get("runs") or []),
        *_startup_verdicts(http.get("stages") or []),
        *_scale_verdicts(results.get("scale") or []),
    ]


def _ingestion_verdicts(ingestion: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if ingestion:
        ratio = ingestion["pipeline_over_embedder"]
        out.append(
            _verdict(
                "ingestion: pipeline time / raw embedder time",
                ratio,
                "≤ 1.10",
                ratio <= 1 + TARGETS["ingest_overhead"],
                f"{ingestion['passages']} passages, {ingestion['pipeline_passages_per_s']} passages/s",
            )
        )
    return out


def _http_verdicts(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if runs:
        size = (
            TARGETS["http_size"]
            if any(r["size"] == TARGETS["http_size"] for r in runs)
            else max(r["size"] for r in runs)
        )
        caveat = "" if size == TARGETS["http_size"] else f"measured at {size} passages, not {TARGETS['http_size']}"
        for run in (r for r in runs if r["size"] == size):
            levels = {lv["clients"]: lv for lv in run["levels"]}
            clients = min(levels, key=lambda c: abs(c - TARGETS["http_clients"]))
            level = levels[clients]
            search = run.get("backend", "embedded")
            label = f"HTTP {size} passages, {clients} clients, server {run['variant']}" + (
                f", {search} search" if search != "embedded" else ""
            )
            note = "; ".join(x for x in (caveat, "" if clients == 8 else f"{clients} clients, not 8") if x)
            out.append(
                _verdict(f"{label}: p50", level["p50_ms"], "≤ 30 ms", level["p50_ms"] <= TARGETS["http_p50_ms"], note)
            )
            out.append(
                _verdict(f"{label}: p95", level["p95_ms"], "≤ 100 ms", level["p95_ms"] <= TARGETS["http_p95_ms"], note)
            )
            out.append(_verdict(f"{label}: errors", level["errors"], "0", level["errors"] == 0, note))
    return out


def _startup_verdicts(stages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if stages:
        largest = max(stages, key=lambda st: st["size"])
        startup = largest["startup_ms"]
        if "assistant_init_from_snapshot" in startup:
            seconds = round((startup["model_load"] + startup["assistant_init_from_snapshot"]) / 1000, 2)
            out.append(
                _verdict(
                    f"service start-up at {largest['size']} passages (model + indexes from snapshot)",
                    f"{seconds} s",
                    "≤ 5 s",
                    seconds <= TARGETS["startup_s"],
                    f"without a snapshot (rebuilt from the store, then saved): "
                    f"{round(startup['assistant_init_rebuild'] / 1000, 1)} s",
                )
            )
    return out


def _scale_verdicts(scale: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if scale:
        row = next((r for r in scale if r["passages"] == TARGETS["scale_size"]), scale[-1])
        n = row["passages"]
        note = "" if n == TARGETS["scale_size"] else f"measured at {n} passages, not 1M"
        ann = row["ann"]
        recall = ann["recall_at_10"]
        out.append(
            _verdict(
                f"scale {n}: ANN recall@10 vs exact (all queries)",
                recall["all"],
                "≥ 0.95",
                recall["all"] >= TARGETS["recall_at_10"],
                f"real questions {recall['questions']}, held-out passages {recall['held_out']}; "
                f"nprobe {ann['nprobe']} of {ann['nlist']}. {note}".strip(),
            )
        )
        gb = ann["file_mb"] / 1024
        rss = ann.get("rss_bytes_per_passage")
        out.append(
            _verdict(
                f"scale {n}: ANN index memory",
                f"{gb:.2f} GB",
                "≤ 1 GB",
                gb <= TARGETS["index_gb"],
                f"{ann['bytes_per_passage']:.0f} bytes/passage serialised"
                + (f", {rss:.0f} bytes/passage resident" if rss else "")
                + (f". {note}" if note else ""),
            )
        )
        out.append(
            _verdict(
                f"scale {n}: ANN index start-up (read from file)",
                f"{ann['startup_load_s']} s",
                "≤ 5 s",
                ann["startup_load_s"] <= TARGETS["startup_s"],
                "the dense index alone, read from its file. " + note,
            )
        )
    return out


def markdown(results: Mapping[str, Any]) -> str:
    """bench.md: templates/bench.md over the report's sections (report_sections.py)."""
    env = Environment(
        loader=PackageLoader("app.bench", "templates"),
        autoescape=False,  # Markdown, not HTML
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["fmt"] = format  # {{ x | fmt(",") }}: Python's own format specs
    return env.get_template("bench.md").render(report=BenchReport.of(results), backends=Backends.of(results))


def write_reports(results: dict[str, Any], out: Path) -> tuple[Path, Path]:
    results["targets"] = TARGETS
    results["verdicts"] = verdicts(results)
    json_path = out / "bench.json"
    json_path.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    md_path = out / "bench.md"
    md_path.write_text(markdown(results), encoding="utf-8")
    return json_path, md_path
