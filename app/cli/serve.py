"""``troly serve``: the HTTP service."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from app.cli.documents import ingest_corpus
from app.cli.runtime import Runtime, fail_cleanly, pass_runtime

if TYPE_CHECKING:
    from fastapi import FastAPI

# On SIGTERM, in-flight requests get this long to finish before the snapshots are saved and the
# process exits (an LLM answer is bounded by TROLY_LLM_TIMEOUT_S, 30 s by default).
GRACEFUL_S = 45


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--corpus",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Ingest this corpus folder (one sub-folder per unit) before serving.",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Service processes. The embedded knowledge base (search indexes in the process's memory) serves "
    "from one process, on a thread pool; in cluster mode (TROLY_SEARCH_BACKEND=milvus) every worker "
    "searches the same Milvus collection and more than one may run (docs/deploy.md).",
)
@pass_runtime
def serve(runtime: Runtime, host: str, port: int, corpus: Path | None, workers: int) -> None:
    """Run the HTTP service (OpenAPI docs at /docs)."""
    settings = runtime.settings
    with fail_cleanly():
        refuse_workers(workers, settings.cluster_mode)  # before anything loads or touches the data directory

    import uvicorn

    from app.api.request_log import configure_logging
    from app.application import create_app
    from app.wiring import open_access

    # Every line in one format (TROLY_LOG_FORMAT): troly's, uvicorn's, and one per request.
    configure_logging(settings.log_format)
    with fail_cleanly():
        assistant = runtime.assistant()
        if corpus is not None:
            ingest_corpus(assistant, open_access(settings, assistant), corpus)
    # uvicorn's access log would repeat the request log's lines; log_config=None keeps ours.
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": max(GRACEFUL_S, int(settings.llm_timeout_s) + 15),
    }
    if workers == 1:
        uvicorn.run(create_app(settings, assistant), **options)
        return
    # Each worker is a new process that builds its app from the environment (worker_app): the data
    # directory goes there too, in case it came from --data-dir. The corpus, if any, is in.
    runtime.close()
    os.environ["TROLY_DATA_DIR"] = str(settings.data_dir)
    uvicorn.run(f"{__name__}:worker_app", factory=True, workers=workers, **options)


def worker_app() -> FastAPI:
    """The app of one of ``serve --workers N``'s processes, which start afresh (spawned): the settings
    from the environment, and the log lines in the parent's format."""
    from app.api.request_log import configure_logging
    from app.application import create_app
    from app.settings import Settings

    settings = Settings()
    configure_logging(settings.log_format)
    return create_app(settings)


def refuse_workers(workers: int, cluster_mode: bool) -> None:
    """Several workers need cluster mode. With the embedded backend each worker would open the data
    directory's SQLite store and build its own indexes in memory, never see the others' writes, and
    answer from stale indexes (the data directory's lock would refuse every worker but the first
    anyway: app.store.data_dir_lock)."""
    from app.errors import ClusterModeRequired

    if workers > 1 and not cluster_mode:
        raise ClusterModeRequired(
            f"--workers {workers} needs cluster mode (TROLY_SEARCH_BACKEND=milvus, docs/deploy.md): with the "
            "embedded knowledge base each worker process would hold search indexes of its own in memory and "
            "never see the other workers' writes; serve with one worker (it answers on a thread pool), "
            "see docs/operations.md, *One process per data directory*"
        )
