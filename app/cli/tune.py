"""``troly tune``: refit the answer model on dev questions, or cross-validate it."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from app.cli.params import (
    AnswerRateFloor,
    AnswerRateFloorType,
    ConfidenceFeature,
    CrossFit,
    CrossFitType,
    QuestionSet,
    QuestionSetType,
)
from app.cli.runtime import Runtime, fail_cleanly, pass_runtime

if TYPE_CHECKING:
    from app.answer.neural.scorer import PairScorer
    from app.evaluation.dataset import Question
    from app.tuning.training import Example, HeldOut


@click.command()
@click.argument("questions", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--corpus", type=click.Path(exists=True, path_type=Path), required=True)
@click.option("--part", help="Fit on part K/N of the questions only, e.g. 1/2 (report on the others).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the model [default: answer_model.json in the data directory, which the service then loads].",
)
@click.option("--gap", default=2.0, show_default=True, type=float, help="Score gap that admits a second sentence.")
@click.option(
    "--false-answer-cost",
    default=1.0,
    show_default=True,
    type=float,
    help="How much a wrong answer costs against a correct one when choosing the threshold.",
)
@click.option(
    "--also",
    "more",
    multiple=True,
    type=QuestionSetType(),
    help="Another question set and its corpus to fit on as well (repeatable).",
)
@click.option(
    "--threshold-on",
    "threshold_sets",
    multiple=True,
    type=QuestionSetType(),
    help="Choose the threshold on this question set and its corpus (repeatable) instead of on the sets "
    "fitted on: its questions are read and decided by the fitted model, never fitted on. Name sets the "
    "neural reader was not trained on, so that the threshold meets its logits as new questions will.",
)
@click.option(
    "--keep-answer-rate",
    "floors",
    multiple=True,
    type=AnswerRateFloorType(),
    help="Choose the threshold among those that keep this tuning (or --threshold-on) set's answer rate at RATE "
    "or above (repeatable), e.g. eval/questions/seed.jsonl=0.92; a RATE no threshold reaches is held at the "
    "most any reaches.",
)
@click.option(
    "--without",
    multiple=True,
    type=ConfidenceFeature(),
    help="Leave this confidence feature out (repeatable): with --cross-validate, what it brings.",
)
@click.option(
    "--cross-validate",
    "folds",
    type=click.IntRange(min=2),
    metavar="K",
    help="Write no model: for each of K folds of the questions, fit on the others and score the "
    "confidence on it; print the out-of-fold figures of each question set.",
)
@click.option(
    "--reader",
    type=click.Choice(["lexical", "neural"]),
    default="lexical",
    show_default=True,
    help="The reader whose answer model to fit: neural adds the cross-encoder's scores to the lexical "
    "features [default out: neural_answer_model.json in the data directory].",
)
@click.option(
    "--cross-fit",
    "cross_fits",
    multiple=True,
    type=CrossFitType(),
    help="With --reader neural (repeatable): the questions of part K/N of every set are read by the reader "
    "delta DELTA, one trained without them, so that the answer model learns how far to trust the reader on "
    "questions it has not seen; other questions are read by the configured delta.",
)
@click.option(
    "--balance-sets",
    is_flag=True,
    help="Weigh every question set the same in the fit (each question by the size of its set) rather "
    "than every question the same, so that a small set like the seed questions counts as much as a large one.",
)
@pass_runtime
def tune(
    runtime: Runtime,
    questions: Path,
    corpus: Path,
    part: str | None,
    out: Path | None,
    gap: float,
    false_answer_cost: float,
    more: tuple[QuestionSet, ...],
    threshold_sets: tuple[QuestionSet, ...],
    floors: tuple[AnswerRateFloor, ...],
    without: tuple[str, ...],
    folds: int | None,
    reader: str,
    cross_fits: tuple[CrossFit, ...],
    balance_sets: bool,
) -> None:
    """Fit the sentence ranker, the confidence and the abstention threshold on dev questions."""
    from app.answer.features import FEATURE_SETS
    from app.tuning.sets import Fitting, cross_validate_sets, fit_sets

    sets = [QuestionSet(questions, corpus), *more]
    rates = _rates([*sets, *threshold_sets], floors)
    if cross_fits and reader != "neural":
        raise click.BadParameter("reader deltas are for --reader neural", param_hint="--cross-fit")
    fitted_on = {s.questions.resolve() for s in sets}
    for threshold_set in threshold_sets:
        if threshold_set.questions.resolve() in fitted_on:
            raise click.BadParameter(
                f"{threshold_set.questions} is fitted on: the threshold is chosen on questions the fit never saw",
                param_hint="--threshold-on",
            )
    if threshold_sets and folds is not None:
        raise click.BadParameter(
            "a cross-validation chooses each fold's threshold on its own", param_hint="--threshold-on"
        )
    fitting = Fitting(gap, false_answer_cost, without, FEATURE_SETS[reader], balance_sets)
    with fail_cleanly():
        collected, embedder = _collect(runtime, sets, part)
        chosen_on, _ = _collect(runtime, threshold_sets, None)
        if reader == "neural":
            scorers: dict[Path, PairScorer] = {}  # each delta loaded once for both readings
            collected = _read_shortlists(runtime, collected, cross_fits, scorers)
            chosen_on = _read_shortlists(runtime, chosen_on, (), scorers)  # by the served reader, as in service
        if folds is not None:
            _print_cross_validation(cross_validate_sets(collected, rates, folds, fitting), folds)
            return
        label = " + ".join(s.questions.name for s in sets) + (f", part {part}" if part else "")
        if cross_fits:
            label += "; reader cross-fitted: " + ", ".join(f"{c.part} read by {c.delta.name}" for c in cross_fits)
        if threshold_sets:
            label += "; threshold chosen on " + ", ".join(s.questions.name for s in threshold_sets)
        if reader == "neural" and math.isfinite(runtime.settings.reader_shortlist_margin):
            # Its confidence inputs depend on the pairs read: serve it with the same margin.
            label += f"; shortlist margin {runtime.settings.reader_shortlist_margin:g}"
        model = fit_sets(collected, rates, label, embedder, fitting, chosen_on)
    target = out or (
        runtime.settings.tuned_neural_model_path if reader == "neural" else runtime.settings.tuned_model_path
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    model.save(target, fitting.features)
    click.echo(
        f"fitted on {sum(map(len, collected.values()))} questions; threshold {model.threshold:.3f}; wrote {target}"
    )


def _rates(sets: Sequence[QuestionSet], floors: Sequence[AnswerRateFloor]) -> dict[Path, float]:
    """Each floor's rate by its question file; a floor must name one of the sets."""
    known = {s.questions.resolve() for s in sets}
    rates: dict[Path, float] = {}
    for floor in floors:
        if floor.questions.resolve() not in known:
            raise click.BadParameter(floor.problem(), param_hint="--keep-answer-rate")
        rates[floor.questions] = floor.rate
    return rates


