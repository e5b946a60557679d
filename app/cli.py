"""The ``troly`` command line: serve, ingest, ask, units, eval."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from app.settings import Settings


def _settings(ctx: click.Context) -> Settings:
    settings: Settings = ctx.obj
    return settings


@contextmanager
def _fail_cleanly() -> Iterator[None]:
    """Domain errors become one readable line and exit code 2, not a traceback."""
    from app.errors import TrolyError

    try:
        yield
    except TrolyError as exc:
        click.secho(f"error: {exc.message}", fg="red", err=True)
        sys.exit(2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data-dir", type=click.Path(path_type=Path), help="Where data lives [env TROLY_DATA_DIR, default ./index].")
@click.version_option(package_name="troly")
@click.pass_context
def main(ctx: click.Context, data_dir: Path | None) -> None:
    """troly: a trợ lý ảo that answers from each unit's own documents, with citations."""
    overrides: dict[str, Any] = {"data_dir": data_dir} if data_dir else {}
    ctx.obj = Settings(**overrides)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--corpus", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Ingest this corpus folder (one sub-folder per unit) before serving.")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, corpus: Path | None) -> None:
    """Run the HTTP service (OpenAPI docs at /docs)."""
    import uvicorn

    from app.api import create_app
    from app.wiring import open_assistant

    settings = _settings(ctx)
    with _fail_cleanly():
        assistant = open_assistant(settings)
        if corpus is not None:
            _ingest_corpus(assistant, corpus)
    uvicorn.run(create_app(settings, assistant), host=host, port=port, log_level="info")


def _ingest_corpus(assistant: Any, corpus: Path) -> None:
    names_file = corpus / "units.json"
    names: dict[str, str] = json.loads(names_file.read_text(encoding="utf-8")) if names_file.exists() else {}
    folders = sorted(p for p in corpus.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise click.UsageError(f"{corpus} has no unit folders; use --unit to ingest a folder of documents")
    for folder in folders:
        _ingest_into(assistant, folder.name, names.get(folder.name), folder)


def _ingest_into(assistant: Any, unit: str, unit_name: str | None, path: Path) -> None:
    from tqdm import tqdm

    from app.ingest.loaders import iter_folder, load_file, load_jsonl_corpus

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
    created = sum(r.created for r in results)
    click.echo(f"{unit}: {created} new, {len(results) - created} already stored, "
               f"{sum(r.document.passages for r in results if r.created)} passages added")


@main.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--unit", help="Unit to ingest into (created if missing). Without it, PATH holds one folder per unit.")
@click.option("--unit-name", help="Name for a unit created by this command.")
@click.pass_context
def ingest(ctx: click.Context, path: Path, unit: str | None, unit_name: str | None) -> None:
    """Add documents from a file, a folder, or a JSONL corpus; same content twice is a no-op."""
    from app.wiring import open_assistant

    with _fail_cleanly():
        assistant = open_assistant(_settings(ctx))
        if unit is None:
            if not path.is_dir():
                raise click.UsageError("give --unit when PATH is a file")
            _ingest_corpus(assistant, path)
        else:
            _ingest_into(assistant, unit, unit_name, path)


@main.command()
@click.argument("question")
@click.option("--unit", help="Ask one unit; all units by default.")
@click.option("--top-k", default=3, show_default=True, type=int, help="Citations to show.")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON, as the HTTP API returns it.")
@click.pass_context
def ask(ctx: click.Context, question: str, unit: str | None, top_k: int, as_json: bool) -> None:
    """Ask a question in Vietnamese."""
    from app.wiring import open_assistant

    with _fail_cleanly():
        answer = open_assistant(_settings(ctx)).ask(question, unit=unit, top_k=top_k)
    if as_json:
        from app.api.schemas import AskOut, CitationOut

        out = AskOut(id=answer.id, answer=answer.answer, abstained=answer.abstained, confidence=answer.confidence,
                     citations=[CitationOut.of(c) for c in answer.citations])
        click.echo(out.model_dump_json(indent=2))
        return
    if answer.answer is None:
        click.secho("Chưa tìm thấy thông tin trong cơ sở tri thức.", fg="yellow")
    else:
        click.secho(answer.answer, bold=True)
    click.echo(f"(confidence {answer.confidence:.2f})")
    for n, c in enumerate(answer.citations, 1):
        click.echo(f"\n[{n}] {c.title} — {c.date or 'no date'} ({c.unit}/{c.document_id}, {c.start}-{c.end})")
        click.echo("    " + c.text.replace("\n", "\n    "))


@main.group()
def units() -> None:
    """List or create units."""


@units.command("list")
@click.pass_context
def units_list(ctx: click.Context) -> None:
    from app.wiring import open_assistant

    with _fail_cleanly():
        assistant = open_assistant(_settings(ctx))
        for unit in assistant.list_units():
            count = len(assistant.list_documents(unit.id))
            click.echo(f"{unit.id}\t{unit.name}\t{count} documents")


@units.command("create")
@click.argument("unit_id")
@click.argument("name")
@click.pass_context
def units_create(ctx: click.Context, unit_id: str, name: str) -> None:
    from app.wiring import open_assistant

    with _fail_cleanly():
        unit = open_assistant(_settings(ctx)).create_unit(unit_id, name)
    click.echo(f"created {unit.id}")
