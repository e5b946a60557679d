"""``troly ask``: one question, answered as the service answers it."""

from __future__ import annotations

import click

from app.cli.runtime import Runtime, fail_cleanly, pass_runtime


@click.command()
@click.argument("question")
@click.option("--unit", help="Ask one unit; all units by default.")
@click.option("--top-k", default=3, show_default=True, type=int, help="Citations to show.")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON, as the HTTP API returns it.")
@pass_runtime
def ask(runtime: Runtime, question: str, unit: str | None, top_k: int, as_json: bool) -> None:
    """Ask a question in Vietnamese."""
    with fail_cleanly():
        answer = runtime.assistant().ask(question, unit=unit, top_k=top_k)
    if as_json:
        from app.api.schemas import AskOut

        click.echo(AskOut.of(answer).model_dump_json(indent=2))
        return
    if answer.answer is None:
        click.secho("Chưa tìm thấy thông tin trong cơ sở tri thức.", fg="yellow")
    else:
        click.secho(answer.answer, bold=True)
    click.echo(f"(confidence {answer.confidence:.2f})")
    for n, c in enumerate(answer.citations, 1):
        click.echo(f"\n[{n}] {c.title} — {c.date or 'no date'} ({c.unit}/{c.document_id}, {c.start}-{c.end})")
        click.echo("    " + c.text.replace("\n", "\n    "))
