"""``troly serve``: the HTTP service."""

from __future__ import annotations

from pathlib import Path

import click

from app.cli.documents import ingest_corpus
from app.cli.runtime import Runtime, fail_cleanly, pass_runtime

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
    help="Service processes. The embedded knowledge base (SQLite and search indexes in the process's "
    "memory) serves from one process only, on a thread pool: more is refused until cluster mode, where "
    "every worker shares one database and one vector index (docs/operations.md).",
)
@pass_runtime
def serve(runtime: Runtime, host: str, port: int, corpus: Path | None, workers: int) -> None:
    """Run the HTTP service (OpenAPI docs at /docs)."""
    with fail_cleanly():
        refuse_workers(workers)  # before anything loads or touches the data directory

    import uvicorn

    from app.api.request_log import configure_logging
    from app.application import create_app
    from app.wiring import open_access

    # Every line in one format (TROLY_LOG_FORMAT): troly's, uvicorn's, and one per request.
    configure_logging(runtime.settings.log_format)
    with fail_cleanly():
        assistant = runtime.assistant()
        if corpus is not None:
            ingest_corpus(assistant, open_access(runtime.settings, assistant), corpus)
    # uvicorn's access log would repeat the request log's lines; log_config=None keeps ours. One
    # process (refuse_workers): uvicorn runs the app object given, which it can do in one process only.
    uvicorn.run(
        create_app(runtime.settings, assistant),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=max(GRACEFUL_S, int(runtime.settings.llm_timeout_s) + 15),
    )


def refuse_workers(workers: int) -> None:
    """Several workers need cluster mode: the embedded backend, the only one so far, cannot share a
    knowledge base between processes. Each worker would open the data directory's SQLite store and
    build its own indexes in memory, never see the others' writes, and answer from stale indexes (the
    data directory's lock would refuse every worker but the first anyway: app.store.data_dir_lock)."""
    from app.errors import ClusterModeRequired

    if workers > 1:
        raise ClusterModeRequired(
            f"--workers {workers} needs cluster mode, which is not built yet: with the embedded knowledge base "
            "each worker process would hold search indexes of its own in memory and never see the other "
            "workers' writes; serve with one worker (it answers on a thread pool), "
            "see docs/operations.md, *One process per data directory*"
        )
