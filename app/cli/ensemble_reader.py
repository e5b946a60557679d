"""``troly ensemble-reader``: several trainings of the neural reader served as one, their logits averaged."""

from __future__ import annotations

from pathlib import Path

import click

from app.cli.runtime import fail_cleanly


@click.command("ensemble-reader")
@click.argument("deltas", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The ensemble's delta file, named where a delta is named (TROLY_READER_DELTA, bench --reader-delta).",
)
def ensemble_reader(deltas: tuple[Path, ...], out: Path) -> None:
    """Write DELTAS (two or more files of `troly train-reader`) as one ensemble delta.

    The served reader reads each pair once through the shared frozen layers and once through each
    member's adapted layers, and averages the logits: each member after the first adds its adapted
    layers' share of one reader's time (two thirds for deltas adapted from layer 4 of 12). Fit its
    answer model with `troly tune --reader neural` as for one delta.
    """
    from app.answer.neural.delta import load_delta, save_ensemble

    inputs = [path.resolve() for path in deltas]
    if len(set(inputs)) < len(inputs):
        raise click.BadParameter("a delta is named twice: its logits would count twice", param_hint="DELTAS")
    if out.resolve() in inputs:
        raise click.BadParameter("--out names one of the DELTAS: it would be overwritten", param_hint="--out")
    with fail_cleanly():
        members = [load_delta(path) for path in deltas]
        save_ensemble(out, members)
    click.echo(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB, {len(members)} readers)")
