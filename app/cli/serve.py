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
@pass_runtime
def serve(runtime: Runtime, host: str, port: int, corpus: Path | None) -> None:
    """Run the HTTP service (OpenAPI docs at /docs)."""
    import uvicorn

    from app.api.request_log import configure_logging
    from app.application import create_app
    from app.wiring import open_access

    # Every line in one format (TROLY_LOG_FORMAT): troly's, uvicorn's, and one per request.
    configure_logging(runtime.settings.log_format)
    with fail_cleanly():
        assistant = runtime.assistant()
        if corpus is not None:
            ingest_corpus(assistant, open_access(runtime.settings), corpus)
    # uvicorn's access log would repeat the request log's lines; log_config=None keeps ours.
    uvicorn.run(
        create_app(runtime.settings, assistant),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=max(GRACEFUL_S, int(runtime.settings.llm_timeout_s) + 15),
    )
