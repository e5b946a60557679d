"""``troly train-reader``: fit the neural reader's delta on question sets and their corpora."""

from __future__ import annotations

import re
import shlex
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import click

from app.cli.runtime import Runtime, fail_cleanly, pass_runtime

_PART = re.compile(r":(\d+/\d+)$")


@dataclass(frozen=True)
class TrainingSet:
    questions: Path
    corpus: Path
    part: str | None  # K/N: only that part of the questions (the others stay held out)

    def __str__(self) -> str:
        return f"{self.questions.name}" + (f" part {self.part}" if self.part else "")


class TrainingSetType(click.ParamType[TrainingSet, object]):
    """``QUESTIONS=CORPUS`` or ``QUESTIONS=CORPUS:K/N``, both paths existing."""

    name = "QUESTIONS=CORPUS[:K/N]"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> TrainingSet:
        if isinstance(value, TrainingSet):
            return value
        text = str(value)
        part_match = _PART.search(text)
        part = part_match.group(1) if part_match else None
        if part_match:
            text = text[: part_match.start()]
        questions, sep, corpus = text.partition("=")
        if not sep or not Path(questions).is_file() or not Path(corpus).exists():
            self.fail(f"{value!r} is not QUESTIONS=CORPUS[:K/N] with both paths existing", param, ctx)
        return TrainingSet(Path(questions), Path(corpus), part)


