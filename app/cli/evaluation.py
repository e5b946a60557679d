"""``troly eval``: run an evaluation, write the report, read a stored run's trade-off, compare two runs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from app.cli.runtime import Runtime, fail_cleanly, pass_runtime

if TYPE_CHECKING:
    from app.evaluation.comparison import Comparison, Difference
    from app.evaluation.history import Run
    from app.evaluation.outcomes import Summary
    from app.evaluation.targets import Target


class _DefaultGroup(click.Group):
    """``troly eval QUESTIONS`` runs an evaluation; ``troly eval report`` is a subcommand."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in self.commands:
            args = ["run", *args]
        return super().resolve_command(ctx, args)


@click.group("eval", cls=_DefaultGroup)
def eval_group() -> None:
    """Score answer coverage: `troly eval QUESTIONS [options]`, then `report`, `trade-off`, `compare`."""


@eval_group.command("run")
@click.argument("questions", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--corpus",
    type=click.Path(exists=True, path_type=Path),
    help="Folder of documents (or of unit folders) or a JSONL corpus; default: ./corpus.",
)
@click.option("--url", help="Evaluate a running service over HTTP instead of a fresh in-process index.")
@click.option("--target", default=0.9, show_default=True, type=float, help="Answer-rate target.")
@click.option("--fail-under", is_flag=True, help="Exit 1 when the answer rate is below the target.")
@click.option("--part", help="Only part K/N of the questions (deterministic by id), e.g. 2/2.")
@click.option("--top-k", default=5, show_default=True, type=int)
@click.option("--threshold", type=float, help="Override the abstention threshold (in-process only).")
@pass_runtime
def eval_run(
    runtime: Runtime,
    questions: Path,
    corpus: Path | None,
    url: str | None,
    target: float,
    fail_under: bool,
    part: str | None,
    top_k: int,
    threshold: float | None,
) -> None:
    """Ask every question of QUESTIONS and count SQuAD 2.0 outcomes."""
    import tempfile

    from tqdm import tqdm

    from app.evaluation.dataset import load_questions
    from app.evaluation.history import EvalHistory
    from app.evaluation.outcomes import confidence_auc
    from app.evaluation.runner import evaluate
    from app.evaluation.split import select_part
    from app.evaluation.targets import InProcess, OverHttp
    from app.wiring import open_database

    with fail_cleanly(), tempfile.TemporaryDirectory(prefix="troly-eval-") as scratch:
        asked = select_part(load_questions(questions), part)
        target_obj: Target
        if url:
            target_obj, corpus_label = OverHttp(url), url
        else:
            corpus = corpus or Path("corpus")
            target_obj = InProcess(runtime.fresh_assistant(corpus, Path(scratch), threshold))
            corpus_label = str(corpus)
        history = EvalHistory(open_database(runtime.settings))  # the data directory's, not the scratch one's
        with tqdm(total=len(asked), desc="asking", unit="q", disable=None) as bar:
            done = evaluate(
                asked,
                target_obj,
                history,
                label=str(questions),
                corpus=corpus_label,
                details={"part": part},
                top_k=top_k,
                progress=bar.update,
            )
    _print_summary(done.summary, target, done.run.id)
    click.echo(f"confidence ROC AUC {confidence_auc(done.records):7.3f}  (right drafts against every other question)")
    if fail_under and not done.summary.meets(target):
        sys.exit(1)


def _print_summary(summary: Summary, target: float, run_id: int) -> None:
    from app.evaluation.outcomes import readers_text

    verdict = "meets" if summary.meets(target) else "BELOW"
    click.echo(
        f"\nrun {run_id}: {summary.questions} questions "
        f"({summary.answerable} answerable, {summary.unanswerable} unanswerable)"
    )
    click.secho(
        f"answer rate        {summary.answer_rate:7.1%}   {verdict} target {target:.0%}",
        bold=True,
        fg="green" if summary.meets(target) else "red",
    )
    click.echo(f"  with the fact in the first citation too {summary.cited_answer_rate:.1%}")
    click.echo(f"false-answer rate  {summary.false_answer_rate:7.1%}")
    click.echo(f"recall@1           {summary.recall_at_1:7.1%}")
    click.echo(f"recall@5           {summary.recall_at_5:7.1%}")
    click.echo(f"MRR                {summary.mrr:7.3f}")
    click.echo(f"latency p50 / p95  {summary.latency_p50_ms:5.0f} / {summary.latency_p95_ms:.0f} ms")
    click.echo("\noutcomes")
    for name, count in summary.outcomes.items():
        click.echo(f"  {name:<20}{count:6d}")
    click.echo(f"\nreaders: {readers_text(summary.readers)}")


def _run(runs: list[Run], run_id: int) -> Run:
    chosen = next((r for r in runs if r.id == run_id), None)
    if chosen is None:
        raise click.ClickException(f"no run {run_id}: the stored runs are {runs[0].id} to {runs[-1].id}")
    return chosen


def _heading(run: Run) -> str:
    """``run 12: QUESTIONS, part 2/2``: which run, of which set, as the subcommands name it."""
    return f"run {run.id}: {run.questions}" + (f", part {p}" if (p := run.target.get("part")) else "")


