"""The ``troly`` group itself: its options become the settings every command runs with."""

from __future__ import annotations

from pathlib import Path

import click

from app.cli.runtime import Preloaded, Runtime
from app.settings import Settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--data-dir", type=click.Path(path_type=Path), help="Where data lives [env TROLY_DATA_DIR, default ./index]."
)
@click.version_option(package_name="troly")
@click.pass_context
def main(ctx: click.Context, data_dir: Path | None) -> None:
    """troly: a trợ lý ảo that answers from each unit's own documents, with citations."""
    preloaded = ctx.obj if isinstance(ctx.obj, Preloaded) else Preloaded()
    settings = Settings(data_dir=data_dir) if data_dir else Settings()
    ctx.obj = runtime = Runtime(settings, preloaded.embedder)
    # However the command ends (an error's exit included): the data directory's lock goes with it.
    ctx.call_on_close(runtime.close)
