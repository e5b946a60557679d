"""``troly fusion-grid``: passage recall over a grid of the fusion's two settings."""

from __future__ import annotations

from pathlib import Path

import click

from app.cli.params import CommaSeparated
from app.cli.runtime import Runtime, fail_cleanly, pass_runtime


@click.command("fusion-grid")
@click.argument("questions", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--corpus", type=click.Path(exists=True, path_type=Path), required=True)
@click.option("--part", help="Only part K/N of the questions, e.g. 1/2 (choose there, report on the others).")
@click.option(
    "--k", "ks", type=CommaSeparated(int, "integers"), default="10,30,60", show_default=True, help="RRF k values."
)
@click.option(
    "--weights",
    type=CommaSeparated(float, "numbers"),
    default="0.7,1,1.3,1.6,2,3",
    show_default=True,
    help="BM25 weights against the dense retriever's 1.",
)
@pass_runtime
def fusion_grid(
    runtime: Runtime,
    questions: Path,
    corpus: Path,
    part: str | None,
    ks: tuple[int, ...],
    weights: tuple[float, ...],
) -> None:
    """Passage recall@1/@5 of hybrid retrieval over a grid of RRF k and BM25 weight."""
    import tempfile

    from tqdm import tqdm

    from app.evaluation.dataset import load_questions
    from app.evaluation.fusion_grid import fusion_grid as grid
    from app.evaluation.split import select_part

    with fail_cleanly(), tempfile.TemporaryDirectory(prefix="troly-grid-") as scratch:
        asked = select_part(load_questions(questions), part)
        assistant = runtime.fresh_assistant(corpus, Path(scratch), untrained=True)
        with tqdm(total=len(asked), desc="retrieving", unit="q", disable=None) as bar:
            points = grid(assistant, asked, list(ks), list(weights), progress=bar.update)
    click.echo(
        f"{questions.name}{f' part {part}' if part else ''}: {points[0].questions} answerable questions"
        if points
        else "no answerable questions"
    )
    click.echo("k\tweight\tR@1\tR@5")
    for p in points:
        click.echo(f"{p.rrf_k}\t{p.lexical_weight:g}\t{p.recall_at_1:.1%}\t{p.recall_at_5:.1%}")
