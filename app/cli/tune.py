"""``troly tune``: refit the answer model on dev questions, or cross-validate it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from app.cli.params import AnswerRateFloor, AnswerRateFloorType, ConfidenceFeature, QuestionSet, QuestionSetType
from app.cli.runtime import Runtime, fail_cleanly, pass_runtime

if TYPE_CHECKING:
    from app.answer.model import AnswerModel
    from app.tuning.training import Example, HeldOut


@dataclass(frozen=True)
class _Fitting:
    """How the model is fitted, the same for a fit and for each fold of a cross-validation."""

    second_sentence_gap: float
    false_answer_cost: float
    without: tuple[str, ...]


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
    "--keep-answer-rate",
    "floors",
    multiple=True,
    type=AnswerRateFloorType(),
    help="Choose the threshold among those that keep this tuning set's answer rate at RATE or above "
    "(repeatable), e.g. eval/questions/seed.jsonl=0.92.",
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
    floors: tuple[AnswerRateFloor, ...],
    without: tuple[str, ...],
    folds: int | None,
) -> None:
    """Fit the sentence ranker, the confidence and the abstention threshold on dev questions."""
    sets = [QuestionSet(questions, corpus), *more]
    rates = _rates(sets, floors)
    fitting = _Fitting(gap, false_answer_cost, without)
    with fail_cleanly():
        collected, embedder = _collect(runtime, sets, part)
        if folds is not None:
            _print_cross_validation(_cross_validate(collected, rates, folds, fitting), folds)
            return
        label = " + ".join(s.questions.name for s in sets) + (f", part {part}" if part else "")
        model = _fit(collected, rates, label, embedder, fitting)
    target = out or runtime.settings.tuned_model_path
    target.parent.mkdir(parents=True, exist_ok=True)
    model.save(target)
    click.echo(
        f"fitted on {sum(map(len, collected.values()))} questions; threshold {model.threshold:.3f}; wrote {target}"
    )


def _rates(sets: Sequence[QuestionSet], floors: Sequence[AnswerRateFloor]) -> dict[Path, float]:
    """Each floor's rate by its question set's resolved path; a floor must name one of the sets."""
    known = {s.questions.resolve() for s in sets}
    rates: dict[Path, float] = {}
    for floor in floors:
        if floor.questions.resolve() not in known:
            raise click.BadParameter(floor.problem(), param_hint="--keep-answer-rate")
        rates[floor.questions.resolve()] = floor.rate
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


def _fit(
    collected: Mapping[Path, list[Example]], rates: Mapping[Path, float], label: str, embedder: str, fitting: _Fitting
) -> AnswerModel:
    from dataclasses import replace

    from app.tuning import training

    examples = [ex for exs in collected.values() for ex in exs]
    kept = [(exs, rates[q.resolve()]) for q, exs in collected.items() if q.resolve() in rates]
    model = training.fit(
        examples,
        label,
        second_sentence_gap=fitting.second_sentence_gap,
        false_answer_cost=fitting.false_answer_cost,
        floors=kept,
        without=fitting.without,
    )
    # The weights carry this embedder's cosine scale: the model says which one (a warning at start otherwise).
    return replace(model, embedder=embedder)


def _cross_validate(
    collected: Mapping[Path, list[Example]], rates: Mapping[Path, float], folds: int, fitting: _Fitting
) -> dict[str, HeldOut]:
    from app.evaluation.split import fold_of
    from app.tuning import training

    return training.cross_validate(
        {str(q): exs for q, exs in collected.items()},
        lambda ex: fold_of(ex.question, folds),
        folds,
        floors={str(q): rates[q.resolve()] for q in collected if q.resolve() in rates},
        second_sentence_gap=fitting.second_sentence_gap,
        false_answer_cost=fitting.false_answer_cost,
        without=fitting.without,
    )


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
