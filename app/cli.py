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
@click.option(
    "--data-dir", type=click.Path(path_type=Path), help="Where data lives [env TROLY_DATA_DIR, default ./index]."
)
@click.version_option(package_name="troly")
@click.pass_context
def main(ctx: click.Context, data_dir: Path | None) -> None:
    """troly: a trợ lý ảo that answers from each unit's own documents, with citations."""
    overrides: dict[str, Any] = {"data_dir": data_dir} if data_dir else {}
    ctx.obj = Settings(**overrides)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--corpus",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Ingest this corpus folder (one sub-folder per unit) before serving.",
)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, corpus: Path | None) -> None:
    """Run the HTTP service (OpenAPI docs at /docs)."""
    import logging

    import uvicorn

    from app.api import create_app
    from app.wiring import open_assistant

    # The same look as uvicorn's own lines: how each unit's indexes were opened, at start.
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every segment build at DEBUG
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
    from app.access import Principal
    from app.wiring import open_access

    access = open_access(assistant.settings)
    for r in results:
        if r.created:
            access.audit(
                Principal("cli", "admin"),
                "document.add",
                unit,
                r.document.id,
                {"title": r.document.title, "passages": r.document.passages},
            )
    created = sum(r.created for r in results)
    click.echo(
        f"{unit}: {created} new, {len(results) - created} already stored, "
        f"{sum(r.document.passages for r in results if r.created)} passages added"
    )


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
        assistant.save_indexes()


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

        out = AskOut(
            id=answer.id,
            answer=answer.answer,
            abstained=answer.abstained,
            confidence=answer.confidence,
            citations=[CitationOut.of(c) for c in answer.citations],
        )
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


