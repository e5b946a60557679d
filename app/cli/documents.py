"""``troly ingest``: documents from a file, a folder, a JSONL corpus or a folder of unit folders."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from app.cli.runtime import Runtime, fail_cleanly, pass_runtime

if TYPE_CHECKING:
    from app.access import AccessControl
    from app.assistant import Assistant


@click.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--unit", help="Unit to ingest into (created if missing). Without it, PATH holds one folder per unit.")
@click.option("--unit-name", help="Name for a unit created by this command.")
@pass_runtime
def ingest(runtime: Runtime, path: Path, unit: str | None, unit_name: str | None) -> None:
    """Add documents from a file, a folder, or a JSONL corpus; same content twice is a no-op."""
    from app.wiring import open_access

    with fail_cleanly():
        assistant = runtime.assistant()
        access = open_access(runtime.settings, assistant)
        if unit is None:
            if not path.is_dir():
                raise click.UsageError("give --unit when PATH is a file")
            ingest_corpus(assistant, access, path)
        else:
            ingest_into(assistant, access, unit, unit_name, path)
        assistant.save_indexes()


def ingest_corpus(assistant: Assistant, access: AccessControl, corpus: Path) -> None:
    """Every unit folder of ``corpus``, named from its ``units.json`` where it names them."""
    from app.ingest.loaders import unit_folders

    folders = unit_folders(corpus)
    if not folders:
        raise click.UsageError(f"{corpus} has no unit folders; use --unit to ingest a folder of documents")
    for unit, name, folder in folders:
        ingest_into(assistant, access, unit, name, folder)


def ingest_into(assistant: Assistant, access: AccessControl, unit: str, unit_name: str | None, path: Path) -> None:
    """One unit's documents (the unit created if missing), each new one audited as the HTTP API audits it."""
    from tqdm import tqdm

    from app.access import Principal
    from app.ingest.loaders import load_documents
    from app.service.documents import add_documents

    if assistant.store.get_unit(unit) is None:
        assistant.create_unit(unit, unit_name or unit)
    documents = load_documents(path)
    with tqdm(desc=f"{unit}: embedding", unit="passage", disable=None) as bar:
        results = add_documents(assistant, access, Principal("cli", "admin"), unit, documents, progress=bar.update)
    created = sum(r.created for r in results)
    click.echo(
        f"{unit}: {created} new, {len(results) - created} already stored, "
        f"{sum(r.document.passages for r in results if r.created)} passages added"
    )
