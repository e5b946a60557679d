"""bench.json (every figure) and bench.md (the same, readable), with a verdict for every target."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

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
    out: list[dict[str, Any]] = []
    ingestion = results.get("ingestion")
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
    http = results.get("http") or {}
    runs = http.get("runs") or []
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
            label = f"HTTP {size} passages, {clients} clients, server {run['variant']}"
            note = "; ".join(x for x in (caveat, "" if clients == 8 else f"{clients} clients, not 8") if x)
            out.append(
                _verdict(f"{label}: p50", level["p50_ms"], "≤ 30 ms", level["p50_ms"] <= TARGETS["http_p50_ms"], note)
            )
            out.append(
                _verdict(f"{label}: p95", level["p95_ms"], "≤ 100 ms", level["p95_ms"] <= TARGETS["http_p95_ms"], note)
            )
            out.append(_verdict(f"{label}: errors", level["errors"], "0", level["errors"] == 0, note))
    stages = http.get("stages") or []
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
    scale = results.get("scale") or []
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


def _pair(value: Mapping[str, Any] | None) -> str:
    return "–" if value is None else f"{value['p50_ms']} / {value['p95_ms']}"


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def _profile_lines(http: Mapping[str, Any] | None) -> list[str]:
    if not http or not http.get("profiles"):
        return []
    lines = ["## 4. Profile", "", "The full text is in `profile.txt`. Top inclusive shares:", ""]
    for p in http["profiles"]:
        if "inclusive" not in p:
            lines += [f"* {p.get('tool')}: {p.get('note')}", ""]
            continue
        lines += [
            f"**{p['tool']}**, server `{p['variant']}`, {p['size']} passages, {p['clients']} clients, "
            f"{p['samples']} samples:",
            "",
        ]
        lines += _table(
            ["inclusive", "function"], [[f"{x['share']:.1%}", f"`{x['function']}`"] for x in p["inclusive"][:15]]
        )
    return lines


def markdown(results: Mapping[str, Any]) -> str:
    m = results["machine"]
    pk = m.get("packages", {})
    lines = [
        "# troly benchmark",
        "",
        f"Run `{results['options']['mode']}` from {results['started_at']} to {results.get('finished_at')} "
        f"({_fmt(results.get('duration_s'))} s), embedder `{results.get('embedder')}`.",
        "",
        f"* machine: {m['cpu_model']} ({', '.join(m.get('simd', []))}), {m['cores']} cores, {m['ram_gb']} GB RAM, "
        f"{m['os']}",
        f"* python {m['python']}; " + ", ".join(f"{k} {v}" for k, v in pk.items() if v),
        f"* load average at start {m.get('load_average_at_start')}, at end {m.get('load_average_at_end')} "
        "(above ~0.5 at the start, other processes were using the CPU)",
        "* mean / max 1-minute load average during each part (the benchmark's own servers and clients count: "
        "the HTTP part runs up to 32 client threads): "
        + ", ".join(f"{k} {v['mean']} / {v['max']}" for k, v in (results.get("part_load_average") or {}).items() if v),
        "* seconds per part: " + ", ".join(f"{k} {v}" for k, v in (results.get("part_seconds") or {}).items()),
        f"* git {m.get('git', {}).get('commit', '?')[:12]}{' (dirty)' if m.get('git', {}).get('dirty') else ''}",
        "",
        "## Targets",
        "",
    ]
    lines += _table(
        ["target", "measured", "goal", "met", "note"],
        [
            [v["target"], v["measured"], v["goal"], {True: "met", False: "**missed**", None: "–"}[v["met"]], v["note"]]
            for v in results.get("verdicts", [])
        ],
    )

    ing = results.get("ingestion")
    if ing:
        lines += [
            "## 1. Ingestion",
            "",
            f"{ing['documents']} documents, {ing['passages']} passages ({ing['characters']:,} characters), "
            f"embedder batch {ing['embed_batch_size']}; the raw embedder ran before and after the pipeline "
            f"({ing['raw_embedder_runs_s']} s) on the pipeline's own passage texts.",
            "",
        ]
        lines += _table(
            ["", "seconds", "passages/s"],
            [
                ["raw embedder (mean of 2 runs)", ing["raw_embedder_s"], ing["raw_passages_per_s"]],
                ["Assistant.add_documents", ing["pipeline_s"], ing["pipeline_passages_per_s"]],
                ["of which prepare() alone (normalise, segment, pyvi tokens), timed apart", ing["prepare_s"], None],
            ],
        )
        lines += [
            f"Pipeline / embedder: **{ing['pipeline_over_embedder']}** (overhead "
            f"{ing['overhead_share']:.1%}; target ≤ 10%).",
            "",
        ]

    http = results.get("http")
    if http:
        lines += [
            "## 2. Questions over HTTP",
            "",
            f"* texts: {http['texts']}",
            f"* vectors: **{http['vectors']}**",
            f"* questions: {http['questions']}",
            "* server settings: " + "; ".join(f"`{k}` = {v['description']}" for k, v in http["variants"].items()),
            "",
        ]
        if http.get("embedder_threads"):
            lines += ["Embedding one question, nothing else running in the process:", ""]
            lines += _table(
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
        if http.get("runs"):
            lines += [
                f"Closed loop: each client asks its next question when the previous answer arrives "
                f"(best setting at the sweep size: `{http.get('best_variant')}`).",
                "",
            ]
            rows = []
            for r in http["runs"]:
                for lv in r["levels"]:
                    rows.append(
                        [
                            r["size"],
                            r["variant"],
                            lv["clients"],
                            lv["requests"],
                            lv["p50_ms"],
                            lv["p95_ms"],
                            lv["p99_ms"],
                            lv["answers_per_s"],
                            lv["errors"],
                            lv["abstained_share"],
                            r["startup_s"],
                            "yes" if r.get("started_from_snapshot") else "no",
                            r["rss_mb_after_load"],
                        ]
                    )
            lines += _table(
                [
                    "passages",
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
                ],
                rows,
            )
        if http.get("breakdown"):
            lines += [
                "Where one request's time goes at 1 client: the core's stages timed in-process (same thread "
                "settings, questions drawn from the same polite variants); `http_and_framework` = client "
                "latency − the route's own timing of Assistant.ask "
                "on the same requests; `unattributed` = that timing − the stages:",
                "",
            ]
            keys = [
                "embed_question",
                "bm25",
                "faiss",
                "answer_extraction",
                "other_core",
                "http_and_framework",
                "unattributed",
            ]
            lines += _table(
                ["passages", "server", "e2e mean ms", *keys],
                [
                    [
                        b["size"],
                        b["variant"],
                        b["e2e_mean_ms"],
                        *[f"{b['ms'][k]:.2f} ms ({b['share'][k]:.0%})" for k in keys],
                    ]
                    for b in http["breakdown"]
                ],
            )
        if http.get("stages"):
            names = [
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
            ]
            lines += [
                "Core stages, p50 ms (`faiss_ann`: the same vectors in app.search.ann.IVFIndex; "
                "`assistant_ask`: Assistant.ask end to end in-process):",
                "",
            ]
            lines += _table(
                ["passages", "dense index", *names],
                [
                    [s["size"], s.get("served_index", "exact"), *[s["stages"].get(n, {}).get("p50_ms") for n in names]]
                    for s in http["stages"]
                ],
            )
            lines += ["FAISS search of one question with 1 and 2 OpenMP threads, p50 / p95 ms:", ""]
            columns = list(dict.fromkeys(k for s in http["stages"] for k in s["faiss_threads"]))
            lines += _table(
                ["passages", *columns],
                [[s["size"], *[_pair(s["faiss_threads"].get(c)) for c in columns]] for s in http["stages"]],
            )
            lines += ["Start-up of the service, piece by piece (ms):", ""]
            keys = list(dict.fromkeys(k for s in http["stages"] for k in s["startup_ms"]))
            lines += _table(
                ["passages", *keys], [[s["size"], *[s["startup_ms"].get(k) for k in keys]] for s in http["stages"]]
            )
    scale = results.get("scale")
    if scale:
        lines += [
            "## 3. Scale (index only)",
            "",
            f"Vectors: **{scale[0]['vectors']}**. Queries: the real "
            "embeddings of the 32 benchmark questions and 200 held-out synthetic passages. Latency: one "
            "question at a time, depth 50, one OpenMP thread.",
            "",
        ]
        lines += _table(
            [
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
            ],
            [
                [
                    r["passages"],
                    r["factory_choice"],
                    r["exact"]["latency"]["p50_ms"],
                    r["exact"]["index_mb"],
                    r["ann"]["kind"],
                    r["ann"]["nprobe"],
                    r["ann"]["recall_at_10"]["questions"],
                    r["ann"]["recall_at_10"]["held_out"],
                    r["ann"]["latency"]["p50_ms"],
                    r["ann"]["bytes_per_passage"],
                    r["ann"]["rss_bytes_per_passage"],
                    r["ann"]["file_mb"],
                    r["ann"]["train_s"],
                    r["ann"]["add_s"],
                    r["ann"]["startup_load_s"],
                    f"{r['ann']['remove']['ids']} ids in {r['ann']['remove']['seconds'] * 1000:.1f} ms, "
                    f"{r['ann']['remove']['leaked_in_results']} leaked",
                ]
                for r in scale
            ],
        )
        lines += ["Recall@10 (all queries) against nprobe:", ""]
        probes = sorted({c["nprobe"] for r in scale for c in r["ann"]["recall_curve"]})
        lines += _table(
            ["passages", "nlist", *[f"nprobe {p}" for p in probes]],
            [
                [
                    r["passages"],
                    r["ann"]["nlist"],
                    *[next((c["all"] for c in r["ann"]["recall_curve"] if c["nprobe"] == p), None) for p in probes],
                ]
                for r in scale
            ],
        )
    lines += _profile_lines(http)
    lines += [
        "## Reproduce",
        "",
        "```sh",
        "troly bench --out docs/bench          # full run",
        "troly bench --quick --out /tmp/bench  # about two minutes",
        "```",
        "",
    ]
    return "\n".join(lines)


def write_reports(results: dict[str, Any], out: Path) -> tuple[Path, Path]:
    results["targets"] = TARGETS
    results["verdicts"] = verdicts(results)
    json_path = out / "bench.json"
    json_path.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    md_path = out / "bench.md"
    md_path.write_text(markdown(results), encoding="utf-8")
    return json_path, md_path