@click.command("train-reader")
@click.option(
    "--on",
    "sets",
    multiple=True,
    required=True,
    type=TrainingSetType(),
    help="A question set, its corpus and optionally the part to train on (repeatable), "
    "e.g. questions.jsonl=corpus.jsonl:1/2.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the delta [default: reader-delta.npz in the data directory].",
)
@click.option("--epochs", default=2.0, show_default=True, type=click.FloatRange(min=0.01))
@click.option("--candidates", default=5, show_default=True, type=click.IntRange(min=2), help="Sentences per question.")
@click.option("--adapt-from", default=8, show_default=True, type=click.IntRange(0, 11), help="First adapted layer.")
@click.option("--rank", default=16, show_default=True, type=click.IntRange(min=1), help="Adapter rank.")
@click.option("--learning-rate", default=5e-4, show_default=True, type=click.FloatRange(min=0, min_open=True))
@click.option("--questions-per-step", default=8, show_default=True, type=click.IntRange(min=1))
@click.option("--seed", default=13, show_default=True, type=int)
@click.option(
    "--lexical-prior",
    default=0.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Weight of the lexical ranker's score added to the reader's logit, in training and when reading: "
    "above 0 the reader learns what word overlap misses (1 adds it as the log-odds it is).",
)
@click.option(
    "--continue-from",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A delta to go on training from, on the --on sets only: the same model (its card's adapted "
    "layers, rank, lexical prior and candidates), the new card keeping its card. New questions then "
    "cost a short training instead of the whole one again.",
)
@click.option(
    "--held-out",
    multiple=True,
    type=TrainingSetType(),
    help="A question set to report the reader's own figures on, in the model card (repeatable), "
    "e.g. questions.jsonl=corpus.jsonl:2/2.",
)
@click.option(
    "--evaluate-only",
    is_flag=True,
    help="Train nothing: compute the --held-out figures of the delta at --out and write them into its card.",
)
@pass_runtime
def train_reader(
    runtime: Runtime,
    sets: tuple[TrainingSet, ...],
    out: Path | None,
    epochs: float,
    candidates: int,
    adapt_from: int,
    rank: int,
    learning_rate: float,
    questions_per_step: int,
    seed: int,
    lexical_prior: float,
    continue_from: Path | None,
    held_out: tuple[TrainingSet, ...],
    evaluate_only: bool,
) -> None:
    """Fit the neural reader (TROLY_READER=neural) and write its delta with a model card."""
    from tqdm import tqdm

    from app.answer.model import AnswerModel
    from app.answer.neural.delta import Delta, Recipe, load_delta, save_delta
    from app.answer.neural.precision import uses_bf16
    from app.answer.neural.tokenizer import E5Tokenizer
    from app.answer.neural.weights import read_base_weights
    from app.evaluation.dataset import load_questions
    from app.evaluation.split import select_part
    from app.tuning.reader_training import (
        Group,
        continuation_recipe,
        default_delta_out,
        delta_of,
        question_group,
        train_delta,
    )
    from app.wiring import answer_model_path

    recipe = Recipe(
        adapt_from=adapt_from,
        rank=rank,
        candidates=candidates,
        questions_per_step=questions_per_step,
        learning_rate=learning_rate,
        seed=seed,
        lexical_prior=lexical_prior,
    )
    start: Delta | None = None
    if continue_from is not None:
        _refuse_model_options_with_continue_from()
        with fail_cleanly():
            start = load_delta(continue_from)
        recipe = continuation_recipe(start.card, learning_rate, questions_per_step, seed)
        candidates = recipe.candidates
    # Candidates are collected as the lexical reader sees them, whatever reader the settings name.
    collecting = Runtime(runtime.settings.model_copy(update={"reader": "lexical"}), runtime.embedder)
    target = out or default_delta_out(runtime.settings.data_dir)
    if evaluate_only:
        with fail_cleanly():
            _write_figures(collecting, target, held_out)
        return
    with fail_cleanly():
        weights = read_base_weights()
        tokenizer = E5Tokenizer(weights)
        lexical = AnswerModel.load(answer_model_path(runtime.settings))
        groups: list[Group] = []
        for corpus in dict.fromkeys(s.corpus for s in sets):  # each corpus indexed once
            with tempfile.TemporaryDirectory(prefix="troly-train-reader-") as scratch:
                assistant = collecting.fresh_assistant(corpus, Path(scratch), untrained=True)
                for s in (s for s in sets if s.corpus == corpus):
                    asked = select_part(load_questions(s.questions), s.part)
                    for q in tqdm(asked, desc=f"candidates {s}", unit="q", disable=None):
                        evidence = assistant.evidence(q.question, q.unit)
                        group = question_group(q, evidence, lexical, tokenizer, candidates)
                        if group is not None:
                            groups.append(group)
        click.echo(f"{len(groups)} questions ({sum(g.answerable for g in groups)} answerable) to train on")
        bf16 = uses_bf16(runtime.settings.reader_precision)
        click.echo(f"the frozen layers run in {'bf16' if bf16 else 'fp32'} (TROLY_READER_PRECISION)")
        tensors, fitted = train_delta(groups, weights, recipe, epochs, bf16=bf16, start=start, progress=click.echo)
        command = shlex.join(["troly", *sys.argv[1:]]) if sys.argv[1:2] == ["train-reader"] else ""
        parent = start.card if start else None
        delta = delta_of(tensors, fitted, weights, [str(s) for s in sets], command, continued_from=parent)
        save_delta(target, delta)
        if held_out:
            _write_figures(collecting, target, held_out)
    click.echo(f"wrote {target} ({target.stat().st_size / 1e6:.1f} MB, {fitted.steps} steps)")


_MODEL_OPTIONS = ("candidates", "adapt_from", "rank", "lexical_prior")


def _refuse_model_options_with_continue_from() -> None:
    """A continued training is the same model as its delta: options that would change it are a
    mistake, not something to ignore silently."""
    ctx = click.get_current_context()
    given = [n for n in _MODEL_OPTIONS if ctx.get_parameter_source(n) == click.core.ParameterSource.COMMANDLINE]
    if given:
        flags = ", ".join("--" + n.replace("_", "-") for n in given)
        raise click.UsageError(f"{flags}: a training with --continue-from takes these from the delta's card")


def _write_figures(runtime: Runtime, delta_path: Path, held_out: tuple[TrainingSet, ...]) -> None:
    """The reader's own figures on each held-out set, over the whole lexical shortlist (no
    margin: they describe the delta, not a serving setting), into the card."""
    from dataclasses import replace

    from tqdm import tqdm

    from app.answer.model import AnswerModel
    from app.answer.neural.delta import load_delta, save_delta
    from app.answer.neural.reader import read_shortlist
    from app.answer.neural.scorer import CrossEncoderScorer
    from app.evaluation.dataset import load_questions
    from app.evaluation.outcomes import contains_answer
    from app.evaluation.split import select_part
    from app.tuning.reader_training import reader_figures
    from app.wiring import answer_model_path

    scorer = CrossEncoderScorer.open(delta_path, precision=runtime.settings.reader_precision)
    lexical = AnswerModel.load(answer_model_path(runtime.settings))
    size = runtime.settings.reader_shortlist
    figures: dict[str, object] = {}
    for s in held_out:
        with tempfile.TemporaryDirectory(prefix="troly-train-reader-") as scratch:
            assistant = runtime.fresh_assistant(s.corpus, Path(scratch), untrained=True)
            asked = select_part(load_questions(s.questions), s.part)
            rows: list[tuple[list[float], list[float], list[bool]]] = []
            for q in tqdm(asked, desc=f"held out {s}", unit="q", disable=None):
                ev = assistant.evidence(q.question, q.unit)
                short = read_shortlist(ev.profile, ev.hits, ev.candidates, lexical, scorer, size)
                rows.append(
                    (
                        [c.features[-1] for c in short],  # the reader's logit, the last feature
                        [lexical.sentence(c.features[:-1]) for c in short],
                        [q.answerable and contains_answer(c.text, q.answers) for c in short],
                    )
                )
        result = reader_figures(asked, rows)
        figures[str(s)] = result.as_dict()
        click.echo(
            f"{s}: best pair answers {result.top1_reader:.1%} (lexical {result.top1_lexical:.1%}) of "
            f"{result.answerable_with_answer_read} answerable; "
            f"AUC {result.auc_reader:.3f} (lexical {result.auc_lexical:.3f})"
        )
    delta = load_delta(delta_path)
    save_delta(delta_path, replace(delta, card=replace(delta.card, figures={**delta.card.figures, **figures})))