def _stored_runs(runtime: Runtime) -> list[Run]:
    from app.evaluation.history import EvalHistory
    from app.wiring import open_database

    with fail_cleanly():  # a database it cannot open or upgrade: one line, not a traceback
        runs = EvalHistory(open_database(runtime.settings)).runs()
    if not runs:
        raise click.ClickException("no evaluation runs yet: run `troly eval QUESTIONS` first")
    return runs


@eval_group.command("report")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("eval/report"), show_default=True)
@click.option("--target", default=0.9, show_default=True, type=float)
@pass_runtime
def eval_report(runtime: Runtime, out: Path, target: float) -> None:
    """Write an HTML report with plots of every stored evaluation run."""
    from app.evaluation.report import write_report

    click.echo(f"wrote {write_report(_stored_runs(runtime), out, target)}")


@eval_group.command("trade-off")
@click.option("--run", "run_id", type=int, help="A stored run's number [default: the latest].")
@click.option(
    "--at",
    "thresholds",
    multiple=True,
    type=click.FloatRange(0.0, 1.0),
    help="A threshold to count at (repeatable) [default: 0, 0.1, ... 0.9 and the run's own].",
)
@pass_runtime
def eval_trade_off(runtime: Runtime, run_id: int | None, thresholds: tuple[float, ...]) -> None:
    """Answer rate and false-answer rate of a stored run had it abstained below each threshold."""
    from app.evaluation.outcomes import trade_off

    runs = _stored_runs(runtime)
    chosen = runs[-1] if run_id is None else _run(runs, run_id)
    own = chosen.threshold
    at = sorted(set(thresholds) if thresholds else {i / 10 for i in range(10)} | ({own} if own is not None else set()))
    click.echo(_heading(chosen))
    click.echo(f"{'threshold':>9}  {'answer rate':>11}  {'false-answer rate':>17}")
    for point in trade_off(chosen.outcome_records(), at):
        mark = "  (the run's)" if own is not None and point.threshold == own else ""
        click.echo(f"{point.threshold:9.3f}  {point.answer_rate:11.1%}  {point.false_answer_rate:17.1%}{mark}")


@eval_group.command("compare")
@click.argument("base_id", metavar="BASE", type=int)
@click.argument("other_id", metavar="OTHER", type=int)
@click.option("--list", "list_changed", is_flag=True, help="List every question whose outcome changed.")
@pass_runtime
def eval_compare(runtime: Runtime, base_id: int, other_id: int, list_changed: bool) -> None:
    """Compare two stored runs over the same questions, question by question.

    Which questions changed outcome, and the change in correct and in false answers with a 95%
    interval (paired bootstrap over the questions) and an exact sign test over the questions
    that changed: whether OTHER beats BASE by more than chance.
    """
    from app.evaluation.comparison import compare

    runs = _stored_runs(runtime)
    base, other = _run(runs, base_id), _run(runs, other_id)
    with fail_cleanly():
        comparison = compare(base.outcome_records(), other.outcome_records())
    for role, run in (("base ", base), ("other", other)):
        reader = run.target.get("settings", {}).get("reader")
        click.echo(f"{role} {_heading(run)}" + (f" (reader {reader})" if reader else ""))
    _print_comparison(comparison, list_changed)


def _print_comparison(c: Comparison, list_changed: bool) -> None:
    from app.evaluation.comparison import SIGNIFICANCE

    apart = [f"{n} in run {role} only" for n, role in ((c.only_base, "BASE"), (c.only_other, "OTHER")) if n]
    click.echo(f"{c.shared} questions in both" + (f" ({', '.join(apart)}: left out)" if apart else ""))
    click.echo(
        f"\n{'':16}{'base':>6}{'other':>7}{'change':>8}   {'95% range of the change':<30}  questions that changed"
    )
    for name, d in (("correct answers", c.correct), ("false answers", c.false_answers)):
        click.echo(_difference_row(name, d))
    click.echo(
        "  (points: percent of the answerable questions for correct answers, of the unanswerable ones\n"
        "  for false answers; p: the chance of a split at least this lopsided if neither run were better)"
    )
    if not c.other_beats_base:
        verdict = "no"
    elif c.beats_beyond_chance:
        verdict = f"yes, and neither change is likely to be chance (p < {SIGNIFICANCE:g} for both)"
    else:
        verdict = f"yes, but at least one of the two changes could be chance (p >= {SIGNIFICANCE:g})"
    click.echo(f"\nMore correct answers and fewer false answers in OTHER: {verdict}")
    click.echo(f"\n{len(c.changed)} questions changed outcome")
    for before, after, n in c.moves():
        click.echo(f"  {before.value:>18} -> {after.value:<18}{n:5d}")
    if list_changed:
        click.echo("")
        for ch in c.changed:
            click.echo(f"{ch.question.id}\t{ch.base.value} -> {ch.other.value}\t{ch.question.question}")


def _difference_row(name: str, d: Difference) -> str:
    low, high = d.rate_interval.low, d.rate_interval.high
    interval = f"{low * 100:+.1f} to {high * 100:+.1f} points of {d.out_of}"
    p = "p < 0.01" if d.p_value < 0.005 else f"p = {d.p_value:.2f}"
    return f"{name:<16}{d.base:6d}{d.other:7d}{d.change:+8d}   {interval:<30}  {d.gained} gained, {d.lost} lost, {p}"
