"""``troly ask``: one question, answered as the service answers it (the text as it is written)."""

from __future__ import annotations

import click

from app.cli.runtime import Runtime, fail_cleanly, pass_runtime

ABSTAIN = "Chưa tìm thấy thông tin trong cơ sở tri thức."


@click.command()
@click.argument("question")
@click.option("--unit", help="Ask one unit; all units by default.")
@click.option("--top-k", default=3, show_default=True, type=int, help="Citations to show.")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON, as the HTTP API returns it.")
@pass_runtime
def ask(runtime: Runtime, question: str, unit: str | None, top_k: int, as_json: bool) -> None:
    """Ask a question in Vietnamese."""
    from app.domain import Answer, AnswerDelta, AnswerDone

    answer: Answer | None = None
    shown = ""
    with fail_cleanly():
        for event in runtime.assistant().ask_stream(question, unit=unit, top_k=top_k):
            if isinstance(event, AnswerDelta) and not as_json:
                click.secho(event.text, bold=True, nl=False)  # an LLM's answer appears as it is written
                shown += event.text
            elif isinstance(event, AnswerDone):
                answer = event.answer
    assert answer is not None
    if as_json:
        from app.api.schemas import AskOut

        click.echo(AskOut.of(answer).model_dump_json(indent=2))
        return
    if shown and shown != answer.answer:  # the LLM failed midway: its fallback's answer follows
        click.echo()
    if answer.answer is None:
        click.secho(ABSTAIN, fg="yellow")
    elif shown != answer.answer:
        click.secho(answer.answer, bold=True, nl=False)
    click.echo()
    click.echo(f"(reader {answer.reader}, confidence {answer.confidence:.2f})")
    if answer.reader_fallback:
        click.secho(f"(the configured reader did not answer: {answer.reader_fallback})", fg="yellow")
    for n, c in enumerate(answer.citations, 1):
        click.echo(f"\n[{n}] {c.title} — {c.date or 'no date'} ({c.unit}/{c.document_id}, {c.start}-{c.end})")
        click.echo("    " + c.text.replace("\n", "\n    "))
