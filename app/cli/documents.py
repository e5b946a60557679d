"""``troly ingest``: documents from a file, a folder, a JSONL corpus or a folder of unit folders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from app.cli.runtime import Runtime, fail_cleanly, pass_runtime

if TYPE_CHECKING:
    from app.assistant import Assistant


@click.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--unit", help="Unit to ingest into (created if missing). Without it, PATH holds one folder per unit.")
@click.option("--unit-name", help="Name for a unit created by this command.")
@pass_runtime
def ingest(runtime: Runtime, path: Path, unit: str | None, unit_name: str | None) -> None:
    """Add documents from a file, a folder, or a JSONL corpus; same content twice is a no-op."""
    with fail_cleanly():
        assistant = runtime.assistant()
        if unit is None:
            if not path.is_dir():
                raise click.UsageError("give --unit when PATH is a file")
            ingest_corpus(runtime, assistant, path)
        else:
            ingest_into(runtime, assistant, unit, unit_name, path)
        assistant.save_indexes()


def ingest_corpus(runtime: Runtime, assistant: Assistant, corpus: Path) -> None:
    """Every unit folder of ``corpus``, named from its ``units.json`` where it names them."""
    names_file = corpus / "units.json"
    names: dict[str, str] = json.loads(names_file.read_text(encoding="utf-8")) if names_file.exists() else {}
    folders = sorted(p for p in corpus.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise click.UsageError(f"{corpus} has no unit folders; use --unit to ingest a folder of documents")
    for folder in folders:
        ingest_into(runtime, assistant, folder.name, names.get(folder.name), folder)


def ingest_into(runtime: Runtime, assistant: Assistant, unit: str, unit_name: str | None, path: Path) -> None:
    """One unit's documents (created if missing); each new document is audited as the HTTP API audits it."""
    from tqdm import tqdm

    from app.access import Principal
    from app.ingest.loaders import iter_folder, load_file, load_jsonl_corpus
    from app.wiring import open_access

    if assistant.store.get_unit(unit) is None:
        assistant.create_unit(unit, unit_name or unit)
    if path.is_file() and path.suffix.lower() == ".jsonl":
        documents = list(load_jsonl_corpus(path))
    elif path.is_file():
        documents = [load_file(path)]
    else:
        documents = [load_file(p) for p in iter_folder(path)]
    with tqdm(desc=f"{unit}: embedding", unit="passage", disable=None) as bar:
        results = assistant.add_documents(unit, documents, progress=bar.update)
    access = open_access(runtime.settings)
    for r in results:
        if r.created:
            details = {"title": r.document.title, "passages": r.document.passages}
            access.audit(Principal("cli", "admin"), "document.add", unit, r.document.id, details)
    created = sum(r.created for r in results)
    click.echo(
        f"{unit}: {created} new, {len(results) - created} already stored, "
        f"{sum(r.document.passages for r in results if r.created)} passages added"
    )
