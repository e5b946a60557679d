"""An HTML report of the evaluation history, with PNG plots (matplotlib): templates/report.html over the
dataclasses below, which read the stored runs' JSON once so that the template sees only typed fields."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from app.evaluation.history import Run
from app.evaluation.outcomes import Outcome, readers_text, trade_off


def _plot_history(runs: list[Run], target: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    for name in sorted({r.questions for r in runs}):
        mine = [r for r in runs if r.questions == name]
        ax.plot([r.id for r in mine], [r.summary["answer_rate"] for r in mine], marker="o", label=Path(name).name)
    ax.axhline(target, color="red", linestyle="--", label=f"target {target:.0%}")
    ax.set_xlabel("evaluation run")
    ax.set_ylabel("answer rate")
    ax.set_ylim(0, 1.02)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Answer rate per run")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_trade_off(run: Run, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = run.outcome_records()
    points = trade_off(records)
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.plot([p.false_answer_rate for p in points], [p.answer_rate for p in points], marker=".")
    # A run over HTTP may not say its threshold: then no dot rather than a guessed one.
    if run.threshold is not None:
        (current,) = trade_off(records, [run.threshold])
        ax.scatter(
            [current.false_answer_rate],
            [current.answer_rate],
            color="red",
            zorder=3,
            s=60,
            label=f"threshold {run.threshold:.3f}",
        )
        ax.legend(loc="lower right")
    ax.set_xlabel("false-answer rate (unanswerable questions answered)")
    ax.set_ylabel("answer rate (answerable questions answered correctly)")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"Abstention trade-off, run {run.id}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


_MISSES = {Outcome.WRONG.value, Outcome.FALSE_ABSTENTION.value, Outcome.FALSE_ANSWER.value}


@dataclass(frozen=True)
class LatestRun:
    """The latest run's figures, for the report's headline and its outcome table."""

    id: int
    created_at: str
    questions: str
    answer_rate: float
    cited_answer_rate: float | None  # runs stored before this figure existed do not have it
    false_answer_rate: float
    unanswerable: int
    recall_at_1: float
    recall_at_5: float
    mrr: float
    latency_p50_ms: float
    latency_p95_ms: float
    outcomes: tuple[tuple[str, int], ...]
    readers: str | None  # "llm 240, lexical (fallback) 16"; None for runs stored before readers were counted

    @classmethod
    def of(cls, run: Run) -> LatestRun:
        s = run.summary
        return cls(
            id=run.id,
            created_at=run.created_at,
            questions=run.questions,
            answer_rate=s["answer_rate"],
            cited_answer_rate=s.get("cited_answer_rate"),
            false_answer_rate=s["false_answer_rate"],
            unanswerable=s["unanswerable"],
            recall_at_1=s["recall_at_1"],
            recall_at_5=s["recall_at_5"],
            mrr=s["mrr"],
            latency_p50_ms=s["latency_p50_ms"],
            latency_p95_ms=s["latency_p95_ms"],
            outcomes=tuple(s["outcomes"].items()),
            readers=readers_text(s["readers"]) if "readers" in s else None,
        )


@dataclass(frozen=True)
class RunRow:
    """One row of the table of every run."""

    id: int
    created_at: str
    questions: str  # the question file's name
    answer_rate: float
    false_answer_rate: float
    recall_at_1: float
    recall_at_5: float
    latency_p50_ms: float
    embedder: str

    @classmethod
    def of(cls, run: Run) -> RunRow:
        s = run.summary
        return cls(
            id=run.id,
            created_at=run.created_at,
            questions=Path(run.questions).name,
            answer_rate=s["answer_rate"],
            false_answer_rate=s["false_answer_rate"],
            recall_at_1=s["recall_at_1"],
            recall_at_5=s["recall_at_5"],
            latency_p50_ms=s["latency_p50_ms"],
            embedder=str(run.target.get("embedder", "")),
        )


@dataclass(frozen=True)
class Miss:
    """A question of the latest run answered wrongly, abstained on wrongly, or answered when it had no answer."""

    outcome: str
    question: str
    expected: str
    answered: str
    confidence: float
    cited: str

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> Miss:
        return cls(
            outcome=record["outcome"],
            question=record["question"],
            expected=" | ".join(record["answers"]) or "—",
            answered=record["answer"] or "(abstained)",
            confidence=record["confidence"],
            cited=record["cited"] or "",
        )


@dataclass(frozen=True)
class ReportPage:
    latest: LatestRun
    target: float
    runs: tuple[RunRow, ...]
    misses: tuple[Miss, ...]

    @property
    def meets(self) -> bool:
        return self.latest.answer_rate >= self.target

    @classmethod
    def of(cls, runs: list[Run], target: float) -> ReportPage:
        latest = runs[-1]
        return cls(
            latest=LatestRun.of(latest),
            target=target,
            runs=tuple(RunRow.of(r) for r in runs),
            misses=tuple(Miss.of(m) for m in latest.records if m["outcome"] in _MISSES),
        )


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("app.evaluation", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        keep_trailing_newline=False,
    )
    env.filters["fmt"] = format  # {{ x | fmt(".1%") }}: Python's own format specs, as the figures elsewhere
    return env


def render(page: ReportPage) -> str:
    return _environment().get_template("report.html").render(page=page)


def write_report(runs: list[Run], out_dir: Path, target: float = 0.9) -> Path:
    """Writes ``index.html`` and its PNGs into ``out_dir``; returns the HTML path."""
    if not runs:
        raise ValueError("no evaluation runs yet: run `troly eval` first")
    out_dir.mkdir(parents=True, exist_ok=True)
    _plot_history(runs, target, out_dir / "answer_rate.png")
    _plot_trade_off(runs[-1], out_dir / "trade_off.png")
    path = out_dir / "index.html"
    path.write_text(render(ReportPage.of(runs, target)), encoding="utf-8")
    return path
