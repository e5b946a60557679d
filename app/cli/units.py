"""``troly units``: list or create units."""

from __future__ import annotations

import click

from app.cli.runtime import Runtime, fail_cleanly, pass_runtime


@click.group()
def units() -> None:
    """List or create units."""


@units.command("list")
@pass_runtime
def units_list(runtime: Runtime) -> None:
    with fail_cleanly():
        assistant = runtime.assistant()
        for unit in assistant.list_units():
            count = len(assistant.list_documents(unit.id))
            click.echo(f"{unit.id}\t{unit.name}\t{count} documents")


@units.command("create")
@click.argument("unit_id")
@click.argument("name")
@pass_runtime
def units_create(runtime: Runtime, unit_id: str, name: str) -> None:
    with fail_cleanly():
        unit = runtime.assistant().create_unit(unit_id, name)
    click.echo(f"created {unit.id}")
