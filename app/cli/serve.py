"""``troly serve``: the HTTP service."""

from __future__ import annotations

from pathlib import Path

import click

from app.cli.documents import ingest_corpus
from app.cli.runtime import Runtime, fail_cleanly, pass_runtime


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
    import logging

    import uvicorn

    from app.application import create_app
    from app.wiring import open_access

    # The same look as uvicorn's own lines: how each unit's indexes were opened, at start.
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every segment build at DEBUG
    with fail_cleanly():
        assistant = runtime.assistant()
        if corpus is not None:
            ingest_corpus(assistant, open_access(runtime.settings), corpus)
    uvicorn.run(create_app(runtime.settings, assistant), host=host, port=port, log_level="info")