def _collect(runtime: Runtime, sets: Sequence[QuestionSet], part: str | None) -> tuple[dict[Path, list[Example]], str]:
    """Each set's candidates and features, from a fresh index of its corpus; and the embedder's name."""
    import tempfile

    from tqdm import tqdm

    from app.evaluation.dataset import load_questions
    from app.evaluation.split import select_part
    from app.tuning import training

    collected: dict[Path, list[Example]] = {}
    embedder = ""
    for s in sets:
        with tempfile.TemporaryDirectory(prefix="troly-tune-") as scratch:
            asked = select_part(load_questions(s.questions), part)
            assistant = runtime.fresh_assistant(s.corpus, Path(scratch), untrained=True)
            with tqdm(total=len(asked), desc=f"evidence {s.questions.name}", unit="q", disable=None) as bar:
                collected[s.questions] = training.collect(assistant, asked, progress=bar.update)
            embedder = assistant.embedder.name
    return collected, embedder


def _read_shortlists(
    runtime: Runtime,
    collected: dict[Path, list[Example]],
    cross_fits: Sequence[CrossFit],
    scorers: dict[Path, PairScorer],
) -> dict[Path, list[Example]]:
    """Each example's lexical shortlist, re-read by the neural reader's cross-encoder: the one of the
    first ``cross_fits`` part that holds the question, else the configured one. ``scorers``: the
    deltas already loaded, by path, which this call adds to."""
    from collections import Counter

    from tqdm import tqdm

    from app.answer.model import AnswerModel
    from app.answer.neural.scorer import CrossEncoderScorer
    from app.tuning.neural_examples import with_reader
    from app.wiring import answer_model_path, reader_delta_path

    settings = runtime.settings
    read_by: Counter[Path] = Counter()

    def scorer_for(question: Question) -> PairScorer:
        delta = next((c.delta for c in cross_fits if c.reads(question)), reader_delta_path(settings))
        read_by[delta] += 1
        if delta not in scorers:
            scorers[delta] = CrossEncoderScorer.open(
                delta, threads=settings.threads or 0, precision=settings.reader_precision
            )
        return scorers[delta]

    lexical = AnswerModel.load(answer_model_path(settings))
    out: dict[Path, list[Example]] = {}
    for path, examples in collected.items():
        with tqdm(total=len(examples), desc=f"reading {path.name}", unit="q", disable=None) as bar:
            out[path] = with_reader(
                examples,
                lexical,
                scorer_for,
                settings.reader_shortlist,
                settings.reader_shortlist_margin,
                progress=bar.update,
            )
    if cross_fits:
        # A part that misses its mark (2/4 for 3/4) would leave questions to a reader trained on them: say so.
        click.echo("questions read by: " + ", ".join(f"{delta} {n}" for delta, n in read_by.items()))
    return out


def _print_cross_validation(held_out: Mapping[str, HeldOut], folds: int) -> None:
    click.echo(f"out of fold, {folds} folds (each question decided by a model fitted without its fold)")
    width = max(len(name) for name in held_out)
    click.echo(
        f"{'question set':<{width}}  {'questions':>9}  {'ROC AUC':>7}  {'log loss':>8}  "
        f"{'answer rate':>11}  {'false-answer rate':>17}"
    )
    for name, h in held_out.items():
        click.echo(
            f"{name:<{width}}  {len(h.decisions):9d}  {h.auc:7.3f}  {h.log_loss:8.3f}  "
            f"{h.answer_rate:11.1%}  {h.false_answer_rate:17.1%}"
        )