class _DefaultGroup(click.Group):
    """``troly eval QUESTIONS`` runs an evaluation; ``troly eval report`` is a subcommand."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in self.commands:
            args = ["run", *args]
        return super().resolve_command(ctx, args)


@main.group(cls=_DefaultGroup)
def eval() -> None:
    """Score answer coverage: `troly eval QUESTIONS [options]`, `troly eval report`, `troly eval trade-off`."""


@eval.command("run")
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
@click.pass_context
def eval_run(
    ctx: click.Context,
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
    from app.evaluation.outcomes import summarise
    from app.evaluation.runner import run
    from app.evaluation.split import select_part
    from app.evaluation.targets import OverHttp, Target

    settings = _settings(ctx)
    with _fail_cleanly(), tempfile.TemporaryDirectory(prefix="troly-eval-") as scratch:
        asked = select_part(load_questions(questions), part)
        target_obj: Target
        if url:
            target_obj, corpus_label = OverHttp(url), url
        else:
            corpus = corpus or Path("corpus")
            target_obj, corpus_label = _fresh_assistant(settings, corpus, Path(scratch), threshold), str(corpus)
        description = target_obj.describe()
        description["part"] = part
        with tqdm(total=len(asked), desc="asking", unit="q", disable=None) as bar:
            records = run(asked, target_obj, top_k=top_k, progress=bar.update)
        summary = summarise(records)
        units = {q.unit for q in asked}
        history = EvalHistory(settings.eval_history_path)
        saved = history.add(
            str(questions), corpus_label, units.pop() if len(units) == 1 else None, description, summary, records
        )
    _print_summary(summary, target, saved.id)
    if fail_under and not summary.meets(target):
        sys.exit(1)


def _fresh_assistant(
    settings: Settings, corpus: Path, scratch: Path, threshold: float | None, untrained: bool = False
) -> Any:
    """``untrained``: for commands that only retrieve or collect features, so that they run even
    when the shipped answer model no longer matches the features (after changing them)."""
    from tqdm import tqdm

    from app.answer.model import AnswerModel
    from app.evaluation.corpus import load_corpus
    from app.evaluation.targets import InProcess
    from app.wiring import open_assistant

    overrides: dict[str, Any] = {"data_dir": scratch}
    if threshold is not None:
        overrides["abstain_threshold"] = threshold
    model = AnswerModel.untrained() if untrained else None
    assistant = open_assistant(settings.model_copy(update=overrides), model)
    with tqdm(desc="indexing corpus", unit="passage", disable=None) as bar:
        load_corpus(assistant, corpus, progress=bar.update)
    return InProcess(assistant)


def _print_summary(summary: Any, target: float, run_id: int) -> None:
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


@eval.command("report")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("eval/report"), show_default=True)
@click.option("--target", default=0.9, show_default=True, type=float)
@click.pass_context
def eval_report(ctx: click.Context, out: Path, target: float) -> None:
    """Write an HTML report with plots of every stored evaluation run."""
    from app.evaluation.history import EvalHistory
    from app.evaluation.report import write_report

    runs = EvalHistory(_settings(ctx).eval_history_path).runs()
    if not runs:
        raise click.ClickException("no evaluation runs yet: run `troly eval QUESTIONS` first")
    click.echo(f"wrote {write_report(runs, out, target)}")


@eval.command("trade-off")
@click.option("--run", "run_id", type=int, help="A stored run's number [default: the latest].")
@click.option(
    "--at",
    "thresholds",
    multiple=True,
    type=click.FloatRange(0.0, 1.0),
    help="A threshold to count at (repeatable) [default: 0, 0.1, ... 0.9 and the run's own].",
)
@click.pass_context
def eval_trade_off(ctx: click.Context, run_id: int | None, thresholds: tuple[float, ...]) -> None:
    """Answer rate and false-answer rate of a stored run had it abstained below each threshold."""
    from app.evaluation.history import EvalHistory
    from app.evaluation.outcomes import trade_off

    runs = EvalHistory(_settings(ctx).eval_history_path).runs()
    if not runs:
        raise click.ClickException("no evaluation runs yet: run `troly eval QUESTIONS` first")
    chosen = runs[-1] if run_id is None else next((r for r in runs if r.id == run_id), None)
    if chosen is None:
        raise click.ClickException(f"no run {run_id}: the stored runs are {runs[0].id} to {runs[-1].id}")
    own = chosen.threshold
    at = sorted(set(thresholds) if thresholds else {i / 10 for i in range(10)} | ({own} if own is not None else set()))
    click.echo(f"run {chosen.id}: {chosen.questions}" + (f", part {p}" if (p := chosen.target.get("part")) else ""))
    click.echo(f"{'threshold':>9}  {'answer rate':>11}  {'false-answer rate':>17}")
    for point in trade_off(chosen.outcome_records(), at):
        mark = "  (the run's)" if own is not None and point.threshold == own else ""
        click.echo(f"{point.threshold:9.3f}  {point.answer_rate:11.1%}  {point.false_answer_rate:17.1%}{mark}")


@main.command()
@click.argument("questions", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--corpus", type=click.Path(exists=True, path_type=Path), required=True)
@click.option("--part", help="Fit on part K/N of the questions only, e.g. 1/2 (report on the others).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the model [default: the package's answer/model.json].",
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
    metavar="QUESTIONS=CORPUS",
    help="Another question set and its corpus to fit on as well (repeatable).",
)
@click.option(
    "--keep-answer-rate",
    "floors",
    multiple=True,
    metavar="QUESTIONS=RATE",
    help="Choose the threshold among those that keep this tuning set's answer rate at RATE or above "
    "(repeatable), e.g. eval/questions/seed.jsonl=0.92.",
)
@click.option(
    "--without",
    multiple=True,
    metavar="FEATURE",
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
@click.pass_context
def tune(
    ctx: click.Context,
    questions: Path,
    corpus: Path,
    part: str | None,
    out: Path | None,
    gap: float,
    false_answer_cost: float,
    more: tuple[str, ...],
    floors: tuple[str, ...],
    without: tuple[str, ...],
    folds: int | None,
) -> None:
    """Fit the sentence ranker, the confidence and the abstention threshold on dev questions."""
    import tempfile
    from dataclasses import replace

    from tqdm import tqdm

    from app.answer.evidence import EVIDENCE_FEATURES
    from app.answer.model import DEFAULT_MODEL_PATH
    from app.evaluation.dataset import load_questions
    from app.evaluation.split import fold_of, select_part
    from app.tuning import training

    settings = _settings(ctx)
    sets = [(questions, corpus)]
    for pair in more:
        q, sep, c = pair.partition("=")
        if not sep or not Path(q).is_file() or not Path(c).exists():
            raise click.BadParameter(f"{pair!r} is not QUESTIONS=CORPUS with both paths existing", param_hint="--also")
        sets.append((Path(q), Path(c)))
    rates: dict[Path, float] = {}
    known = {s.resolve() for s, _ in sets}
    for floor in floors:
        q, sep, rate = floor.partition("=")
        try:
            value = float(rate)
        except ValueError:
            value = -1.0
        if not sep or Path(q).resolve() not in known or not 0.0 <= value <= 1.0:
            raise click.BadParameter(
                f"{floor!r} is not QUESTIONS=RATE with QUESTIONS one of the tuning sets and RATE in [0, 1]",
                param_hint="--keep-answer-rate",
            )
        rates[Path(q).resolve()] = value
    for feature in without:
        if feature not in EVIDENCE_FEATURES:
            raise click.BadParameter(
                f"{feature!r} is not a confidence feature: {', '.join(EVIDENCE_FEATURES)}", param_hint="--without"
            )
    collected: dict[Path, list[training.Example]] = {}
    with _fail_cleanly():
        for set_questions, set_corpus in sets:
            with tempfile.TemporaryDirectory(prefix="troly-tune-") as scratch:
                asked = select_part(load_questions(set_questions), part)
                assistant = _fresh_assistant(settings, set_corpus, Path(scratch), None, untrained=True).assistant
                with tqdm(total=len(asked), desc=f"evidence {set_questions.name}", unit="q", disable=None) as bar:
                    collected[set_questions] = training.collect(assistant, asked, progress=bar.update)
                embedder = assistant.embedder.name
        fit_args: dict[str, Any] = {
            "second_sentence_gap": gap,
            "false_answer_cost": false_answer_cost,
            "without": without,
        }
        if folds is not None:
            held_out = training.cross_validate(
                {str(q): exs for q, exs in collected.items()},
                lambda ex: fold_of(ex.question, folds),
                folds,
                floors={str(q): rates[q.resolve()] for q in collected if q.resolve() in rates},
                **fit_args,
            )
            _print_cross_validation(held_out, folds)
            return
        examples = [ex for exs in collected.values() for ex in exs]
        kept = [(exs, rates[q.resolve()]) for q, exs in collected.items() if q.resolve() in rates]
        label = " + ".join(q.name for q, _ in sets) + (f", part {part}" if part else "")
        model = replace(training.fit(examples, label, floors=kept, **fit_args), embedder=embedder)
    target = out or DEFAULT_MODEL_PATH
    model.save(target)
    click.echo(f"fitted on {len(examples)} questions; threshold {model.threshold:.3f}; wrote {target}")


def _print_cross_validation(held_out: dict[str, Any], folds: int) -> None:
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


@main.command("fusion-grid")
@click.argument("questions", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--corpus", type=click.Path(exists=True, path_type=Path), required=True)
@click.option("--part", help="Only part K/N of the questions, e.g. 1/2 (choose there, report on the others).")
@click.option("--k", "ks", default="10,30,60", show_default=True, help="RRF k values, comma-separated.")
@click.option(
    "--weights",
    default="0.7,1,1.3,1.6,2,3",
    show_default=True,
    help="BM25 weights against the dense retriever's 1, comma-separated.",
)
@click.pass_context
def fusion_grid_command(
    ctx: click.Context, questions: Path, corpus: Path, part: str | None, ks: str, weights: str
) -> None:
    """Passage recall@1/@5 of hybrid retrieval over a grid of RRF k and BM25 weight."""
    import tempfile

    from tqdm import tqdm

    from app.evaluation.dataset import load_questions
    from app.evaluation.fusion_grid import fusion_grid
    from app.evaluation.split import select_part

    try:
        k_values = [int(x) for x in ks.split(",") if x.strip()]
        w_values = [float(x) for x in weights.split(",") if x.strip()]
    except ValueError as exc:
        raise click.BadParameter(f"not a comma-separated list of numbers: {exc}") from exc
    settings = _settings(ctx)
    with _fail_cleanly(), tempfile.TemporaryDirectory(prefix="troly-grid-") as scratch:
        asked = select_part(load_questions(questions), part)
        assistant = _fresh_assistant(settings, corpus, Path(scratch), None, untrained=True).assistant
        with tqdm(total=len(asked), desc="retrieving", unit="q", disable=None) as bar:
            points = fusion_grid(assistant, asked, k_values, w_values, progress=bar.update)
    click.echo(
        f"{questions.name}{f' part {part}' if part else ''}: {points[0].questions} answerable questions"
        if points
        else "no answerable questions"
    )
    click.echo("k\tweight\tR@1\tR@5")
    for p in points:
        click.echo(f"{p.rrf_k}\t{p.lexical_weight:g}\t{p.recall_at_1:.1%}\t{p.recall_at_5:.1%}")


@main.group()
def keys() -> None:
    """Create, list and revoke API keys (shown once, stored as hashes)."""


@keys.command("create")
@click.option("--role", type=click.Choice(["admin", "maintainer", "reader"]), required=True)
@click.option("--unit", "units", multiple=True, help="A unit a maintainer key may change (repeatable).")
@click.pass_context
def keys_create(ctx: click.Context, role: str, units: tuple[str, ...]) -> None:
    from app.access import Principal
    from app.wiring import open_access

    with _fail_cleanly():
        access = open_access(_settings(ctx))
        info, key = access.create_key(role, units)
        access.audit(Principal("cli", "admin"), "key.create", None, info.id, {"role": role, "units": list(units)})
    click.echo(f"id   {info.id}\nrole {info.role}" + (f"\nunits {', '.join(info.units)}" if info.units else ""))
    click.secho(f"key  {key}", bold=True)
    click.echo("The key is shown only now; store it safely.", err=True)


@keys.command("list")
@click.pass_context
def keys_list(ctx: click.Context) -> None:
    from app.wiring import open_access

    for k in open_access(_settings(ctx)).list_keys():
        state = f"revoked {k.revoked_at}" if k.revoked_at else "active"
        click.echo(f"{k.id}\t{k.role}\t{','.join(k.units) or '-'}\t{k.created_at}\t{state}")


@keys.command("revoke")
@click.argument("key_id")
@click.pass_context
def keys_revoke(ctx: click.Context, key_id: str) -> None:
    from app.access import Principal
    from app.wiring import open_access

    with _fail_cleanly():
        access = open_access(_settings(ctx))
        access.revoke(key_id)
        access.audit(Principal("cli", "admin"), "key.revoke", None, key_id)
    click.echo(f"revoked {key_id}")


def _register_bench() -> None:
    from app.bench.cli import bench

    main.add_command(bench)


_register_bench()

if __name__ == "__main__":
    main()
